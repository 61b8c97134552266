package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;
import org.privllm.testing.Cases;

/** KV-cache decode, batching with left padding, and seeded sampling against plain recomputation. */
class GenerationTest {
    /** One small checkpoint shared by all the tests of this class (written once, kept in memory). */
    static final Gpt2Model model = makeModel();

    private static Gpt2Model makeModel() {
        try {
            Path dir = java.nio.file.Files.createTempDirectory("privllm-gen");
            Fixture.write(dir, new Gpt2Config(2, 32, 4, 128, 200, 64, 1e-5f, Activation.GELU_NEW, true, false, 127), 11);
            Gpt2Model m = Gpt2Model.load(dir);
            try (var s = java.nio.file.Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
            return m;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Generator gen() {
        return new Generator(model.plainForward());
    }

    static Stream<Arguments> kvCacheDecodeEqualsFullRecomputation() {
        return Cases.of(15, 6_000, d -> new Object[] {d.intIn(1, 20), d.intIn(1, 12), d.intIn(0, 1000)});
    }

    @ParameterizedTest(name = "[{index}] len={0}, steps={1}, seed={2}")
    @MethodSource
    void kvCacheDecodeEqualsFullRecomputation(int len, int steps, int seed) {
        int[] prompt = ReferenceAgreementTest.randomIds(seed, len, 200);
        int[] out = gen().generate(List.of(prompt), steps, Sampling.GREEDY, -1, null).outputIds().get(0);
        // Recompute: each step's logits from the full prefix, no cache reuse.
        for (int s = 0; s < out.length - len; s++) {
            int[] prefix = java.util.Arrays.copyOf(out, len + s);
            Matrix logits = gen().logits(prefix);
            int best = 0;
            for (int v = 1; v < logits.cols; v++) {
                if (logits.get(prefix.length - 1, v) > logits.get(prefix.length - 1, best)) {
                    best = v;
                }
            }
            assertThat(out[len + s]).as("step " + s).isEqualTo(best);
        }
    }

    static Stream<Arguments> batchWithDifferentLengthsEqualsEachAlone() {
        return Cases.of(10, 7_000, d -> new Object[] {d.intIn(1, 4), d.intIn(0, 1000)});
    }

    @ParameterizedTest(name = "[{index}] batch={0}, seed={1}")
    @MethodSource
    void batchWithDifferentLengthsEqualsEachAlone(int batch, int seed) {
        List<int[]> prompts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            prompts.add(ReferenceAgreementTest.randomIds(seed * 7L + b, 1 + (seed + 5 * b) % 13, 200));
        }
        List<int[]> together = gen().generate(prompts, 10, Sampling.GREEDY, -1, null).outputIds();
        for (int b = 0; b < batch; b++) {
            int[] alone = gen().generate(List.of(prompts.get(b)), 10, Sampling.GREEDY, -1, null).outputIds().get(0);
            assertThat(together.get(b)).as("sequence " + b).isEqualTo(alone);
        }
    }

    @Test
    void seededSamplingIsReproducibleAndDiffersAcrossSeeds() {
        List<int[]> p = List.of(new int[] {5, 6, 7}, new int[] {9});
        Sampling s1 = Sampling.sample(1.3f, 50, 0.95f, 42L);
        List<int[]> a = gen().generate(p, 20, s1, -1, null).outputIds();
        List<int[]> b = gen().generate(p, 20, s1, -1, null).outputIds();
        List<int[]> c = gen().generate(p, 20, Sampling.sample(1.3f, 50, 0.95f, 43L), -1, null).outputIds();
        assertThat(a.get(0)).isEqualTo(b.get(0));
        assertThat(a.get(1)).isEqualTo(b.get(1));
        assertThat(a.get(0)).isNotEqualTo(c.get(0));
    }

    @Test
    void stopsAtEos() {
        int[] prompt = {1, 2, 3};
        int[] greedy = gen().generate(List.of(prompt), 8, Sampling.GREEDY, -1, null).outputIds().get(0);
        int eos = greedy[4]; // the second generated token
        int[] stopped = gen().generate(List.of(prompt), 8, Sampling.GREEDY, eos, null).outputIds().get(0);
        int firstEos = 3;
        while (greedy[firstEos] != eos) {
            firstEos++;
        }
        assertThat(stopped).isEqualTo(java.util.Arrays.copyOf(greedy, firstEos + 1));
    }

    @Test
    void topKOneIsGreedy() {
        List<int[]> p = List.of(new int[] {3, 1, 4, 1, 5});
        assertThat(gen().generate(p, 12, Sampling.sample(0.7f, 1, 1f, 7L), -1, null).outputIds().get(0))
                .isEqualTo(gen().generate(p, 12, Sampling.GREEDY, -1, null).outputIds().get(0));
    }

    /**
     * Hiding the request's shape changes no answer: the padded length rounds up to the bucket and, with fixed
     * steps, every decode step runs after all sequences stopped — and the forward pass sees exactly that.
     */
    @Test
    void hidingTheShapeKeepsTheAnswerAndPadsTheCalls() {
        List<int[]> prompts = List.of(new int[] {5, 6, 7}, new int[] {9});
        int eos = 0;
        Generator.Result plain = gen().generate(prompts, 6, Sampling.GREEDY, new int[] {eos}, null);
        List<Integer> rows = new ArrayList<>();
        ForwardPass counting = new ForwardPass() {
            final ForwardPass inner = model.plainForward();

            public TransformerOps ops() { return inner.ops(); }
            public int vocab() { return inner.vocab(); }
            public int positions() { return inner.positions(); }
            public void checkContext(int tokens) { inner.checkContext(tokens); }
            public Matrix step(int[] ids, int[] positions, int t) {
                rows.add(ids.length);
                return inner.step(ids, positions, t);
            }
        };
        // a stop token the model emits at once makes every sequence finish on its first token
        int first = plain.outputIds().get(0)[3];
        Generator.Result stopped = new Generator(counting).hidingShape(8, true)
                .generate(prompts, 6, Sampling.GREEDY, new int[] {first, plain.outputIds().get(1)[1]}, null);
        assertThat(stopped.outputIds().get(0)).containsExactly(5, 6, 7, first);
        assertThat(rows.get(0)).isEqualTo(2 * 8); // prompts padded to the bucket
        assertThat(rows).hasSize(6); // prefill + 5 decode steps although both stopped after one token
        rows.clear();
        Generator.Result hidden = new Generator(counting).hidingShape(8, false).generate(prompts, 6, Sampling.GREEDY,
                new int[] {eos}, null);
        for (int b = 0; b < prompts.size(); b++) {
            assertThat(hidden.outputIds().get(b)).containsExactly(plain.outputIds().get(b));
        }
        assertThat(rows.get(0)).isEqualTo(16);
    }
}
