package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;

/**
 * The plaintext engine {@link PlainDecoderOps#forward} builds reuses each linear's output matrix from call to call;
 * every step of a generation (a left-padded batch's prefill, its decode steps, then another prompt's prefill at
 * other shapes on the same engine) gives bit for bit the logits of an engine that allocates every output afresh.
 */
class ReusedOutputsTest {
    @TempDir static Path tmp;

    private static final List<int[]> PROMPTS = List.of(new int[] {5, 17, 3, 99, 250, 42, 7}, new int[] {120, 8, 64});

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void everyStepsLogitsEqualAFreshlyAllocatingEngines(String arch) {
        Path dir = tmp.resolve(arch);
        if (arch.equals("gpt2")) {
            Fixture.write(dir, Gpt2Config.of(2, 64, 4, 300, 64), 13, SafeTensors.DType.F32, 1);
        } else {
            Fixture.write(dir, new LlamaFixture.Spec(Architecture.LLAMA, 2, 64, 4, 2, 16, 96, 300, 64, false,
                    SafeTensors.DType.F32, 1, 13, 10000.0, null, false));
        }
        DecoderModel m = DecoderModel.load(dir);
        DecoderForward reusing = m.plainForward();
        DecoderForward fresh = new DecoderForward(m.config(), m.weights(), new PlainDecoderOps(m.config(), m.weights()));
        List<float[]> a = steps(reusing), b = steps(fresh);
        assertThat(a).hasSize(b.size()).hasSizeGreaterThan(2);
        for (int i = 0; i < a.size(); i++) {
            assertThat(a.get(i)).as("step %d", i).isEqualTo(b.get(i));
        }
    }

    /** Every step's logits of a batch generation, then of one prompt's prefill and decode on the same engine. */
    private static List<float[]> steps(DecoderForward f) {
        List<float[]> out = new ArrayList<>();
        Generator g = new Generator(f);
        g.generate(PROMPTS, 6, Sampling.GREEDY, -1, null, l -> out.add(l.data.clone()));
        g.generate(List.of(PROMPTS.get(1)), 4, Sampling.GREEDY, -1, null, l -> out.add(l.data.clone()));
        Matrix all = g.logits(PROMPTS.get(0));
        out.add(all.data.clone());
        return out;
    }
}
