package org.privllm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.privllm.cli.CliTest.assertOneLineError;
import static org.privllm.cli.CliTest.run;
import static org.privllm.cli.LlamaCliTest.ok;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.PlainDecoderOps;
import org.privllm.tensor.PackedWeight;
import org.privllm.tensor.Reachable;

/**
 * {@code --weights native|f32} from the command line (issue 14): a {@code fixture --dtype bf16|f16} checkpoint run with
 * its weights kept at half width gives the logits of the same weights widened to float32 (the bound is 1e-2;
 * the kernels promise bit for bit) and the same greedy ids; {@code bench --json} says which precision and GEMM ran.
 */
class HalfWeightsCliTest {
    @TempDir static Path tmp;

    private static final String PROMPT = "5,17,3,99,250,42,7,7,120,64,1,200"; // 12 tokens: the GEMM's row tiles and blocks

    /** A small random checkpoint of {@code arch} stored as {@code dtype}. */
    static Path fixture(String arch, String dtype) {
        Path out = tmp.resolve(arch + "-" + dtype);
        CliTest.Run r = run("fixture", "--arch", arch, "--out", out.toString(), "--layers", "2", "--hidden", "64", "--heads", "4",
                "--vocab", "300", "--positions", "64", "--dtype", dtype, "--seed", "11");
        assertThat(r.code()).as(r.err()).isZero();
        return out;
    }

    static double maxAbsDiff(JsonNode a, JsonNode b) {
        assertThat(a.size()).isEqualTo(b.size());
        double max = 0;
        for (int r = 0; r < a.size(); r++) {
            assertThat(a.get(r).size()).isEqualTo(b.get(r).size());
            for (int v = 0; v < a.get(r).size(); v++) {
                max = Math.max(max, Math.abs(a.get(r).get(v).asDouble() - b.get(r).get(v).asDouble()));
            }
        }
        return max;
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"gpt2,bf16", "llama,bf16", "gpt2,f16", "qwen3,f16"})
    void nativeHalfWeightsGiveTheF32Logits(String arch, String dtype) throws Exception {
        Path m = fixture(arch, dtype);
        JsonNode half = ok("logits", "--model", m.toString(), "--input-ids", PROMPT, "--weights", "native", "--json").get("logits");
        JsonNode wide = ok("logits", "--model", m.toString(), "--input-ids", PROMPT, "--weights", "f32", "--json").get("logits");
        JsonNode dflt = ok("logits", "--model", m.toString(), "--input-ids", PROMPT, "--json").get("logits");
        assertThat(half.size()).isEqualTo(12);
        double diff = maxAbsDiff(half, wide);
        assertThat(diff).isLessThan(1e-2);
        assertThat(diff).as("the same weights, the same float32 multiply-adds").isZero();
        assertThat(dflt).isEqualTo(wide);

        JsonNode g1 = LlamaCliTest.generate(m, PROMPT, 8, "--weights", "native");
        JsonNode g2 = LlamaCliTest.generate(m, PROMPT, 8, "--weights", "f32");
        assertThat(g1.get("output_ids")).isEqualTo(g2.get("output_ids"));
    }

    @Test
    void benchReportsTheWeightPrecisionAndTheGemm() throws Exception {
        Path m = fixture("gpt2", "bf16");
        String[] args = {"bench", "--model", m.toString(), "--prompt-tokens", "9", "--new-tokens", "4", "--reps", "1", "--json"};
        JsonNode half = ok(LlamaCliTest.concat(args, "--weights", "native"));
        JsonNode wide = ok(LlamaCliTest.concat(args, "--weights", "f32"));
        assertThat(half.get("weights").asText()).isEqualTo("bf16");
        assertThat(wide.get("weights").asText()).isEqualTo("f32");
        assertThat(half.get("gemm").asText()).startsWith("java-vector-");
        double halfMb = half.get("weights_mb_per_decode_step").asDouble(), wideMb = wide.get("weights_mb_per_decode_step").asDouble();
        assertThat(halfMb).as("half the bytes (rounded to 0.1 MB)").isBetween(0.35 * wideMb, 0.65 * wideMb);

        JsonNode f32 = ok("bench", "--model", fixture("llama", "f32").toString(), "--prompt-tokens", "9", "--new-tokens", "4",
                "--reps", "1", "--json");
        assertThat(f32.get("weights").asText()).as("a float32 checkpoint stays float32").isEqualTo("f32");
        JsonNode dflt = ok(args);
        assertThat(dflt.get("weights").asText()).as("native is the default").isEqualTo("bf16");
    }

    /**
     * The engine generate, logits and bench run without --privacy (and --check's reference) holds its linear weights
     * packed only: from the model options, the model and the engine, no float32 values but the embedding tables (the
     * token table only if the head is not tied to it), norms and biases are reachable, with a private adapter merged
     * or without.
     */
    @ParameterizedTest(name = "{0} lora={1}")
    @CsvSource({"gpt2,false", "llama,false", "llama,true"})
    void thePlaintextEngineKeepsNoFloat32LinearWeight(String arch, boolean lora) {
        Path m = fixture(arch, "bf16");
        ModelOptions model = new ModelOptions();
        model.model = m;
        EngineOptions engine = new EngineOptions();
        if (lora) {
            engine.lora = tmp.resolve(arch + "-lora");
            assertThat(run("fixture", "--lora", engine.lora.toString(), "--model", m.toString(), "--r", "2").code()).isZero();
        }
        DecoderModel loaded = model.load();
        DecoderForward f = engine.plainForward(loaded);
        DecoderConfig c = loaded.config();
        long tables = (c.tiedHead() ? 0 : (long) c.vocab() * c.hidden()) + (f.weights().positionEmbeddings() != null
                ? (long) c.positions() * c.hidden() : 0);
        long floats = Reachable.floatArrays(Reachable.from(List.of(PackedWeight.class), model, loaded, f)).stream()
                .mapToLong(a -> a.length).sum();
        assertThat(floats).as("the embedding tables a packed head is not, norms and biases")
                .isBetween(tables, tables + (long) c.hidden() * c.hidden());
        assertThat(((PlainDecoderOps) f.ops()).weightPrecision()).isEqualTo(lora ? "bf16+f32" : "bf16");
    }

    @Test
    void anUnknownWeightsValueIsOneLine() {
        Path m = fixture("gpt2", "bf16");
        assertOneLineError(run("logits", "--model", m.toString(), "--input-ids", "1,2", "--weights", "f8", "--json"),
                "--weights must be native or f32");
    }
}
