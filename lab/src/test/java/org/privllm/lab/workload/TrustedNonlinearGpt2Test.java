package org.privllm.lab.workload;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.privllm.model.Activation;
import org.privllm.model.Gpt2Config;
import org.privllm.model.DecoderForward;
import org.privllm.model.Gpt2Model;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;

/** The TSLP-style partition computes exactly what the plaintext engine computes. */
class TrustedNonlinearGpt2Test {
    static final Gpt2Model M = WorkloadFixtures.model(
            new Gpt2Config(2, 48, 4, 192, 300, 64, 1e-5f, Activation.GELU_NEW, true, true, 299), 5);

    @Test
    void generationEqualsPlaintextIdsAndLogits() {
        List<int[]> prompts = List.of(new int[] {3, 14, 15, 92, 65, 35}, new int[] {8, 97, 93});
        List<Matrix> plainLogits = new ArrayList<>(), partLogits = new ArrayList<>();
        Generator.Result plain = new Generator(M.plainForward()).generate(prompts, 6, Sampling.GREEDY, -1, null, plainLogits::add);
        try (InProcessExecutor ex = new InProcessExecutor();
             TrustedAttentionDecoder ops = TrustedAttentionDecoder.plaintextLinears(M.decoder().config(), M.decoder().weights(), ex)) {
            Generator.Result part = new Generator(new DecoderForward(M.decoder().config(), M.decoder().weights(), ops))
                    .generate(prompts, 6, Sampling.GREEDY, -1, null, partLogits::add);
            for (int b = 0; b < prompts.size(); b++) {
                assertThat(part.outputIds().get(b)).containsExactly(plain.outputIds().get(b));
            }
        }
        assertThat(partLogits).hasSameSizeAs(plainLogits);
        for (int i = 0; i < plainLogits.size(); i++) {
            float[] a = plainLogits.get(i).data, b = partLogits.get(i).data;
            for (int j = 0; j < a.length; j++) {
                assertThat(b[j]).as("logit %d of step %d", j, i).isCloseTo(a[j], org.assertj.core.data.Offset.offset(1e-5f));
            }
        }
    }

    @Test
    void executorReceivesOnlyLinearCallsAndHoldsNoCache() {
        Transcript transcript = new Transcript();
        try (InProcessExecutor ex = new InProcessExecutor(transcript);
             TrustedAttentionDecoder ops = TrustedAttentionDecoder.plaintextLinears(M.decoder().config(), M.decoder().weights(), ex)) {
            new Generator(new DecoderForward(M.decoder().config(), M.decoder().weights(), ops)).generate(List.of(new int[] {1, 2, 3}), 3,
                    Sampling.GREEDY, -1, null);
            assertThat(ops.cache().length()).isEqualTo(3 + 2);
        }
        assertThat(transcript.entries()).extracting(e -> e.kind().name())
                .doesNotContain("ATTENTION", "START_CACHE", "ADVANCE_CACHE").contains("LINEAR", "UPLOAD_LINEAR");
    }
}
