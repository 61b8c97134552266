package org.privllm.untrusted;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.Matrix;

class InProcessExecutorTest {
    private static Matrix random(Random r, int rows, int cols) {
        Matrix m = new Matrix(rows, cols);
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] = (float) r.nextGaussian();
        }
        return m;
    }

    /** Reference product in double, rounded once. */
    private static double[][] product(Matrix a, Matrix b) {
        double[][] y = new double[a.rows][b.cols];
        for (int i = 0; i < a.rows; i++) {
            for (int k = 0; k < a.cols; k++) {
                for (int j = 0; j < b.cols; j++) {
                    y[i][j] += (double) a.get(i, k) * b.get(k, j);
                }
            }
        }
        return y;
    }

    @Test
    void linearComputesWeightAdapterBiasAndCompensation() {
        Random r = new Random(1);
        int n = 5, in = 19, out = 13, rank = 3;
        Matrix w = random(r, in, out), a = random(r, in, rank), b = random(r, rank, out), x = random(r, n, in),
                c = random(r, n, out);
        float[] bias = random(r, 1, out).data;
        try (InProcessExecutor ex = new InProcessExecutor()) {
            SessionId s = ex.openSession();
            WeightId id = ex.uploadLinear(s, new LinearWeights(w, bias, a, b));
            w.data[0] += 100; // the executor holds its own copy
            w.data[0] -= 100;
            Matrix y = ex.linear(s, id, x, c);
            double[][] xw = product(x, w), xa = product(x, a);
            Matrix xaM = new Matrix(n, rank);
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < rank; k++) {
                    xaM.set(i, k, (float) xa[i][k]);
                }
            }
            double[][] xab = product(xaM, b);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < out; j++) {
                    double expect = xw[i][j] + xab[i][j] + bias[j] + c.get(i, j);
                    assertThat((double) y.get(i, j)).isCloseTo(expect, org.assertj.core.data.Offset.offset(1e-3));
                }
            }
        }
    }

    @Test
    void uploadCopiesTheWeight() {
        Matrix w = new Matrix(2, 2, new float[] {1, 0, 0, 1});
        try (InProcessExecutor ex = new InProcessExecutor()) {
            SessionId s = ex.openSession();
            WeightId id = ex.uploadLinear(s, new LinearWeights(w, null));
            w.data[0] = 7;
            assertThat(ex.linear(s, id, new Matrix(1, 2, new float[] {1, 2}), null).data).containsExactly(1, 2);
        }
    }

    @Test
    void sessionsAreIsolatedAndIdsUnguessable() {
        try (InProcessExecutor ex = new InProcessExecutor()) {
            SessionId s1 = ex.openSession(), s2 = ex.openSession();
            assertThat(s1.value()).hasSize(32).matches("[0-9a-f]+").isNotEqualTo(s2.value());
            WeightId id = ex.uploadLinear(s1, new LinearWeights(new Matrix(2, 2), null));
            assertThatThrownBy(() -> ex.linear(s2, id, new Matrix(1, 2), null))
                    .hasMessage("unknown weight id " + id.value() + " in this session");
            ex.closeSession(s1);
            assertThatThrownBy(() -> ex.linear(s1, id, new Matrix(1, 2), null)).hasMessage("unknown session");
            assertThatThrownBy(() -> ex.linear(new SessionId("00"), id, new Matrix(1, 2), null))
                    .hasMessage("unknown session");
        }
    }

    @Test
    void shapeMismatchesGetOneLineMessages() {
        try (InProcessExecutor ex = new InProcessExecutor()) {
            SessionId s = ex.openSession();
            WeightId id = ex.uploadLinear(s, new LinearWeights(new Matrix(3, 4), null));
            assertThatThrownBy(() -> ex.linear(s, id, new Matrix(2, 5), null))
                    .hasMessage("linear input 2x5 does not fit weight 3x4");
            assertThatThrownBy(() -> ex.linear(s, id, new Matrix(2, 3), new Matrix(2, 3)))
                    .hasMessage("linear compensation 2x3 != 2x4");
            assertThatThrownBy(() -> ex.attention(s, new AttentionCall(0, id, id, new Matrix(1, 3), null, 1, 1, 1f)))
                    .hasMessage("attention before startCache in this session");
        }
    }

    @Test
    void transcriptRecordsEveryRequestInOrderWithCopies() {
        Transcript t = new Transcript();
        Random r = new Random(2);
        try (InProcessExecutor ex = new InProcessExecutor(t)) {
            SessionId s = ex.openSession();
            Matrix w = random(r, 4, 12), x = random(r, 2, 4), proj = random(r, 4, 4);
            WeightId qkv = ex.uploadLinear(s, new LinearWeights(w, new float[12]));
            WeightId p = ex.uploadLinear(s, new LinearWeights(proj, null));
            Matrix y = ex.linear(s, qkv, x, null);
            float before = x.data[0];
            x.data[0] = 42;
            ex.startCache(s, 1, 4, 4, new int[] {0});
            Matrix att = ex.attention(s, new AttentionCall(0, qkv, p, random(r, 2, 4), null, 2, 2, 0.5f));
            ex.advanceCache(s, 2);
            ex.closeSession(s);
            assertThat(y.shape()).isEqualTo("2x12");
            assertThat(att.shape()).isEqualTo("2x4");
            assertThat(t.entries()).extracting(Transcript.Entry::kind).containsExactly(
                    Transcript.Kind.OPEN_SESSION, Transcript.Kind.UPLOAD_LINEAR, Transcript.Kind.UPLOAD_LINEAR,
                    Transcript.Kind.LINEAR, Transcript.Kind.START_CACHE, Transcript.Kind.ATTENTION,
                    Transcript.Kind.ADVANCE_CACHE, Transcript.Kind.CLOSE_SESSION);
            Transcript.Entry lin = t.entries().get(3);
            assertThat(lin.tensor("x").data[0]).isEqualTo(before);
            assertThat(lin.weight()).isEqualTo(qkv.value());
            assertThat(t.entries().get(1).tensor("bias").shape()).isEqualTo("1x12");
            assertThat(t.entries().get(5).layer()).isZero();
            assertThat(t.entries().get(5).args()).containsExactly(p.value(), 2, 2, 0.5f, 2, 2); // proj, t, heads, scale, kv heads, head width
        }
    }

    @Test
    void attentionCacheAdvancesAcrossCalls() {
        Random r = new Random(3);
        try (InProcessExecutor ex = new InProcessExecutor()) {
            SessionId s = ex.openSession();
            WeightId qkv = ex.uploadLinear(s, new LinearWeights(random(r, 8, 24), null));
            WeightId p = ex.uploadLinear(s, new LinearWeights(random(r, 8, 8), null));
            ex.startCache(s, 1, 3, 8, new int[] {0});
            ex.attention(s, new AttentionCall(0, qkv, p, random(r, 2, 8), null, 2, 2, 0.3f));
            ex.advanceCache(s, 2);
            ex.attention(s, new AttentionCall(0, qkv, p, random(r, 1, 8), null, 1, 2, 0.3f));
            ex.advanceCache(s, 1);
            assertThatThrownBy(() -> ex.attention(s, new AttentionCall(0, qkv, p, random(r, 1, 8), null, 1, 2, 0.3f)))
                    .hasMessageContaining("KV cache full");
        }
    }
}
