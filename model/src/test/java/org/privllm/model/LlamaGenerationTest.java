package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.model.DecoderConfig.Llama3Scaling;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;
import org.privllm.testing.Cases;

/** KV-cache decode, left-padded batches, several eos ids and the sliding window on Llama-family checkpoints. */
class LlamaGenerationTest {
    /** A GQA llama with llama3 rope scaling and head_dim ≠ hidden/heads, and a Qwen3 with one KV head, biases, BF16, tied. */
    static final List<DecoderModel> MODELS = List.of(
            load(new LlamaFixture.Spec(Architecture.LLAMA, 2, 32, 6, 2, 12, 48, 120, 96, false, SafeTensors.DType.F32,
                    1, 21, 10000.0, new Llama3Scaling(8, 1, 4, 32), false)),
            load(new LlamaFixture.Spec(Architecture.QWEN3, 2, 24, 4, 1, 16, 40, 100, 96, true, SafeTensors.DType.BF16,
                    3, 22, 1e6, null, true)));

    static DecoderModel load(LlamaFixture.Spec spec) {
        try {
            Path dir = Files.createTempDirectory("privllm-llama-gen");
            Fixture.write(dir, spec);
            DecoderModel m = DecoderModel.load(dir);
            try (var s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Generator gen(int model) {
        return new Generator(MODELS.get(model).plainForward());
    }

    static Stream<Arguments> kvCacheDecodeEqualsFullRecomputation() {
        return Cases.of(16, 13_000, d -> new Object[] {d.intIn(0, 1), d.intIn(1, 20), d.intIn(1, 12), d.intIn(0, 1000)});
    }

    /** Every decode step's logits (over the cache) equal a fresh prefill of the whole prefix. */
    @ParameterizedTest(name = "[{index}] model={0}, len={1}, steps={2}, seed={3}")
    @MethodSource
    void kvCacheDecodeEqualsFullRecomputation(int model, int len, int steps, int seed) {
        int vocab = MODELS.get(model).config().vocab();
        int[] prompt = ReferenceAgreementTest.randomIds(seed, len, vocab);
        List<Matrix> stepLogits = new ArrayList<>();
        int[] out = gen(model).generate(List.of(prompt), steps, Sampling.GREEDY, new int[0], null, stepLogits::add)
                .outputIds().get(0);
        assertThat(out).hasSize(len + steps);
        for (int s = 0; s < steps; s++) {
            int[] prefix = Arrays.copyOf(out, len + s);
            Matrix full = gen(model).logits(prefix);
            for (int v = 0; v < vocab; v++) {
                assertThat((double) stepLogits.get(s).get(0, v)).as("step %d token %d", s, v)
                        .isCloseTo(full.get(prefix.length - 1, v), org.assertj.core.data.Offset.offset(1e-4));
            }
        }
    }

    static Stream<Arguments> leftPaddedBatchEqualsEachAlone() {
        return Cases.of(10, 14_000, d -> new Object[] {d.intIn(0, 1), d.intIn(2, 4), d.intIn(0, 1000)});
    }

    /** Left padding is invisible: positions count from each prompt's first real token, padding is masked. */
    @ParameterizedTest(name = "[{index}] model={0}, batch={1}, seed={2}")
    @MethodSource
    void leftPaddedBatchEqualsEachAlone(int model, int batch, int seed) {
        int vocab = MODELS.get(model).config().vocab();
        List<int[]> prompts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            prompts.add(ReferenceAgreementTest.randomIds(seed * 7L + b, 1 + (seed + 5 * b) % 13, vocab));
        }
        List<Matrix> together = new ArrayList<>();
        List<int[]> ids = gen(model).generate(prompts, 8, Sampling.GREEDY, new int[0], null, together::add).outputIds();
        for (int b = 0; b < batch; b++) {
            List<Matrix> alone = new ArrayList<>();
            int[] single = gen(model).generate(List.of(prompts.get(b)), 8, Sampling.GREEDY, new int[0], null, alone::add)
                    .outputIds().get(0);
            assertThat(ids.get(b)).as("sequence " + b).isEqualTo(single);
            for (int s = 0; s < alone.size(); s++) {
                for (int v = 0; v < vocab; v++) {
                    assertThat((double) together.get(s).get(b, v)).as("sequence %d step %d token %d", b, s, v)
                            .isCloseTo(alone.get(s).get(0, v), org.assertj.core.data.Offset.offset(1e-4));
                }
            }
        }
    }

    @Test
    void stopsAtAnyOfSeveralEosIds() {
        int[] prompt = {3, 1, 4, 1, 5};
        int[] greedy = gen(0).generate(List.of(prompt), 10, Sampling.GREEDY, new int[0], null).outputIds().get(0);
        int first = greedy[prompt.length + 2], second = greedy[prompt.length + 5];
        int[] eos = {second, first};
        int stop = prompt.length;
        while (greedy[stop] != first && greedy[stop] != second) {
            stop++;
        }
        int[] stopped = gen(0).generate(List.of(prompt), 10, Sampling.GREEDY, eos, null).outputIds().get(0);
        assertThat(stopped).isEqualTo(Arrays.copyOf(greedy, stop + 1));
        // in a batch, a finished sequence stops while the other goes on
        List<int[]> both = gen(0).generate(List.of(prompt, new int[] {9}), 10, Sampling.GREEDY, eos, null).outputIds();
        assertThat(both.get(0)).isEqualTo(stopped);
    }

    @Test
    void sequencesBeyondAnActiveSlidingWindowAreRefused() throws IOException {
        Path dir = Files.createTempDirectory("privllm-window");
        Fixture.write(dir, LlamaFixture.Spec.of(Architecture.MISTRAL, 1, 16, 2, 1, 8, 16, 40, 64));
        Path config = dir.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"sliding_window\" : null", "\"sliding_window\" : 8"));
        DecoderModel m = DecoderModel.load(dir);
        assertThat(m.config().slidingWindow()).isEqualTo(8);
        Generator g = new Generator(m.plainForward());
        assertThat(g.generate(List.of(new int[] {1, 2, 3, 4, 5}), 3, Sampling.GREEDY, new int[0], null)
                .outputIds().get(0)).hasSize(8);
        assertThatThrownBy(() -> g.generate(List.of(new int[] {1, 2, 3, 4, 5}), 4, Sampling.GREEDY, new int[0], null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("9 tokens").hasMessageContaining("sliding window of 8").hasMessageNotContaining("\n");
        assertThatThrownBy(() -> g.logits(new int[9])).hasMessageContaining("sliding window of 8");
    }
}
