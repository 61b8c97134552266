package org.privllm.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.Gpt2Model;
import org.privllm.model.PlainOps;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.model.tokenizer.Gpt2Tokenizer;
import org.privllm.protocol.Executor;
import org.privllm.server.http.OpenAiServer;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PrivacyLevel;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.untrusted.InProcessExecutor;

/**
 * A small GPT-2 with GPT-2's real vocabulary and tokenizer and a simple chat template, written once per test
 * JVM; servers over it; and the reference: what {@code privllm generate} computes for one prompt (the same
 * engine construction as cli's EngineOptions, the same {@link Generator} call, the same eos).
 */
public final class Fixtures {
    private Fixtures() {}

    public static final String CHAT_TEMPLATE = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
            + "{% if add_generation_prompt %}assistant:{% endif %}";

    private static Path model;
    private static Path bare;

    /** 2 layers, 64 wide, 128 positions, GPT-2's 50257-token vocabulary, vocab.json/merges.txt and a chat template. */
    public static synchronized Path model() {
        if (model == null) {
            try {
                Path dir = Files.createTempDirectory("privllm-serve-fixture").resolve("gpt2-tiny");
                Fixture.write(dir, Gpt2Config.of(2, 64, 4, 50257, 128), 7);
                Gpt2Tokenizer.writeGpt2Files(dir);
                Files.writeString(dir.resolve("tokenizer_config.json"), new com.fasterxml.jackson.databind.ObjectMapper()
                        .writeValueAsString(Map.of("chat_template", CHAT_TEMPLATE, "eos_token", "<|endoftext|>")));
                model = dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return model;
    }

    /** The same model without tokenizer files or chat template (token-id prompts only). */
    public static synchronized Path bareModel() {
        if (bare == null) {
            try {
                Path dir = Files.createTempDirectory("privllm-serve-bare").resolve("gpt2-bare");
                Fixture.write(dir, Gpt2Config.of(2, 64, 4, 50257, 128), 7);
                bare = dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return bare;
    }

    private static Gpt2Tokenizer tokenizer;
    private static Gpt2Model loaded;

    public static synchronized Gpt2Tokenizer tokenizer() {
        if (tokenizer == null) {
            tokenizer = Gpt2Tokenizer.load(model());
        }
        return tokenizer;
    }

    static synchronized Gpt2Model loaded() {
        if (loaded == null) {
            loaded = Gpt2Model.load(model());
        }
        return loaded;
    }

    /**
     * The new tokens {@code privllm generate} produces for {@code prompt} ({@code --input-ids} or the encoded
     * {@code --prompt}) at {@code level} (null: plaintext), in-process executors.
     */
    public static synchronized int[] generate(int[] prompt, int maxNew, Sampling sampling, PrivacyLevel level) {
        Generator.Result r = new Generator(engine(level)).generate(List.of(prompt), maxNew, sampling, tokenizer().eosId(), null);
        int[] out = r.outputIds().get(0);
        return Arrays.copyOfRange(out, prompt.length, out.length);
    }

    private static final Map<PrivacyLevel, Gpt2Forward> ENGINES = new java.util.HashMap<>();
    private static Gpt2Forward plain;

    /**
     * EngineOptions' engine at {@code level} on in-process executors, opened once per test JVM and reused (generate
     * restarts the KV cache per call; pads are fresh per call, so reuse changes nothing at strong and two-party).
     */
    private static Gpt2Forward engine(PrivacyLevel level) {
        Gpt2Model m = loaded();
        if (level == null) {
            if (plain == null) {
                plain = new Gpt2Forward(m.config(), m.weights(), new PlainOps(m.config(), m.weights()));
            }
            return plain;
        }
        if (level == PrivacyLevel.SEED) {
            throw new IllegalArgumentException("seed-level references need a fresh session per run");
        }
        return ENGINES.computeIfAbsent(level, l -> {
            List<Executor> parties = new ArrayList<>();
            for (int p = 0; p < l.parties(); p++) {
                parties.add(new InProcessExecutor());
            }
            return new Gpt2Forward(m.config(), m.weights(), TrustedAttentionDecoder.blinded(m.decoder().config(),
                    m.decoder().weights(), Map.of(), parties, BlindingConfig.of(l)));
        });
    }

    /** The text a client should see for generate's new tokens: the stop token itself produces none. */
    public static synchronized String text(int[] newTokens) {
        Gpt2Tokenizer tok = tokenizer();
        int n = newTokens.length;
        if (n > 0 && newTokens[n - 1] == tok.eosId()) {
            n--;
        }
        return tok.decode(Arrays.copyOf(newTokens, n));
    }

    /** A running server from {@code privllm serve} arguments (port 0), with its log captured. */
    public static final class Running implements AutoCloseable {
        public final OpenAiServer server;
        public final ByteArrayOutputStream log = new ByteArrayOutputStream();
        public final String readyLine;

        public Running(String... args) {
            ServeCommand cmd = new ServeCommand();
            new picocli.CommandLine(cmd).parseArgs(args);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            this.server = cmd.start(new PrintStream(out, true), new PrintStream(log, true));
            this.readyLine = out.toString().strip();
        }

        public String base() {
            return (server.tls() ? "https" : "http") + "://127.0.0.1:" + server.port();
        }

        public String log() {
            return log.toString();
        }

        @Override
        public void close() {
            server.close();
        }
    }

    /** {@code serve --model FIXTURE --listen 127.0.0.1:0 ARGS}. */
    public static Running serve(String... args) {
        List<String> a = new ArrayList<>(List.of("--model", model().toString(), "--listen", "127.0.0.1:0"));
        a.addAll(List.of(args));
        return new Running(a.toArray(String[]::new));
    }
}
