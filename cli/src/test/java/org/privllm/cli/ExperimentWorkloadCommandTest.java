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
        // plain, trusted_nonlinear, masked × 2 modes × 4 families, two modelled strategies
        assertThat(rows).hasSize(12);
        assertThat(rows.findValuesAsText("strategy")).contains("plain", "trusted_nonlinear", "masked",
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
        assertThat(rows).hasSize(5);
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
    }
}
