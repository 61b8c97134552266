package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * {@link VectorMath} gives, lane by lane, exactly the bits of the same IEEE operations done one float at a
 * time (so the result cannot depend on whether the JIT compiled the caller), and is accurate.
 */
class VectorMathTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** The lane operations of {@link VectorMath#exp}, one float at a time. */
    static float expScalar(float x) {
        x = Math.min(Math.max(x, -87.33654f), 88.0f);
        float n = x * 1.44269504088896341f + 12582912f - 12582912f;
        float r = Math.fma(n, -0.693359375f, x);
        r = Math.fma(n, 2.12194440e-4f, r);
        float p = Math.fma(r, 1.9875691500E-4f, 1.3981999507E-3f);
        p = Math.fma(p, r, 8.3334519073E-3f);
        p = Math.fma(p, r, 4.1665795894E-2f);
        p = Math.fma(p, r, 1.6666665459E-1f);
        p = Math.fma(p, r, 5.0000001201E-1f);
        p = Math.fma(p, r * r, r) + 1f;
        return p * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    /** The pairwise order of {@link VectorMath#FOLDS}. */
    static float sumScalar(float[] v) {
        float[] a = v.clone();
        for (int half = a.length / 2; half >= 1; half /= 2) {
            float[] b = a.clone();
            for (int i = 0; i < a.length; i++) {
                a[i] = b[i] + b[(i + half) % a.length];
            }
        }
        return a[0];
    }

    private static float fold(float[] x) {
        FloatVector v = FloatVector.fromArray(S, x, 0);
        for (VectorShuffle<Float> h : VectorMath.FOLDS) {
            v = v.add(v.rearrange(h));
        }
        return v.lane(0);
    }

    @RepeatedTest(20)
    void expGeluAndTheFoldAreTheScalarOperationsBitForBit() {
        SplittableRandom rnd = new SplittableRandom();
        for (int rep = 0; rep < 500; rep++) {
            int n = rnd.nextInt(1, 4 * L + 3), from = rnd.nextInt(3);
            float[] x = new float[from + n + 2];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (rnd.nextDouble(-100, 100) * Math.pow(10, -rnd.nextInt(8)));
            }
            float[] e = x.clone();
            int end = VectorMath.exp(e, from, from + n);
            assertThat(end).isEqualTo(from + n / L * L);
            for (int i = 0; i < x.length; i++) {
                float want = i >= from && i < end ? expScalar(x[i]) : x[i];
                assertThat(Float.floatToRawIntBits(e[i])).as("exp(%s) at %d", x[i], i)
                        .isEqualTo(Float.floatToRawIntBits(want));
            }
            float[] g = x.clone();
            Kernels.geluTanh(g, from, from + n);
            float c = (float) Math.sqrt(2.0 / Math.PI);
            for (int i = from; i < end; i++) {
                float v = x[i];
                float tanh = 1f - 2f / (expScalar((v * v * v * 0.044715f + v) * c * 2f) + 1f);
                assertThat(Float.floatToRawIntBits(g[i])).as("gelu(%s)", v)
                        .isEqualTo(Float.floatToRawIntBits(v * 0.5f * (tanh + 1f)));
            }
            for (int i = end; i < from + n; i++) {
                assertThat((double) g[i]).isCloseTo(0.5 * x[i] * (1 + Math.tanh(c * (x[i] + 0.044715 * x[i] * x[i] * x[i]))),
                        org.assertj.core.api.Assertions.within(1e-6 * Math.max(1, Math.abs(x[i]))));
            }
            float[] lanes = java.util.Arrays.copyOf(x, L);
            assertThat(Float.floatToRawIntBits(fold(lanes))).isEqualTo(Float.floatToRawIntBits(sumScalar(lanes)));
        }
    }

    @Test
    void accurate() {
        double worstExp = 0, worstGelu = 0;
        float[] x = new float[L];
        // below ≈ −87.3 the results are subnormal
        for (float a = -80f; a < 87.9f; a += 0.0137f) {
            for (int i = 0; i < L; i++) {
                x[i] = a + i * 1e-3f;
            }
            float[] e = x.clone();
            VectorMath.exp(e, 0, L);
            for (int i = 0; i < L; i++) {
                double want = Math.exp(x[i]);
                worstExp = Math.max(worstExp, Math.abs(e[i] - want) / want);
            }
        }
        for (float a = -12f; a < 12f; a += 0.0137f) {
            for (int i = 0; i < L; i++) {
                x[i] = a + i * 1e-3f;
            }
            float[] g = x.clone();
            Kernels.geluTanh(g, 0, L);
            for (int i = 0; i < L; i++) {
                double v = x[i], want = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
                worstGelu = Math.max(worstGelu, Math.abs(g[i] - want) / Math.max(1, Math.abs(want)));
            }
        }
        assertThat(worstExp).isLessThan(3e-7);
        assertThat(worstGelu).isLessThan(1e-6);
        float[] edge = new float[L];
        java.util.Arrays.fill(edge, Float.NaN);
        edge[0] = Float.NEGATIVE_INFINITY;
        edge[1 % L] = -1000f;
        float[] e = edge.clone();
        VectorMath.exp(e, 0, L);
        assertThat(e[0]).isBetween(0f, 1e-37f);
        assertThat(e[L - 1]).isNaN();
        edge[0] = Float.POSITIVE_INFINITY;
        VectorMath.exp(edge, 0, L);
        assertThat(edge[0]).isGreaterThan(1e38f).isFinite();
    }

    /** The scan {@link VectorMath#argmax} must equal. */
    private static int argmaxScan(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (x[off + i] > x[off + best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * {@link VectorMath#argmax} picks what the scan picks on random rows of random lengths and offsets whose values
     * repeat (ties), and with ±0, infinities and NaNs planted anywhere, the first value included.
     */
    @RepeatedTest(50)
    void argmaxIsTheScansPick() {
        SplittableRandom r = new SplittableRandom(System.nanoTime());
        float[] specials = {0f, -0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, Float.MAX_VALUE,
            -Float.MAX_VALUE};
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + r.nextInt(trial < 100 ? 4 * L : 3000), off = r.nextInt(2 * L);
            float[] x = new float[off + n + r.nextInt(L)];
            int distinct = 1 + r.nextInt(trial % 3 == 0 ? 3 : 1000); // few distinct values: many ties
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (r.nextInt(distinct) - distinct / 2) / 7f;
            }
            int planted = trial % 4 == 0 ? r.nextInt(4) : 0;
            for (int j = 0; j < planted; j++) {
                x[off + (r.nextBoolean() ? 0 : r.nextInt(n))] = specials[r.nextInt(specials.length)];
            }
            assertThat(VectorMath.argmax(x, off, n)).as("n %d off %d", n, off).isEqualTo(argmaxScan(x, off, n));
        }
        assertThat(VectorMath.argmax(new float[] {Float.NaN}, 0, 1)).isZero();
        assertThat(VectorMath.argmax(new float[0], 0, 0)).isZero();
        float[] zeros = {-0f, 0f, -0f, 0f};
        assertThat(VectorMath.argmax(zeros, 0, 4)).isZero();
        float[] nanFirst = new float[5 * L];
        nanFirst[0] = Float.NaN;
        nanFirst[3 * L] = 5f;
        assertThat(VectorMath.argmax(nanFirst, 0, nanFirst.length)).isZero();
        nanFirst[0] = 1f;
        nanFirst[L + 1] = Float.NaN;
        assertThat(VectorMath.argmax(nanFirst, 0, nanFirst.length)).isEqualTo(3 * L);
    }
}
