package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
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

    /** The pairwise order of {@link VectorMath#sum}. */
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

    @RepeatedTest(20)
    void expTanhAndSumAreTheScalarOperationsBitForBit() {
        SplittableRandom rnd = new SplittableRandom();
        for (int rep = 0; rep < 2000; rep++) {
            float[] x = new float[L];
            for (int i = 0; i < L; i++) {
                x[i] = (float) (rnd.nextDouble(-100, 100) * Math.pow(10, -rnd.nextInt(8)));
            }
            FloatVector v = FloatVector.fromArray(S, x, 0);
            float[] e = VectorMath.exp(v).toArray(), t = VectorMath.tanh(v).toArray();
            for (int i = 0; i < L; i++) {
                assertThat(Float.floatToRawIntBits(e[i])).as("exp(%s)", x[i])
                        .isEqualTo(Float.floatToRawIntBits(expScalar(x[i])));
                float tanh = 1f - 2f / (expScalar(2f * x[i]) + 1f);
                assertThat(Float.floatToRawIntBits(t[i])).as("tanh(%s)", x[i])
                        .isEqualTo(Float.floatToRawIntBits(tanh));
            }
            assertThat(Float.floatToRawIntBits(VectorMath.sum(v))).isEqualTo(Float.floatToRawIntBits(sumScalar(x)));
        }
    }

    @Test
    void accurate() {
        float[] x = new float[L];
        double worstExp = 0, worstTanh = 0;
        // below ≈ −87.3 the results are subnormal
        for (float a = -80f; a < 87.9f; a += 0.0137f) {
            for (int i = 0; i < L; i++) {
                x[i] = a + i * 1e-3f;
            }
            float[] e = VectorMath.exp(FloatVector.fromArray(S, x, 0)).toArray();
            float[] t = VectorMath.tanh(FloatVector.fromArray(S, x, 0)).toArray();
            for (int i = 0; i < L; i++) {
                double want = Math.exp(x[i]);
                worstExp = Math.max(worstExp, Math.abs(e[i] - want) / want);
                worstTanh = Math.max(worstTanh, Math.abs(t[i] - Math.tanh(x[i])));
            }
        }
        assertThat(worstExp).isLessThan(3e-7);
        assertThat(worstTanh).isLessThan(2e-7);
        float[] edge = new float[L];
        java.util.Arrays.fill(edge, Float.NaN);
        edge[0] = Float.NEGATIVE_INFINITY;
        edge[1 % L] = -1000f;
        float[] e = VectorMath.exp(FloatVector.fromArray(S, edge, 0)).toArray();
        assertThat(e[0]).isBetween(0f, 1e-37f);
        assertThat(e[L - 1]).isNaN();
        edge[0] = Float.POSITIVE_INFINITY;
        assertThat(VectorMath.exp(FloatVector.fromArray(S, edge, 0)).lane(0)).isGreaterThan(1e38f).isFinite();
    }
}
