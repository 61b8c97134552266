package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.model.DecoderConfig.Llama3Scaling;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;
import org.privllm.testing.Cases;

/**
 * The Llama-family engine against the independent float64 {@link ReferenceLlama} on random
 * checkpoints of every family: grouped key/value heads from one to one per query head, head widths
 * unrelated to the hidden size, tied and untied heads, biases, F16/BF16, shards, llama3 rope scaling.
 */
class LlamaReferenceAgreementTest {

    static Stream<Arguments> randomCheckpointsMatchFloat64Reference() {
        return Cases.of(32, 12_000, d -> {
            Architecture arch = d.oneOf(Architecture.LLAMA, Architecture.MISTRAL, Architecture.QWEN2, Architecture.QWEN3);
            int kv = d.intIn(1, 3), heads = kv * d.intIn(1, 3);
            // wavelengths of 2π..2π·theta^(1-2/hd) straddle 64/4..64/1: each llama3 regime is exercised
            Llama3Scaling scaling = d.bool() ? new Llama3Scaling(d.oneOf(2.0, 8.0, 32.0), 1, 4, 64) : null;
            boolean bias = (arch == Architecture.LLAMA || arch == Architecture.QWEN3) && d.bool();
            LlamaFixture.Spec spec = new LlamaFixture.Spec(arch, d.intIn(1, 3), d.oneOf(16, 24, 40), heads, kv,
                    d.oneOf(2, 4, 8, 12, 16, 32), d.intIn(8, 72), d.intIn(16, 300), 64, d.bool(),
                    d.oneOf(SafeTensors.DType.class), d.bool() ? 3 : 1, d.anyLong(), d.oneOf(10000.0, 500000.0, 1e6), scaling,
                    bias);
            return new Object[] {spec, d.intIn(1, 14)};
        });
    }

    @ParameterizedTest(name = "[{index}] {0}, prompt={1}")
    @MethodSource
    void randomCheckpointsMatchFloat64Reference(LlamaFixture.Spec spec, int len, @TempDir Path dir) {
        Fixture.write(dir, spec);
        DecoderModel m = DecoderModel.load(dir);
        ReferenceLlama ref = new ReferenceLlama(dir);
        int[] ids = ReferenceAgreementTest.randomIds(spec.seed() ^ len, len, spec.vocab());
        Matrix logits = new Generator(m.plainForward()).logits(ids);
        assertThat(ReferenceAgreementTest.maxAbs(logits, ref.logits(ids))).as("max |logit - ref|").isLessThan(1e-3);
        int steps = 6;
        int[] greedy = new Generator(m.plainForward()).generate(List.of(ids), steps, Sampling.GREEDY, new int[0], null)
                .outputIds().get(0);
        assertThat(greedy).as("greedy ids, KV-cache decode").isEqualTo(ref.greedy(ids, steps));
    }
}
