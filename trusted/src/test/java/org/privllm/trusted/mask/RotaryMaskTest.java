package org.privllm.trusted.mask;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.model.DecoderConfig;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.Rope;
import org.privllm.testing.Cases;
import org.privllm.trusted.linalg.Dense;

/**
 * Masks that commute with RoPE (issue 12, item 4): for random head widths, bases, Llama 3 scalings and
 * mask families, {@code RoPE_p(q·N_Q)·RoPE_p'(k·N_K)ᵀ = RoPE_p(q)·RoPE_p'(k)ᵀ} at every position pair
 * {@code p' ≤ p < P} — exactly in float64, to float rounding with the executor's float kernel — and
 * {@code RoPE_p(x·N) = RoPE_p(x)·N} at every position.
 */
class RotaryMaskTest {

    /** RoPE at position {@code p} on one head vector, in float64 (rotate_half: pair (i, i + d/2) by p·θ_i). */
    static double[] rope(double[] x, double[] inv, int p) {
        int half = inv.length;
        double[] y = new double[x.length];
        for (int i = 0; i < half; i++) {
            double c = Math.cos(p * inv[i]), s = Math.sin(p * inv[i]);
            y[i] = x[i] * c - x[i + half] * s;
            y[i + half] = x[i + half] * c + x[i] * s;
        }
        return y;
    }

    static double[] times(double[] x, Mask m) {
        return m.apply(new DMatrixRMaj(1, x.length, true, x)).data;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    static Stream<Arguments> scoresAreInvariantAtEveryPositionPair() {
        return Cases.of(40, 77_000, d -> {
            int hd = 2 * d.intIn(1, 64);
            DecoderConfig.Llama3Scaling scaling = d.bool() ? null
                    : new DecoderConfig.Llama3Scaling(d.oneOf(2.0, 8.0, 32.0), d.oneOf(0.5, 1.0), d.oneOf(2.0, 4.0),
                    d.oneOf(16, 64, 8192));
            double theta = d.oneOf(100.0, 10_000.0, 500_000.0, 1_000_000.0, 1.5);
            return new Object[] {hd, theta, scaling, d.oneOf("orthogonal", "gaussian", "block:4", "perm"), d.anyLong()};
        });
    }

    @ParameterizedTest(name = "[{index}] head_dim={0} theta={1} scaling={2} family={3} seed={4}")
    @MethodSource
    void scoresAreInvariantAtEveryPositionPair(int hd, double theta, DecoderConfig.Llama3Scaling scaling, String family,
                                               long seed) {
        Random rnd = new Random(seed);
        double[] inv = new DecoderConfig.Rotary(theta, scaling).inverseFrequencies(hd);
        RotaryMask nq = RotaryMask.sample(hd, MaskFamily.parse(family), rnd);
        Mask nk = nq.transposeInverse();
        double[] q = new double[hd], k = new double[hd];
        for (int i = 0; i < hd; i++) {
            q[i] = rnd.nextGaussian();
            k[i] = rnd.nextGaussian();
        }
        double[] qm = times(q, nq), km = times(k, nk);
        int positions = 64;
        double worst = 0;
        for (int p = 0; p < positions; p++) {
            // RoPE commutes with the mask at this position
            double[] a = rope(qm, inv, p), b = times(rope(q, inv, p), nq);
            for (int i = 0; i < hd; i++) {
                assertThat(Math.abs(a[i] - b[i])).as("RoPE_%d(q·N_Q) vs RoPE_%d(q)·N_Q at %d", p, p, i).isLessThan(1e-9);
            }
            for (int pk = 0; pk <= p; pk++) {
                double plain = dot(rope(q, inv, p), rope(k, inv, pk)), masked = dot(a, rope(km, inv, pk));
                worst = Math.max(worst, Math.abs(plain - masked));
            }
        }
        assertThat(worst).as("max |RoPE(q~)·RoPE(k~)ᵀ − RoPE(q)·RoPE(k)ᵀ| over %d² position pairs", positions).isLessThan(1e-9);
        // a far position too (long contexts)
        int far = 131_071;
        assertThat(Math.abs(dot(rope(q, inv, far), rope(k, inv, far - 5)) - dot(rope(qm, inv, far), rope(km, inv, far - 5))))
                .isLessThan(1e-8);
    }

    static Stream<Arguments> theExecutorsFloatKernelRotatesMaskedHeadsToTheSameScores() {
        return Cases.of(20, 78_000, d -> new Object[] {2 * d.intIn(1, 48), d.intIn(1, 4), d.intIn(1, 3),
                d.oneOf(10_000.0, 500_000.0), d.oneOf("orthogonal", "perm"), d.anyLong()});
    }

    /**
     * The float {@link Rope} kernel the executor runs, applied to masked query and key heads (grouped: every query
     * head of a group with its key head's {@code N_Q = N_K⁻ᵀ}), gives the plaintext scores to float rounding.
     */
    @ParameterizedTest(name = "[{index}] head_dim={0} kv_heads={1} group={2} theta={3} family={4} seed={5}")
    @MethodSource
    void theExecutorsFloatKernelRotatesMaskedHeadsToTheSameScores(int hd, int kvHeads, int group, double theta,
                                                                 String family, long seed) {
        Random rnd = new Random(seed);
        int heads = kvHeads * group, n = 40;
        double[] inv = new DecoderConfig.Rotary(theta, null).inverseFrequencies(hd);
        RotaryMask[] kMask = new RotaryMask[kvHeads];
        Mask[] qMask = new Mask[kvHeads];
        for (int g = 0; g < kvHeads; g++) {
            qMask[g] = RotaryMask.sample(hd, MaskFamily.parse(family), rnd);
            kMask[g] = (RotaryMask) qMask[g].transposeInverse();
        }
        Matrix q = new Matrix(n, heads * hd), k = new Matrix(n, kvHeads * hd);
        for (int i = 0; i < q.data.length; i++) {
            q.data[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < k.data.length; i++) {
            k.data[i] = (float) rnd.nextGaussian();
        }
        Matrix qm = new Matrix(n, q.cols), km = new Matrix(n, k.cols);
        for (int h = 0; h < heads; h++) {
            copyCols(qMask[h / group].apply(q.cols(h * hd, (h + 1) * hd)), qm, h * hd);
        }
        for (int g = 0; g < kvHeads; g++) {
            copyCols(kMask[g].apply(k.cols(g * hd, (g + 1) * hd)), km, g * hd);
        }
        int[] pos = new int[n];
        for (int i = 0; i < n; i++) {
            pos[i] = i * 7;
        }
        Rope rope = new Rope(hd, inv);
        for (Matrix m : new Matrix[] {q, qm}) {
            rope.rotate(m, 0, heads, pos);
        }
        for (Matrix m : new Matrix[] {k, km}) {
            rope.rotate(m, 0, kvHeads, pos);
        }
        for (int h = 0; h < heads; h++) {
            int g = h / group;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j <= i; j++) {
                    double plain = 0, masked = 0, scale = 0;
                    for (int c = 0; c < hd; c++) {
                        plain += (double) q.get(i, h * hd + c) * k.get(j, g * hd + c);
                        masked += (double) qm.get(i, h * hd + c) * km.get(j, g * hd + c);
                        scale += Math.abs((double) q.get(i, h * hd + c) * k.get(j, g * hd + c));
                    }
                    assertThat(Math.abs(plain - masked)).as("head %d rows %d, %d", h, i, j).isLessThan(1e-5 * (1 + scale));
                }
            }
        }
    }

    private static void copyCols(Matrix from, Matrix to, int col) {
        for (int r = 0; r < from.rows; r++) {
            System.arraycopy(from.data, r * from.cols, to.data, r * to.cols + col, from.cols);
        }
    }

    @Test
    void isTheDenseBlockPerPairWithItsInverseAndTransposeInverse() {
        Random rnd = new Random(5);
        RotaryMask m = RotaryMask.random(10, 0.5, 2, rnd);
        DMatrixRMaj n = m.toDense(), inv = new DMatrixRMaj(10, 10), ti = m.transposeInverse().toDense();
        assertThat(CommonOps_DDRM.invert(n.copy(), inv)).isTrue();
        DMatrixRMaj x = Dense.gaussian(3, 10, 1, rnd);
        assertThat(maxDiff(m.applyInverse(x), CommonOps_DDRM.mult(x, inv, null))).isLessThan(1e-12);
        assertThat(maxDiff(ti, CommonOps_DDRM.transpose(inv, null))).isLessThan(1e-12);
        // only pairs (i, i + 5) are coupled
        for (int i = 0; i < 10; i++) {
            for (int j = 0; j < 10; j++) {
                if (i != j && Math.abs(i - j) != 5) {
                    assertThat(n.get(i, j)).isZero();
                }
            }
        }
        assertThat(m.conditionNumber()).isBetween(1.0, 4.0);
        Matrix f = Dense.toFloat(x);
        assertThat(maxDiff(Dense.of(m.apply(f)), m.apply(Dense.of(f)))).isLessThan(1e-5);
        assertThat(RotaryMask.sample(8, MaskFamily.DEFAULT, rnd).conditionNumber()).isEqualTo(1.0);
        assertThat(m.toString()).doesNotContain("0.").contains("d=10");
        assertThatThrownBy(() -> RotaryMask.random(7, 1, 1, rnd)).hasMessageContaining("even head width");
    }

    private static double maxDiff(DMatrixRMaj a, DMatrixRMaj b) {
        double m = 0;
        for (int i = 0; i < a.data.length; i++) {
            m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
        }
        return m;
    }
}
