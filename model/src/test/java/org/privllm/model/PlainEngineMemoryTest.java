package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.privllm.model.generate.Generator;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.tensor.Reachable;

/**
 * The plaintext engine over a checkpoint keeps its linear weights packed and nothing else of them (issue 14):
 * once it is built, no float32 copy of a linear weight or of an untied LM head is reachable from it or from the
 * opened model (nor the token table when the packed head is tied to it), every one it was handed can be
 * collected, and its logits are bit for bit those of an engine over the float32 weights.
 */
class PlainEngineMemoryTest {
    @TempDir static Path tmp;

    private static final int[] PROMPT = {5, 17, 3, 99, 250, 42, 7, 7, 120};

    /** A small random checkpoint: GPT-2 (tied head), Llama (untied) or Qwen3 (tied, per-head norms), as {@code dtype}. */
    static Path fixture(String arch, String dtype) {
        Path out = tmp.resolve(arch + "-" + dtype);
        SafeTensors.DType t = SafeTensors.DType.valueOf(dtype.toUpperCase(java.util.Locale.ROOT));
        if (arch.equals("gpt2")) {
            Fixture.write(out, Gpt2Config.of(2, 64, 4, 300, 64), 11, t, 1);
        } else {
            Architecture a = Architecture.byName(arch);
            Fixture.write(out, new LlamaFixture.Spec(a, 2, 64, 4, 2, 16, 96, 300, 64, a == Architecture.QWEN3, t, 1, 11,
                    10000.0, null, false));
        }
        return out;
    }

    /** Logits at every position of {@link #PROMPT}. */
    static Matrix logits(DecoderForward f) {
        return new Generator(f).logits(PROMPT);
    }

    /** The reference: the float32 weights in memory, kept at float32, tokens looked up in their float32 table. */
    static Matrix f32Logits(Path dir) {
        DecoderModel m = DecoderModel.load(dir);
        DecoderConfig c = m.config();
        DecoderWeights w = m.weights();
        return logits(new DecoderForward(c, w, new PlainDecoderOps(c, w, PlainDecoderOps.Storage.F32)));
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({"gpt2,bf16,NATIVE", "llama,bf16,NATIVE", "qwen3,f16,NATIVE", "llama,f32,NATIVE", "gpt2,bf16,F32"})
    void anOpenedModelsPlaintextEngineHoldsNoFloat32LinearWeight(String arch, String dtype, PlainDecoderOps.Storage storage) {
        Path dir = fixture(arch, dtype);
        DecoderModel m = DecoderModel.open(dir);
        DecoderForward f;
        try (WeightReader r = m.reader()) {
            f = PlainDecoderOps.forward(m.config(), r, storage);
        }
        DecoderWeights kept = f.weights();
        DecoderConfig c = m.config();
        assertThat(kept.embeddings() == null).as("a tied head's packed copy is the token table").isEqualTo(c.tiedHead());
        Set<Object> reachable = Reachable.from(List.of(PackedWeight.class), m, f);
        List<Object> tables = java.util.stream.Stream.of(kept.embeddings(), kept.positionEmbeddings())
                .filter(java.util.Objects::nonNull).map(t -> (Object) t).toList();
        assertThat(reachable.stream().filter(o -> o instanceof Matrix)).as("the embedding tables only")
                .allMatch(x -> tables.contains(x));
        long others = Reachable.floatArrays(reachable).stream()
                .filter(a -> tables.stream().noneMatch(t -> ((Matrix) t).data == a)).mapToLong(a -> a.length).sum();
        assertThat(others).as("norms and biases: less than one linear weight").isLessThan((long) c.hidden() * c.hidden());

        assertThat(logits(f).data).as("bit for bit the float32 weights' logits").isEqualTo(f32Logits(dir).data);
        assertThat(logits(m.plainForward()).data).isEqualTo(f32Logits(dir).data);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"gpt2,bf16", "llama,bf16"})
    void everyFloat32LinearWeightCanBeCollectedOnceTheEngineIsBuilt(String arch, String dtype) throws InterruptedException {
        DecoderModel m = DecoderModel.open(fixture(arch, dtype));
        List<WeakReference<Matrix>> handed = new ArrayList<>();
        DecoderForward f;
        try (WeightReader r = m.reader()) {
            f = PlainDecoderOps.forward(m.config(), tracking(r, handed), PlainDecoderOps.Storage.NATIVE);
        }
        int linears = 4 * m.config().layers() + (m.config().tiedHead() ? 0 : 1);
        assertThat(handed).hasSize(linears);
        for (int i = 0; i < 50 && handed.stream().anyMatch(w -> w.get() != null); i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertThat(handed).as("collected while the engine is alive").allMatch(w -> w.get() == null);
        Reference.reachabilityFence(f);
    }

    /** {@code r}, remembering weakly every linear weight and LM head it hands out. */
    static WeightReader tracking(WeightReader r, List<WeakReference<Matrix>> handed) {
        return new WeightReader() {
            @Override
            public DecoderWeights withoutLinears() {
                return r.withoutLinears();
            }

            @Override
            public Matrix linear(int layer, DecoderWeights.Linear linear) {
                return track(r.linear(layer, linear));
            }

            @Override
            public Matrix lmHead() {
                return track(r.lmHead());
            }

            private Matrix track(Matrix w) {
                if (w != null) {
                    handed.add(new WeakReference<>(w));
                }
                return w;
            }

            @Override
            public void close() {
                r.close();
            }
        };
    }
}
