package org.privllm.lab.leakage;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.privllm.lab.verify.RecordingOps;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.Gpt2Model;
import org.privllm.model.PlainOps;
import org.privllm.tensor.Matrix;

/** The attacker's public tables equal what the public model computes for each token on its own. */
class PublicModelTest {
    @Test
    void layerOneInputTableIsEachTokensOwnForwardPassAcrossChunks() {
        // 5000 tokens: three chunks of the tabulation
        Gpt2Model m = LeakageLabTest.write(Gpt2Config.of(2, 16, 2, 5000, 8), 9);
        Matrix table = new PublicModel(m.config(), m.weights()).layer1InputsAtStart();
        assertThat(table.rows).isEqualTo(5000);
        for (int token : new int[] {0, 1, 2047, 2048, 2049, 4095, 4096, 4999}) {
            // layer 1's attention input when the token is the whole prompt, captured from a plain forward pass
            RecordingOps ops = new RecordingOps(new PlainOps(m.config(), m.weights()));
            ops.startCache(new int[1], 1);
            new Gpt2Forward(m.config(), m.weights(), ops).step(new int[] {token}, new int[] {0}, 1);
            float[] want = ops.ln1(1).data, got = table.row(token);
            for (int k = 0; k < want.length; k++) {
                assertThat((double) got[k]).as("token %d dim %d", token, k).isCloseTo(want[k],
                        org.assertj.core.data.Offset.offset(1e-5 * (1 + Math.abs(want[k]))));
            }
        }
    }
}
