package org.privllm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;

/**
 * The experiments agree with {@code verify} and {@code bench} (issue 6): a seeded {@code experiment summary} gives
 * exactly {@code verify --json}'s rows per mode, and {@code experiment workload}'s counted boundary traffic of a
 * protected level's row ({@code masked}, the seed level; {@code strong}; {@code two-party}, both executors) is exactly
 * what {@code bench --privacy LEVEL} reports as its {@code "boundary"} for a request of the same shape, with the same
 * predicted time ratios.
 */
class AgreementTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir static Path dir;
    static Path model;

    @BeforeAll
    static void write() {
        model = dir.resolve("model");
        Fixture.write(model, Gpt2Config.of(2, 16, 2, 50, 32), 5);
    }

    /**
     * Runs the CLI in a fresh JVM with the JIT as a user has it. The check is exact: two identical runs once
     * differed by an ulp in decode rows (LayerNorm's {@code reduceLanes(ADD)} and the Vector API's SVML-backed
     * Gaussian draws gave other last bits once C2 had compiled them), so this ran without C2; every kernel now gives
     * the same bits compiled or not ({@code CompiledEqualsInterpretedTest}, {@code TierDeterminismTest}).
     */
    static String forked(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", args)).isZero();
        return out;
    }

    @Test
    void summaryRowsAreVerifyRows() throws Exception {
        Path out = dir.resolve("summary");
        forked("experiment", "summary", "--model", model.toString(), "--masks", "block:4", "--out", out.toString(), "--seed", "11");
        JsonNode summary = JSON.readTree(out.resolve("summary.json").toFile()).path("rows");
        for (String mode : List.of("mask", "pad")) {
            List<JsonNode> verifyRows = new ArrayList<>();
            for (String line : forked("verify", "--model", model.toString(), "--mode", mode, "--masks", "block:4",
                    "--seed", "11", "--json").lines().toList()) {
                verifyRows.add(JSON.readTree(line));
            }
            List<JsonNode> summaryRows = new ArrayList<>();
            for (JsonNode row : summary) {
                if (row.path("mode").asText().equals(mode) && !row.path("stage").asText().equals("generation")) {
                    assertThat(row.path("masks").asText()).isEqualTo("block:4");
                    ObjectNode copy = row.deepCopy();
                    copy.remove(List.of("mode", "masks", "lora"));
                    summaryRows.add(copy);
                }
            }
            assertThat(summaryRows).as(mode).hasSizeGreaterThan(25).isEqualTo(verifyRows);
        }
    }

    @Test
    void workloadBoundaryCountsAndPredictionsAreBenchs() throws Exception {
        Path out = dir.resolve("workload");
        VerifyCommandTest.Run w = VerifyCommandTest.run("experiment", "workload", "--model", model.toString(),
                "--prompt-tokens", "6", "--new-tokens", "3", "--families", "perm,block:8", "--modes", "mask,pad", "--reps", "1",
                "--out", out.toString(), "--seed", "4");
        assertThat(w.code()).as(w.err()).isZero();
        JsonNode rows = JSON.readTree(out.resolve("workload.json").toFile()).path("rows");
        JsonNode agreement = JSON.readTree(out.resolve("workload-bench-agreement.json").toFile()).path("bench_agreement");
        int compared = 0;
        for (JsonNode row : rows) {
            String strategy = row.path("strategy").asText();
            if (!List.of("masked", "strong", "two-party").contains(strategy)) {
                continue;
            }
            String mode = row.path("mode").asText(), family = row.path("family").asText();
            List<String> args = new ArrayList<>(List.of("bench", "--model", model.toString(), "--prompt-tokens", "6",
                    "--new-tokens", "3", "--reps", "1", "--json"));
            args.addAll(strategy.equals("masked") ? List.of("--obfuscate", "--mode", mode, "--masks", family)
                    : List.of("--privacy", strategy));
            VerifyCommandTest.Run b = VerifyCommandTest.run(args.toArray(String[]::new));
            assertThat(b.code()).as(b.err()).isZero();
            JsonNode bench = JSON.readTree(b.out());
            JsonNode boundary = summed(bench.path("boundary"));
            String what = strategy + " " + mode + "/" + family;
            assertThat(row.path("counted").asText()).isEqualTo("live run");
            assertThat(row.path("round_trips").asLong()).as(what).isEqualTo(boundary.path("round_trips").asLong()).isPositive();
            assertThat(row.path("bytes_to_executor").asLong()).as(what).isEqualTo(boundary.path("bytes_to_executor").asLong());
            assertThat(row.path("bytes_from_executor").asLong()).as(what).isEqualTo(boundary.path("bytes_from_executor").asLong());
            assertThat(row.path("meter_round_trips").asLong()).as(what).isEqualTo(boundary.path("round_trips").asLong());
            assertThat(row.path("meter_agrees").asBoolean()).as(what).isTrue();
            assertThat(row.path("predicted_prefill_time_ratio").asDouble()).as(what)
                    .isEqualTo(bench.path("predicted_prefill_time_ratio").asDouble());
            assertThat(row.path("predicted_decode_time_ratio").asDouble()).as(what)
                    .isEqualTo(bench.path("predicted_decode_time_ratio").asDouble());
            assertThat(row.path("prefill_time_ratio").asDouble()).as(what).isPositive();
            assertThat(row.path("decode_time_ratio").asDouble()).as(what).isPositive();
            compared++;
        }
        assertThat(compared).isEqualTo(6);
        // the agreement file has the protected levels' rows and the other live row with an executor (trusted_nonlinear)
        assertThat(agreement.findValuesAsText("strategy")).containsExactlyInAnyOrder("trusted_nonlinear",
                "masked", "masked", "masked", "masked", "strong", "two-party");
        for (JsonNode a : agreement) {
            assertThat(a.path("meter_agrees").asBoolean()).as(a.toString()).isTrue();
            assertThat(a.path("counted_boundary")).isEqualTo(a.path("meter_boundary"));
        }
    }

    /** Bench's boundary: one executor's summary, or (two-party) each executor's, summed here. */
    static JsonNode summed(JsonNode boundary) {
        if (!boundary.isArray()) {
            return boundary;
        }
        ObjectNode sum = JSON.createObjectNode();
        for (String k : List.of("round_trips", "bytes_to_executor", "bytes_from_executor")) {
            long total = 0;
            for (JsonNode party : boundary) {
                total += party.path(k).asLong();
            }
            sum.put(k, total);
        }
        return sum;
    }

    @Test
    void planFamiliesAreCountedFromThePlanAndSaySo() throws Exception {
        Path out = dir.resolve("planned");
        VerifyCommandTest.Run w = VerifyCommandTest.run("experiment", "workload", "--model", model.toString(),
                "--prompt-tokens", "4", "--new-tokens", "2", "--families", "perm,orthogonal", "--modes", "mask",
                "--plan-families", "orthogonal", "--reps", "1", "--out", out.toString());
        assertThat(w.code()).as(w.err()).isZero();
        JsonNode rows = JSON.readTree(out.resolve("workload.json").toFile()).path("rows");
        for (JsonNode row : rows) {
            if (row.path("family").asText().equals("orthogonal")) {
                assertThat(row.path("counted").asText()).isEqualTo("plan");
                assertThat(row.path("not_run_because").asText()).contains("--plan-families");
                assertThat(row.path("measured_s").isNull()).isTrue();
                assertThat(row.path("projected_total_s").asDouble()).isPositive();
                assertThat(row.path("predicted_decode_time_ratio").asDouble()).isGreaterThan(1);
            } else if (row.path("family").asText().equals("perm")) {
                assertThat(row.path("counted").asText()).isEqualTo("live run");
                assertThat(row.path("not_run_because").isNull()).isTrue();
            }
        }
        assertThat(java.nio.file.Files.readString(out.resolve("workload.md")))
                .contains("m:orth*", "not run: named in --plan-families", "## Agreement with bench");
    }
}
