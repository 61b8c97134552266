package org.privllm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.privllm.cli.CliTest.assertOneLineError;
import static org.privllm.cli.CliTest.run;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.untrusted.server.ExecutorOptions;
import org.privllm.untrusted.server.ExecutorServerMain;

/** The {@code --privacy} switch from the command line: defaults, the levels' answers, executors, and their errors. */
class PrivacyCliTest {
    @TempDir static Path tmp;
    static Path model;

    @BeforeAll
    static void fixture() {
        model = tmp.resolve("m");
        CliTest.Run r = run("fixture", "--out", model.toString(), "--layers", "2", "--embd", "32", "--heads", "4", "--vocab",
                "50257", "--positions", "40", "--seed", "3");
        assertThat(r.code()).isZero();
    }

    static JsonNode generate(String... extra) throws Exception {
        String[] base = {"generate", "--model", model.toString(), "--input-ids", "464,2068,7586;15496", "--max-new-tokens", "8", "--json"};
        String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        CliTest.Run r = run(args);
        assertThat(r.code()).as(r.err()).isZero();
        return r.json();
    }

    @Test
    void everyLevelGivesThePlaintextAnswerAndObfuscateMeansStrong() throws Exception {
        JsonNode plain = generate();
        for (String[] level : new String[][] {{"--privacy", "strong"}, {"--privacy", "two-party"}, {"--privacy", "seed"},
                {"--obfuscate"}, {"--privacy", "strong", "--pad-pool", "4"}}) {
            String[] args = java.util.Arrays.copyOf(level, level.length + 1);
            args[level.length] = "--check";
            JsonNode j = generate(args);
            assertThat(j.get("output_ids")).as(String.join(" ", level)).isEqualTo(plain.get("output_ids"));
            assertThat(j.get("max_logit_abs_err").asDouble()).isLessThan(1e-4);
        }
    }

    /**
     * Two executor processes, each recording what it receives: two-party generation through them gives the
     * plaintext ids, and the attacks on either party's recorded view find nothing.
     */
    @Test
    void twoPartyOverTwoExecutorProcessesAndTheirTranscripts() throws Exception {
        Path ta = tmp.resolve("ta"), tb = tmp.resolve("tb"), truth = tmp.resolve("truth.jsonl"), out = tmp.resolve("leak");
        var a = ExecutorServerMain.start(options(ta));
        var b = ExecutorServerMain.start(options(tb));
        JsonNode plain = generate();
        try {
            JsonNode j = generate("--privacy", "two-party", "--executor", "127.0.0.1:" + a.port(), "--share-executor",
                    "127.0.0.1:" + b.port(), "--check");
            assertThat(j.get("output_ids")).isEqualTo(plain.get("output_ids"));
            assertThat(j.get("max_logit_abs_err").asDouble()).isLessThan(1e-4);
            Files.writeString(truth, Json.MAPPER.writeValueAsString(j) + "\n");
            assertOneLineError(run("generate", "--model", model.toString(), "--input-ids", "1", "--privacy", "two-party",
                    "--executor", "127.0.0.1:" + a.port()), "--share-executor");
        } finally {
            a.close();
            b.close();
        }
        for (int party = 0; party < 2; party++) {
            Path t = party == 0 ? ta : tb;
            CliTest.Run r = run("experiment", "leakage", "--model", model.toString(), "--privacy", "two-party", "--transcript",
                    t.toString(), "--truth", truth.toString(), "--party", Integer.toString(party), "--no-all-layers", "--out",
                    out.resolve("p" + party).toString());
            assertThat(r.code()).as(r.err()).isZero();
            JsonNode row = Json.MAPPER.readTree(out.resolve("p" + party).resolve("blinded-leakage.json").toFile()).path("rows").get(0);
            assertThat(row.path("config").asText()).contains(party == 0 ? "party A" : "party B").contains("transcript");
            assertThat(row.path("prompt_tokens").asInt()).isEqualTo(4);
            assertThat(row.path("matched_filter_l0").asDouble()).isZero();
            assertThat(row.path("output_next_input").asDouble()).isZero();
            assertThat(row.path("hidden_r2_l0").isNumber()).as("the reconstruction attack ran").isTrue();
            assertThat(row.path("hidden_r2_l0").asDouble()).isLessThan(0.05);
        }
    }

    @Test
    void anExecutorAddressAloneMeansTheStrongLevel() throws Exception {
        var c = ExecutorServerMain.start(options(tmp.resolve("tc")));
        try {
            JsonNode j = generate("--executor", "127.0.0.1:" + c.port(), "--check");
            assertThat(j.get("output_ids")).isEqualTo(generate().get("output_ids"));
        } finally {
            c.close();
        }
        // what it recorded is the strong level's view: float64 linear inputs only
        assertThat(Files.readString(tmp.resolve("tc").resolve("index.jsonl"))).contains("\"linear64\"")
                .doesNotContain("\"attention\"").doesNotContain("\"linear\"");
    }

    static ExecutorOptions options(Path transcript) {
        return ExecutorOptions.loopback(transcript);
    }

    @Test
    void benchReportsTheLevelsWork() throws Exception {
        CliTest.Run r = run("bench", "--model", model.toString(), "--prompt-tokens", "8", "--new-tokens", "4", "--reps", "1",
                "--privacy", "two-party", "--json", "--profile");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = r.json();
        assertThat(j.get("privacy").asText()).isEqualTo("two-party");
        // the share is of the measured runs only (the profile's extra runs came after and are not counted)
        assertThat(j.get("trusted_time_share").asDouble()).isBetween(0.0, 1.0);
        assertThat(j.path("profile").path("prefill").path("wall_ms").asDouble()).isPositive();
        // the calibrated prediction: two wide passes plus the pad draws measured here (on the request path)
        assertThat(j.get("pad_value_ns").asDouble()).isPositive();
        assertThat(j.get("calibrated_prefill_time_ratio").asDouble()).isGreaterThan(2 * 2.0);
        assertThat(j.get("calibrated_decode_time_ratio").asDouble()).isGreaterThan(2.0);
        assertThat(j.get("trusted_flops").asLong()).isPositive().isLessThan(j.get("plaintext_flops").asLong());
        assertThat(j.get("trusted_kv_bytes").asLong()).isPositive();
        assertThat(j.get("boundary")).hasSize(2);
        assertThat(j.path("trusted_attention_per_token").path("1024").path("kv_bytes").asLong()).isEqualTo(2L * 2 * 1024 * 32 * 4);
    }

    @Test
    void optionMistakesAreOneLineErrors() {
        String m = model.toString();
        assertOneLineError(run("generate", "--model", m, "--input-ids", "1", "--privacy", "paranoid"), "--privacy must be");
        assertOneLineError(run("generate", "--model", m, "--input-ids", "1", "--privacy", "strong", "--mode", "pad"),
                "configure --privacy seed");
        assertOneLineError(run("generate", "--model", m, "--input-ids", "1", "--privacy", "two-party", "--pad-pool", "3"),
                "strong only");
        assertOneLineError(run("generate", "--model", m, "--input-ids", "1", "--privacy", "seed", "--pad-ratio", "10"),
                "--pad-ratio");
        assertOneLineError(run("generate", "--model", m, "--input-ids", "1", "--privacy", "strong", "--share-executor",
                "127.0.0.1:1"), "--share-executor is the second party");
        assertOneLineError(run("generate", "--model", m, "--input-ids", "1", "--privacy", "strong", "--pad-ratio", "-1"),
                "positive");
        assertOneLineError(run("experiment", "leakage", "--model", m, "--privacy", "strong", "--masks", "perm", "--out",
                tmp.resolve("x").toString()), "no masks");
    }
}
