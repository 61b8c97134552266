package org.privllm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command contract: JSON shapes, and one `error:` line with a non-zero exit for bad input. */
class CliTest {
    @TempDir static Path tmp;
    static Path model;

    record Run(int code, String out, String err) {
        JsonNode json() throws Exception {
            return Json.MAPPER.readTree(out);
        }
    }

    static synchronized Run runWithInput(String stdin, String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        InputStream oldIn = System.in;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
            System.setIn(oldIn);
        }
    }

    static Run run(String... args) {
        return runWithInput("", args);
    }

    @BeforeAll
    static void fixture() {
        model = tmp.resolve("m");
        Run r = run("fixture", "--out", model.toString(), "--layers", "2", "--embd", "32", "--heads", "4", "--vocab", "50257",
                "--positions", "40", "--seed", "3");
        assertThat(r.code()).isZero();
    }

    static void assertOneLineError(Run r, String fragment) {
        assertThat(r.code()).isNotZero();
        assertThat(r.err().strip()).startsWith("error: ").contains(fragment).doesNotContain("\n").doesNotContain("Exception");
    }

    @Test
    void generateJsonContract() throws Exception {
        Run r = run("generate", "--model", model.toString(), "--input-ids", "1,2,3;4,5", "--max-new-tokens", "5", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("output_ids")).hasSize(2);
        assertThat(j.get("output_ids").get(0)).hasSize(8);
        assertThat(j.get("output_ids").get(1).get(0).asInt()).isEqualTo(4);
        assertThat(j.get("texts")).hasSize(2);
        assertThat(j.has("prefill_tokens_per_s") && j.has("decode_tokens_per_s")).isTrue();
    }

    @Test
    void obfuscatedGenerateMatchesPlaintextWithCheck() throws Exception {
        Run plain = run("generate", "--model", model.toString(), "--prompt", "Hello World", "--max-new-tokens", "6", "--json");
        Run obf = run("generate", "--model", model.toString(), "--prompt", "Hello World", "--max-new-tokens", "6", "--json",
                "--obfuscate", "--mode", "pad", "--masks", "block:8", "--check");
        assertThat(obf.code()).as(obf.err()).isZero();
        assertThat(obf.json().get("output_ids")).isEqualTo(plain.json().get("output_ids"));
        assertThat(obf.json().get("max_logit_abs_err").asDouble()).isLessThan(1e-3);
        assertThat(plain.json().get("output_ids").get(0).get(0).asInt()).isEqualTo(15496); // "Hello"
    }

    @Test
    void logitsContract() throws Exception {
        Run r = run("logits", "--model", model.toString(), "--input-ids", "1,2,3", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.json().get("logits")).hasSize(3);
        assertThat(r.json().get("logits").get(0)).hasSize(50257);
    }

    @Test
    void tokenizeRoundTrip() throws Exception {
        Run enc = runWithInput("\"The quick brown fox.\"\n\"Hello World\"\n", "tokenize", "--model", model.toString());
        assertThat(enc.code()).as(enc.err()).isZero();
        assertThat(enc.out().strip().split("\n")).containsExactly("[464,2068,7586,21831,13]", "[15496,2159]");
        Run dec = runWithInput("[464,2068,7586,21831,13]\n", "tokenize", "--model", model.toString(), "--decode");
        assertThat(dec.out().strip()).isEqualTo("\"The quick brown fox.\"");
    }

    @Test
    void streamedTextIsTheDecodeOfPromptAndContinuation() throws Exception {
        Run text = run("generate", "--model", model.toString(), "--prompt", "Hello World", "--max-new-tokens", "6");
        Run json = run("generate", "--model", model.toString(), "--prompt", "Hello World", "--max-new-tokens", "6", "--json");
        assertThat(text.code()).as(text.err()).isZero();
        assertThat(text.out()).isEqualTo(json.json().get("texts").get(0).asText() + System.lineSeparator());
    }

    @Test
    void badInputGivesOneLineErrors() throws Exception {
        assertOneLineError(run("generate", "--model", tmp.resolve("nope").toString(), "--input-ids", "1"), "not a directory");
        assertOneLineError(run("generate", "--model", model.toString(), "--input-ids", "1,99999"), "out of range");
        assertOneLineError(run("generate", "--model", model.toString(), "--input-ids", "1,x"), "not a token id");
        StringBuilder longPrompt = new StringBuilder("1");
        for (int i = 0; i < 45; i++) {
            longPrompt.append(",1");
        }
        assertOneLineError(run("generate", "--model", model.toString(), "--input-ids", longPrompt.toString()),
                "longer than n_positions 40");
        assertOneLineError(run("generate", "--model", model.toString(), "--input-ids", "1", "--masks", "dct", "--obfuscate"),
                "dct");
        assertOneLineError(run("generate", "--model", model.toString(), "--input-ids", "1", "--top-p", "2"), "--top-p");
        assertOneLineError(run("generate", "--model", model.toString(), "--bogus"), "bogus");
        // a bad engine option is the only output: checked before the prompt is printed
        for (String[] bad : new String[][] {{"--privacy", "bogus", "--privacy must be"}, {"--pad-ratio", "-1", "positive"},
                {"--lora", tmp.resolve("no-adapter").toString(), "adapter_config.json"},
                {"--executor", "notaport", "HOST:PORT"}, {"--row-bucket", "0", "--row-bucket"}}) {
            Run r = run("generate", "--model", model.toString(), "--prompt", "Hello World", bad[0], bad[1]);
            assertOneLineError(r, bad[2]);
            assertThat(r.out()).as(String.join(" ", bad)).isEmpty();
        }
        // an option that configures a level makes the run protected; it is never silently ignored by plaintext
        for (String[] option : new String[][] {{"--masks", "perm"}, {"--mode", "pad"}, {"--pad-ratio", "1024"},
                {"--mask-seed", "5"}}) {
            Run r = run("generate", "--model", model.toString(), "--input-ids", "1,2", "--max-new-tokens", "2", "--check",
                    option[0], option[1]);
            assertThat(r.code()).as(String.join(" ", option) + ": " + r.err()).isZero();
            assertThat(r.err()).contains("max_logit_abs_err");
        }
        Path broken = tmp.resolve("broken");
        Files.createDirectories(broken);
        Files.copy(model.resolve("model.safetensors"), broken.resolve("model.safetensors"));
        Files.writeString(broken.resolve("config.json"), Files.readString(model.resolve("config.json"))
                .replace("gelu_new", "swiglu"));
        assertOneLineError(run("logits", "--model", broken.toString(), "--input-ids", "1"), "unknown activation_function 'swiglu'");
        byte[] st = Files.readAllBytes(model.resolve("model.safetensors"));
        Files.write(broken.resolve("model.safetensors"), java.util.Arrays.copyOf(st, st.length / 2));
        Files.copy(model.resolve("config.json"), broken.resolve("config.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertOneLineError(run("logits", "--model", broken.toString(), "--input-ids", "1"), "outside the data section");
    }

    @Test
    void loraFixtureRunsObfuscatedAndChangesOutput() throws Exception {
        Path lora = tmp.resolve("lora");
        assertThat(run("fixture", "--lora", lora.toString(), "--model", model.toString(), "--r", "4").code()).isZero();
        Run base = run("generate", "--model", model.toString(), "--input-ids", "5,6,7", "--max-new-tokens", "6", "--json");
        Run plain = run("generate", "--model", model.toString(), "--input-ids", "5,6,7", "--max-new-tokens", "6", "--json",
                "--lora", lora.toString());
        Run obf = run("generate", "--model", model.toString(), "--input-ids", "5,6,7", "--max-new-tokens", "6", "--json",
                "--lora", lora.toString(), "--obfuscate", "--check");
        assertThat(obf.code()).as(obf.err()).isZero();
        assertThat(obf.json().get("output_ids")).isEqualTo(plain.json().get("output_ids"));
        assertThat(obf.json().get("max_logit_abs_err").asDouble()).isLessThan(1e-3);
        assertThat(plain.json().get("output_ids")).isNotEqualTo(base.json().get("output_ids"));
    }

    /**
     * The user's workflow for attacking a real executor's view: run an executor with {@code --transcript},
     * generate through it, then {@code experiment leakage --transcript --truth} scores the attacks.
     */
    @Test
    void leakageAttacksWhatARealExecutorRecorded() throws Exception {
        Path transcript = tmp.resolve("transcript"), out = tmp.resolve("leak"), truth = tmp.resolve("truth.jsonl");
        var server = org.privllm.untrusted.server.ExecutorServerMain.start(
                org.privllm.untrusted.server.ExecutorOptions.loopback(transcript));
        try {
            String address = "127.0.0.1:" + server.port();
            StringBuilder lines = new StringBuilder();
            int seed = 5; // seeded masks: the rates asserted below do not depend on a lucky draw
            for (String ids : new String[] {"464,2068,7586,21831,18045", "464,2068,7586,21831,18045;40,716,257", "1212,318,257"}) {
                Run g = run("generate", "--model", model.toString(), "--input-ids", ids, "--max-new-tokens", "3", "--json",
                        "--obfuscate", "--masks", "block:8", "--mask-seed", Integer.toString(seed++), "--executor", address);
                assertThat(g.code()).as(g.err()).isZero();
                lines.append(g.out().strip()).append('\n');
            }
            Files.writeString(truth, lines);
        } finally {
            server.close();
        }
        Run r = run("experiment", "leakage", "--model", model.toString(), "--transcript", transcript.toString(),
                "--truth", truth.toString(), "--masks", "block:8", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode row = Json.MAPPER.readTree(out.resolve("leakage.json").toFile()).path("rows").get(0);
        assertThat(row.path("config").asText()).isEqualTo("mask/block:8/session (transcript)");
        assertThat(row.path("prompt_runs").asInt()).isEqualTo(4);
        assertThat(row.path("trusted_sessions").asInt()).isEqualTo(3);
        assertThat(row.path("prompt_tokens").asInt()).isEqualTo(16);
        // block masks keep per-block norms: vocabulary matching reads the prompts; the repeated prompt links
        assertThat(row.path("l0_token_rate").asDouble()).isGreaterThanOrEqualTo(0.9);
        assertThat(row.path("link_auc_scores").asDouble()).isEqualTo(1.0);
        // c_attn's structure gives the layer-0 mask and the head readout the generated tokens, whatever the family
        assertThat(row.path("mask_recovery").asText()).isEqualTo("structure");
        assertThat(row.path("recovered_token_rate").asDouble()).isEqualTo(1.0);
        assertThat(row.path("readout_token_rate").asDouble()).isEqualTo(1.0);
        assertThat(Files.readString(out.resolve("leakage.json"))).doesNotContain("464,2068");

        assertOneLineError(run("experiment", "leakage", "--model", model.toString(), "--transcript", transcript.toString(),
                "--truth", truth.toString(), "--out", out.toString()), "--masks");
        assertOneLineError(run("experiment", "leakage", "--model", model.toString(), "--transcript", transcript.toString(),
                "--masks", "perm", "--out", out.toString()), "go together");
        assertOneLineError(run("experiment", "leakage", "--model", model.toString(), "--transcript", transcript.toString(),
                "--truth", truth.toString(), "--masks", "perm", "--count", "5", "--out", out.toString()), "--count is for the grid run");
        assertOneLineError(run("experiment", "leakage", "--model", model.toString(), "--transcript", transcript.toString(),
                "--truth", truth.toString(), "--masks", "perm", "--seed", "5", "--out", out.toString()), "--seed is for the grid run");
        assertOneLineError(run("experiment", "leakage", "--model", model.toString(), "--masks", "perm", "--out", out.toString()),
                "--masks is for --transcript");
        Files.writeString(truth, Files.readString(truth).lines().findFirst().orElseThrow());
        assertOneLineError(run("experiment", "leakage", "--model", model.toString(), "--transcript", transcript.toString(),
                "--truth", truth.toString(), "--masks", "block:8", "--out", out.toString()), "--truth holds 1 sequences, the transcript 4");
        assertOneLineError(run("experiment", "leakage", "--model", model.toString(), "--transcript", tmp.toString(),
                "--truth", truth.toString(), "--masks", "block:8", "--out", out.toString()), "index.jsonl");
    }
}
