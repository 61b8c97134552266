package org.privllm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;

/** {@code privllm experiment workload} on a tiny generated model writes every result file. */
class ExperimentWorkloadCommandTest {

    @Test
    void writesTablesAssumptionsAndChart(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("model"), out = tmp.resolve("out");
        Fixture.write(model, Gpt2Config.of(2, 16, 2, 50, 32), 3);
        int rc = Main.run("experiment", "workload", "--model", model.toString(), "--prompt-tokens", "5", "--new-tokens", "3",
                "--tee-slowdown", "2", "--link-gbps", "1", "--call-latency-us", "100", "--out", out.toString(), "--seed", "9");
        assertThat(rc).isZero();
        for (String f : new String[] {"workload.json", "workload.csv", "workload.md", "workload-assumptions.json", "workload-breakdown.json",
                "workload-time.png", "workload-time.svg"}) {
            assertThat(out.resolve(f)).isNotEmptyFile();
        }
        JsonNode doc = new ObjectMapper().readTree(out.resolve("workload.json").toFile());
        assertThat(doc.at("/run/seed").asLong()).isEqualTo(9);
        JsonNode rows = doc.get("rows");
        // plain, trusted_nonlinear, masked × 2 modes × 4 families (the seed level), strong, two-party, two modelled strategies
        assertThat(rows).hasSize(14);
        assertThat(rows.findValuesAsText("strategy")).contains("plain", "trusted_nonlinear", "masked", "strong", "two-party",
                "masked_gpu_nonlinear", "amulet_reference");
        for (JsonNode r : rows) {
            assertThat(r.get("projected_total_s").asDouble()).isPositive();
            if (r.get("counted").asText().equals("live run")) {
                assertThat(r.get("plan_matches_count").asBoolean()).as(r.toString()).isTrue();
                assertThat(r.get("ids_match_plain").asBoolean()).as(r.toString()).isTrue();
            }
        }
        assertThat(Files.readString(out.resolve("workload.md"))).contains("## Assumptions", "amulet_reference:");
    }

    @Test
    void planOnlyCountsEveryStrategyWithoutRunning(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("model"), out = tmp.resolve("out");
        Fixture.write(model, Gpt2Config.of(1, 8, 2, 20, 16), 3);
        int rc = Main.run("experiment", "workload", "--model", model.toString(), "--plan-only", "--prompt-tokens", "4",
                "--new-tokens", "2", "--families", "perm", "--modes", "mask", "--out", out.toString());
        assertThat(rc).isZero();
        JsonNode rows = new ObjectMapper().readTree(out.resolve("workload.json").toFile()).get("rows");
        // plain, trusted_nonlinear, masked mask/perm, strong, two-party, the two modelled strategies
        assertThat(rows).hasSize(7);
        for (JsonNode r : rows) {
            assertThat(r.get("counted").asText()).isEqualTo("plan");
            assertThat(r.get("untrusted_flops").asLong()).isPositive();
        }
    }

    @Test
    void rejectsBadParameters(@TempDir Path tmp) {
        Path model = tmp.resolve("model");
        Fixture.write(model, Gpt2Config.of(1, 8, 2, 20, 16), 3);
        assertThat(Main.run("experiment", "workload", "--model", model.toString(), "--prompt-tokens", "10",
                "--new-tokens", "10", "--out", tmp.resolve("o").toString())).isEqualTo(1);
        assertThat(Main.run("experiment", "workload", "--model", model.toString(), "--modes", "xor",
                "--out", tmp.resolve("o").toString())).isEqualTo(1);
        assertThat(Main.run("experiment", "workload", "--model", model.toString(), "--privacy", "strong,secret",
                "--out", tmp.resolve("o").toString())).isEqualTo(1);
        // the seed level's options without the seed level
        assertThat(Main.run("experiment", "workload", "--model", model.toString(), "--privacy", "strong", "--modes", "pad",
                "--out", tmp.resolve("o").toString())).isEqualTo(1);
    }

    /**
     * A Llama-family model (a random Qwen3: RMSNorm, RoPE, grouped key/value heads, SwiGLU, q/k norms, attention
     * biases) at every privacy level: every live row gives plaintext's ids, equals its plan and bench's meter, and the
     * breakdown names the family's own stages.
     */
    @Test
    void runsOnALlamaFamilyModelAtEveryLevel(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("qwen3"), out = tmp.resolve("out");
        assertThat(Main.run("fixture", "--arch", "qwen3", "--layers", "2", "--hidden", "16", "--heads", "4",
                "--kv-heads", "2", "--head-dim", "8", "--inner", "24", "--vocab", "40", "--positions", "32",
                "--attention-bias", "--out", model.toString())).isZero();
        int rc = Main.run("experiment", "workload", "--model", model.toString(), "--prompt-tokens", "5", "--new-tokens", "3",
                "--families", "perm,block:4", "--reps", "1", "--out", out.toString(), "--seed", "2");
        assertThat(rc).isZero();
        JsonNode doc = new ObjectMapper().readTree(out.resolve("workload.json").toFile());
        assertThat(doc.at("/run/model/model_type").asText()).isEqualTo("qwen3");
        assertThat(doc.at("/run/model/num_key_value_heads").asInt()).isEqualTo(2);
        JsonNode rows = doc.get("rows");
        // plain, trusted_nonlinear, masked × 2 modes × 2 families, strong, two-party, two modelled strategies
        assertThat(rows).hasSize(10);
        assertThat(rows.findValuesAsText("strategy")).containsExactly("plain", "trusted_nonlinear", "masked", "masked",
                "masked", "masked", "strong", "two-party", "masked_gpu_nonlinear", "amulet_reference");
        int live = 0;
        for (JsonNode r : rows) {
            assertThat(r.get("untrusted_flops").asLong()).as(r.toString()).isPositive();
            assertThat(r.get("projected_total_s").asDouble()).as(r.toString()).isPositive();
            if (r.get("counted").asText().equals("live run")) {
                live++;
                assertThat(r.get("plan_matches_count").asBoolean()).as(r.toString()).isTrue();
                assertThat(r.get("ids_match_plain").asBoolean()).as(r.toString()).isTrue();
                if (!r.get("strategy").asText().equals("plain")) {
                    assertThat(r.get("meter_agrees").asBoolean()).as(r.toString()).isTrue();
                }
            }
        }
        assertThat(live).isEqualTo(8);
        JsonNode breakdown = new ObjectMapper().readTree(out.resolve("workload-breakdown.json").toFile()).get("rows");
        JsonNode plain = breakdown.get(0).get("untrusted_flops_by_op");
        for (String op : new String[] {"rms_norm", "rope", "qk_norm", "silu_gating", "attention_core"}) {
            assertThat(plain.has(op)).as(op).isTrue();
        }
        assertThat(plain.has("layernorm")).isFalse();
        JsonNode strong = breakdown.get(6);
        assertThat(strong.get("strategy").asText()).isEqualTo("strong");
        assertThat(strong.get("trusted_flops_by_op").has("pad_products")).isTrue();
        assertThat(strong.get("trusted_flops_by_op").has("attention_core")).isTrue();
        assertThat(strong.get("untrusted_flops_by_op").has("linear64")).isTrue();
        assertThat(breakdown.get(7).get("trusted_flops_by_op").has("pad_products")).isFalse(); // two-party
        assertThat(Files.readString(out.resolve("workload.md"))).contains("strong", "two-party", "RoPE");
    }

    /** The real stories260k, only the blinded levels ({@code --privacy strong,two-party}: no masked rows). */
    @Test
    void storiesAtTheBlindedLevelsOnly(@TempDir Path tmp) throws Exception {
        Path s = Path.of(System.getProperty("privllm.shared", "../shared")).resolve("fixtures").resolve("stories260k");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(s.resolve("config.json")), "stories260k absent");
        Path out = tmp.resolve("out");
        int rc = Main.run("experiment", "workload", "--model", s.toString(), "--privacy", "strong,two-party",
                "--prompt-tokens", "6", "--new-tokens", "3", "--reps", "1", "--out", out.toString(), "--seed", "3");
        assertThat(rc).isZero();
        JsonNode rows = new ObjectMapper().readTree(out.resolve("workload.json").toFile()).get("rows");
        assertThat(rows.findValuesAsText("strategy")).containsExactly("plain", "trusted_nonlinear", "strong", "two-party",
                "masked_gpu_nonlinear", "amulet_reference");
        for (JsonNode r : rows) {
            if (r.get("counted").asText().equals("live run")) {
                assertThat(r.get("plan_matches_count").asBoolean()).as(r.toString()).isTrue();
                assertThat(r.get("ids_match_plain").asBoolean()).as(r.toString()).isTrue();
            }
        }
    }
}
