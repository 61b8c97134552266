package org.privllm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.Activation;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.trusted.lora.LoraAdapter;

/** {@code privllm verify} and {@code privllm experiment summary|attention} end to end on a tiny generated model. */
class VerifyCommandTest {
    static final Gpt2Config C = new Gpt2Config(2, 8, 2, 32, 40, 48, 1e-5f, Activation.GELU_NEW, true, false, 39);
    @TempDir static Path dir;
    static Path model, lora;

    @BeforeAll
    static void write() {
        model = dir.resolve("model");
        lora = dir.resolve("lora");
        Fixture.write(model, C, 4);
        LoraAdapter.writeRandom(lora, C.layers(), C.embd(), C.inner(), 2, 4f, List.of("c_attn", "c_fc"), 8);
    }

    record Run(int code, String out, String err) {}

    static synchronized Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void verifyPrintsOneJsonRowPerCheckAndWritesTables() throws Exception {
        Path out = dir.resolve("verify-out");
        Run r = run("verify", "--model", model.toString(), "--json", "--seed", "3", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSizeGreaterThan(25);
        ObjectMapper json = new ObjectMapper();
        for (String line : lines) {
            JsonNode row = json.readTree(line);
            assertThat(row.properties()).extracting(java.util.Map.Entry::getKey)
                    .containsExactly("stage", "check", "max_abs_err", "mean_abs_err", "allclose");
            assertThat(row.path("allclose").asBoolean()).as(line).isTrue();
        }
        for (String f : List.of("verify.json", "verify.csv", "verify.md")) {
            assertThat(out.resolve(f)).isNotEmptyFile();
        }
        assertThat(json.readTree(out.resolve("verify.json").toFile()).path("rows").size()).isEqualTo(lines.size());
    }

    @Test
    void verifyWithAdapterInPadMode() {
        Run r = run("verify", "--model", model.toString(), "--lora", lora.toString(), "--mode", "pad", "--masks", "perm");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("stage1_lora").contains("h.0.attn.c_attn r=2").doesNotContain("FAIL");
    }

    @Test
    void badOptionsGiveOneLineErrors() {
        Run mode = run("verify", "--model", model.toString(), "--mode", "both");
        assertThat(mode.code()).isNotZero();
        assertThat(mode.err().strip()).startsWith("error: ").contains("--mode").doesNotContain("\n");
        Run adapter = run("verify", "--model", model.toString(), "--lora", dir.resolve("missing").toString());
        assertThat(adapter.code()).isNotZero();
        assertThat(adapter.err().strip()).startsWith("error: ").doesNotContain("\n");
        Run pad = run("experiment", "attention", "--model", model.toString(), "--pad", "maybe", "--out", dir.resolve("x").toString());
        assertThat(pad.code()).isNotZero();
        assertThat(pad.err().strip()).isEqualTo("error: --pad: 'maybe' is not off or on");
    }

    @Test
    void experimentsWriteEveryFile() throws Exception {
        Path summary = dir.resolve("summary");
        Run s = run("experiment", "summary", "--model", model.toString(), "--out", summary.toString(), "--seed", "2");
        assertThat(s.code()).as(s.err()).isZero();
        assertThat(new ObjectMapper().readTree(s.out()).path("all_passed").asBoolean()).isTrue();
        for (String f : List.of("summary.json", "summary.csv", "summary.md", "summary.png", "summary.svg")) {
            assertThat(summary.resolve(f)).isNotEmptyFile();
        }
        JsonNode run = new ObjectMapper().readTree(summary.resolve("summary.json").toFile()).path("run");
        assertThat(run.path("command").asText()).startsWith("privllm experiment summary --model");
        assertThat(run.path("seed").asLong()).isEqualTo(2);

        Path attention = dir.resolve("attention");
        Run a = run("experiment", "attention", "--model", model.toString(), "--batch", "1,2", "--seq", "2,4",
                "--decode", "1,2", "--pad", "off,on", "--out", attention.toString());
        assertThat(a.code()).as(a.err()).isZero();
        for (String f : List.of("attention.json", "attention.csv", "attention.md", "attention-decode-1.png",
                "attention-decode-1.svg", "attention-decode-2.png", "attention-decode-2.svg")) {
            assertThat(attention.resolve(f)).isNotEmptyFile();
        }
        // no seed given: none recorded
        assertThat(new ObjectMapper().readTree(attention.resolve("attention.json").toFile()).path("run").has("seed")).isFalse();
        assertThat(Files.readString(attention.resolve("attention.csv"))).startsWith("batch,seq,decode,pad,step,qk_scores");
    }
}
