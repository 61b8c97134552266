package org.privllm.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderModel;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.model.tokenizer.Tokenizer;
import org.privllm.tensor.Matrix;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true, description = "The main job: the same greedy generation in plaintext and obfuscated on the untrusted "
        + "executor, side by side, with the largest logit error and what crossed the trust boundary.")
final class DemoCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();

    @Option(names = "--prompt", defaultValue = "Once upon a time", paramLabel = "TEXT",
            description = "The prompt the untrusted executors never see (default: ${DEFAULT-VALUE}).")
    String prompt;

    @Option(names = "--max-new-tokens", defaultValue = "48")
    int maxNewTokens;

    @Mixin EngineOptions engine = new EngineOptions();

    @Override
    public Integer call() throws Exception {
        engine.obfuscate = true;
        DecoderModel m = model.load();
        DecoderConfig c = m.config();
        Tokenizer tok = model.tokenizer();
        List<int[]> prompts = Prompts.resolve(tok != null ? prompt : null, tok != null ? null : defaultIds(c.vocab()), tok);
        List<Matrix> plainLogits = new ArrayList<>(), maskedLogits = new ArrayList<>();
        Generator.Result plain = new Generator(engine.plainForward(m))
                .generate(prompts, maxNewTokens, Sampling.GREEDY, -1, null, plainLogits::add);
        java.util.Map<String, Object> boundary = new java.util.LinkedHashMap<>();
        Generator.Result masked;
        try {
            masked = engine.withEngine(m, e -> {
                long uploaded = e.meter().bytesToExecutor();
                e.meter().reset();
                maskedLogits.clear();
                Generator.Result r = new Generator(e.forward())
                        .generate(prompts, maxNewTokens, Sampling.GREEDY, -1, null, maskedLogits::add);
                boundary.putAll(e.meter().summary());
                boundary.put("weights_uploaded_bytes_once_per_session", uploaded);
                return r;
            });
        } finally {
            engine.closeEndpoints();
        }
        int[] a = plain.outputIds().get(0), b = masked.outputIds().get(0);
        System.out.println("model:       " + model.dir() + " (" + c.architecture().modelType() + ", " + c.layers()
                + " layers, hidden " + c.hidden() + ", " + c.heads() + " heads" + (c.kvHeads() != c.heads() ? " (" + c.kvHeads()
                + " kv)" : "") + ", vocab " + c.vocab() + ")");
        System.out.println("privacy:     " + describe(engine));
        System.out.println("prompt ids:  " + GenerateCommand.join(prompts.get(0)));
        System.out.println("plaintext:   " + GenerateCommand.join(java.util.Arrays.copyOfRange(a, prompts.get(0).length, a.length)));
        System.out.println("protected:   " + GenerateCommand.join(java.util.Arrays.copyOfRange(b, prompts.get(0).length, b.length)));
        if (tok != null) {
            System.out.println("plaintext text: " + tok.decode(a, true).replace("\n", "\\n"));
            System.out.println("protected text: " + tok.decode(b, true).replace("\n", "\\n"));
        }
        boolean same = java.util.Arrays.equals(a, b);
        System.out.println("identical:   " + (same ? "yes" : "NO"));
        System.out.printf("max |logit error|: %.3g over %d steps x %d vocab%n", Checks.maxAbsError(plainLogits, maskedLogits),
                maskedLogits.size(), c.vocab());
        System.out.println("boundary:    " + Json.MAPPER.writeValueAsString(boundary));
        System.out.printf("speed:       plaintext %.1f tok/s decode, protected %.1f tok/s decode (cold JVM: use bench for speed)%n",
                plain.decodeTokensPerSecond(), masked.decodeTokensPerSecond());
        return same ? 0 : 1;
    }

    /** Without a tokenizer: "The quick brown" in GPT-2 ids, folded into a smaller vocabulary. */
    static String defaultIds(int vocab) {
        return java.util.stream.IntStream.of(464, 2068, 7586).map(i -> i % vocab).mapToObj(String::valueOf)
                .collect(java.util.stream.Collectors.joining(","));
    }

    /** One line on what the executors see at this level (no secrets). */
    static String describe(EngineOptions engine) {
        return switch (engine.level()) {
            case SEED -> "seed (" + engine.obfuscationConfig().mode().toString().toLowerCase() + " mode, " + engine.masks
                    + " masks; leaks the prompt to an executor that knows the public weights), " + engine.executorName() + " executor";
            case STRONG -> "strong (every linear input padded ~10^6x its size, attention and KV cache trusted), "
                    + engine.executorName() + " executor";
            case TWO_PARTY -> "two-party (additive shares on two non-colluding executors, attention and KV cache trusted), "
                    + engine.executorName() + " executors";
        };
    }
}
