package org.privllm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.privllm.cli.CliTest.run;
import static org.privllm.cli.LlamaCliTest.concat;
import static org.privllm.cli.LlamaCliTest.generate;
import static org.privllm.cli.LlamaCliTest.ok;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.testing.Cases;
import org.privllm.untrusted.server.ExecutorServerMain;

/**
 * The seed level on the Llama family from the command line: {@code generate --privacy seed --check} on random
 * llama/mistral/qwen2/qwen3 checkpoints (GQA from one KV head to one per head, head_dim ≠ hidden/heads, biases, q/k
 * norms, tied and untied, llama3 rope scaling) in mask and pad mode, every mask family, both scopes, with a pad
 * pool and with a Llama-named adapter — ids identical, logits within 1e-3; over an executor process whose
 * transcript shows what the executor sees; the real stories260k at every mode and family; {@code verify} and the
 * experiments on a Llama model.
 */
class SeedLlamaCliTest {
    @TempDir static Path tmp;
    static Path qwen3;

    @BeforeAll
    static void fixture() {
        qwen3 = tmp.resolve("qwen3");
        CliTest.Run r = run("fixture", "--arch", "qwen3", "--out", qwen3.toString(), "--layers", "2", "--hidden", "24",
                "--heads", "4", "--kv-heads", "2", "--head-dim", "8", "--inner", "40", "--vocab", "150", "--positions", "64",
                "--attention-bias", "--seed", "8");
        assertThat(r.code()).as(r.err()).isZero();
    }

    /**
     * The seed run equals plaintext: ids exact (against a separate plaintext run too) and {@code --check}'s largest
     * logit error within 1e-3 (Gaussian masks: their error grows with their condition number, so the ids alone).
     */
    static void assertSeedMatchesPlaintext(Path model, String ids, String family, String... extra) throws Exception {
        String[] lora = extra.length > 1 && extra[0].equals("--lora") ? new String[] {extra[0], extra[1]} : new String[0];
        JsonNode plain = generate(model, ids, lora);
        JsonNode j = generate(model, ids, concat(extra, "--privacy", "seed", "--masks", family, "--check"));
        assertThat(j.get("output_ids")).as(family + " " + String.join(" ", extra)).isEqualTo(plain.get("output_ids"));
        if (!family.startsWith("gaussian")) {
            assertThat(j.get("max_logit_abs_err").asDouble()).as(family + " " + String.join(" ", extra)).isLessThan(1e-3);
        }
    }

    static Stream<Arguments> everyFamilyAtTheSeedLevelMatchesPlaintext() {
        return Cases.of(10, 61_000, d -> {
            String arch = d.oneOf("llama", "mistral", "qwen2", "qwen3");
            int kv = d.intIn(1, 3), heads = kv * d.intIn(1, 3);
            List<String> args = new ArrayList<>(List.of("--arch", arch, "--layers", String.valueOf(d.intIn(1, 2)), "--hidden",
                    String.valueOf(d.oneOf(16, 24)), "--heads", String.valueOf(heads), "--kv-heads", String.valueOf(kv),
                    "--head-dim", String.valueOf(d.oneOf(4, 6, 8, 12)), "--inner", String.valueOf(d.intIn(8, 40)), "--vocab",
                    String.valueOf(d.intIn(30, 300)), "--positions", "48", "--dtype", d.oneOf("f32", "f16", "bf16"),
                    "--rope-theta", d.oneOf("10000", "500000"), "--seed", String.valueOf(d.intIn(0, 1000))));
            if (d.bool()) {
                args.add("--tied");
            }
            if (d.bool()) {
                args.addAll(List.of("--rope-scaling", "llama3:" + d.oneOf("2", "8") + ":1:4:32"));
            }
            if ((arch.equals("llama") || arch.equals("qwen3")) && d.bool()) {
                args.add("--attention-bias");
            }
            String mode = d.oneOf("mask", "pad"), scope = d.oneOf("session", "call");
            List<String> seed = new ArrayList<>(List.of("--mode", mode, "--scope", scope, "--mask-seed", String.valueOf(d.intIn(1, 99))));
            if (mode.equals("pad") && scope.equals("session") && d.bool()) {
                seed.addAll(List.of("--pad-pool", "4"));
            }
            String targets = d.rnd().nextInt(3) > 0 ? null : d.oneOf("q_proj", "k_proj,v_proj", "q_proj,o_proj,up_proj",
                    "gate_proj,down_proj", "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj");
            return new Object[] {args, d.oneOf("orthogonal", "gaussian", "block:4", "perm"), seed, targets};
        });
    }

    @ParameterizedTest(name = "[{index}] {0} masks={1} {2} lora={3}")
    @MethodSource
    void everyFamilyAtTheSeedLevelMatchesPlaintext(List<String> fixture, String family, List<String> seed, String targets,
                                                   @TempDir Path dir) throws Exception {
        Path m = dir.resolve("m");
        CliTest.Run w = run(concat(new String[] {"fixture", "--out", m.toString()}, fixture.toArray(String[]::new)));
        assertThat(w.code()).as(w.err()).isZero();
        int vocab = Integer.parseInt(fixture.get(fixture.indexOf("--vocab") + 1));
        String ids = (7 % vocab) + "," + (11 % vocab) + "," + (29 % vocab) + ";" + (3 % vocab);
        List<String> extra = new ArrayList<>(seed);
        if (targets != null) {
            Path lora = dir.resolve("lora");
            CliTest.Run l = run("fixture", "--lora", lora.toString(), "--model", m.toString(), "--r", "2", "--targets", targets);
            assertThat(l.code()).as(l.err()).isZero();
            extra.addAll(0, List.of("--lora", lora.toString()));
        }
        assertSeedMatchesPlaintext(m, ids, family, extra.toArray(String[]::new));
    }

    /**
     * Over an executor process, verified (Freivalds, attention checksums): the plaintext ids; its transcript holds the
     * Qwen3 round trip (a linear call, then attention on given rows) with the head geometry, the public positions and
     * the rotary frequencies, and the masked adapter uploads.
     */
    @Test
    void overAnExecutorProcessWithAnAdapter() throws Exception {
        Path lora = tmp.resolve("qwen3-lora");
        assertThat(run("fixture", "--lora", lora.toString(), "--model", qwen3.toString(), "--r", "3").code()).isZero();
        Path t = tmp.resolve("transcript");
        var server = ExecutorServerMain.start(PrivacyCliTest.options(t));
        try {
            JsonNode plain = generate(qwen3, "1,2,3;4", "--lora", lora.toString());
            for (String mode : List.of("mask", "pad")) {
                JsonNode j = generate(qwen3, "1,2,3;4", "--lora", lora.toString(), "--privacy", "seed", "--mode", mode,
                        "--executor", "127.0.0.1:" + server.port(), "--check");
                assertThat(j.get("output_ids")).as(mode).isEqualTo(plain.get("output_ids"));
                assertThat(j.get("max_logit_abs_err").asDouble()).as(mode).isLessThan(1e-3);
            }
        } finally {
            server.close();
        }
        List<JsonNode> calls = new ArrayList<>();
        for (String line : Files.readAllLines(t.resolve("index.jsonl"))) {
            calls.add(Json.MAPPER.readTree(line));
        }
        List<JsonNode> attention = calls.stream().filter(c -> c.get("call").asText().equals("attention")).toList();
        assertThat(attention).isNotEmpty().allSatisfy(c -> {
            JsonNode a = c.get("args");
            assertThat(a.get("qkv").asLong()).as("q/k norm: attention on given rows").isEqualTo(-1);
            assertThat(a.get("heads").asInt()).isEqualTo(4);
            assertThat(a.get("kv_heads").asInt()).isEqualTo(2);
            assertThat(a.get("head_dim").asInt()).isEqualTo(8);
            assertThat(a.get("positions").size()).isEqualTo(c.get("tensors").get(0).get("shape").get(0).asInt());
            assertThat(c.get("tensors").toString()).contains("rope_inverse_frequencies").contains("<f8");
        });
        // the prefill of the second (left-padded) sequence: positions 0, 0, 0, 0 then 0, 1, 2 for the first
        assertThat(attention.get(0).get("args").get("positions").toString()).isEqualTo("[0,1,2,0,0,0]");
        assertThat(calls.stream().filter(c -> c.get("call").asText().equals("upload_linear")
                && c.get("tensors").toString().contains("loraA")).count()).as("masked adapters, per session").isPositive();
    }

    /** The real stories260k (skipped when absent) at every mode and mask family, and per-call scope with an adapter. */
    @Test
    void stories260kAtEveryModeAndFamily() throws Exception {
        Path s = Path.of(System.getProperty("privllm.shared", "../shared")).resolve("fixtures").resolve("stories260k");
        Assumptions.assumeTrue(Files.exists(s.resolve("config.json")), "stories260k absent");
        for (String mode : List.of("mask", "pad")) {
            for (String family : List.of("orthogonal", "gaussian", "block:16", "perm")) {
                assertSeedMatchesPlaintext(s, "1,403,407,261;1,68", family, "--mode", mode);
            }
        }
        Path lora = tmp.resolve("stories-lora");
        assertThat(run("fixture", "--lora", lora.toString(), "--model", s.toString(), "--r", "4", "--targets",
                "q_proj,v_proj,gate_proj,down_proj").code()).isZero();
        assertSeedMatchesPlaintext(s, "1,403,407,261;1,68", "orthogonal", "--lora", lora.toString(), "--mode", "pad",
                "--scope", "call");
        JsonNode text = ok("generate", "--model", s.toString(), "--prompt", "Once upon a time", "--max-new-tokens", "12",
                "--json", "--privacy", "seed", "--check");
        assertThat(text.get("texts").get(0).asText()).contains("Once upon a time");
        assertThat(text.get("max_logit_abs_err").asDouble()).isLessThan(1e-3);
    }

    /** verify at the seed level on a Llama-family model: every stage passes, with the new stages' checks, with an adapter. */
    @Test
    void verifyChecksTheNewStagesAtTheSeedLevel() throws Exception {
        Path lora = tmp.resolve("verify-lora");
        assertThat(run("fixture", "--lora", lora.toString(), "--model", qwen3.toString(), "--r", "2").code()).isZero();
        for (String mode : List.of("mask", "pad")) {
            CliTest.Run v = run("verify", "--model", qwen3.toString(), "--privacy", "seed", "--mode", mode, "--seed", "4",
                    "--lora", lora.toString(), "--json");
            assertThat(v.code()).as(v.out() + v.err()).isZero();
            assertThat(v.out()).contains("stage1_linear", "stage1_lora", "stage2_block", "stage3_cache", "stage4_module",
                    "rms_norm (attention input, with gamma)", "q/k norm (trusted round trip", "RoPE(q~),RoPE(k~) vs RoPE(q).N_Q",
                    "across positions", "2 kv heads shared by groups of 2", "[gate | up]", "silu gating", "o_proj",
                    "layers.0.[gate | up]", "\"check\":\"layers.1\"")
                    .doesNotContain("\"allclose\":false").doesNotContain("h.0.");
        }
    }

    /** The summary and the attention sweep run on a Llama-family model (RoPE, GQA, q/k norm) and pass. */
    @Test
    void summaryAndAttentionExperimentsRunOnTheLlamaFamily() throws Exception {
        JsonNode s = ok("experiment", "summary", "--model", qwen3.toString(), "--out", tmp.resolve("summary").toString(),
                "--seed", "3");
        assertThat(s.get("all_passed").asBoolean()).isTrue();
        assertThat(Files.readString(tmp.resolve("summary").resolve("summary.csv"))).contains("across positions")
                .contains("q/k norm");
        JsonNode a = ok("experiment", "attention", "--model", qwen3.toString(), "--out", tmp.resolve("attention").toString(),
                "--batch", "1,2", "--seq", "3,9", "--decode", "1,3", "--seed", "3");
        assertThat(a.get("all_close").asBoolean()).isTrue();
        // per (batch, prompt length, padding) a prefill row and one per decode step: (1 + 1) + (1 + 3)
        assertThat(a.get("rows").asInt()).isEqualTo(2 * 2 * 2 * (2 + 4));
    }
}
