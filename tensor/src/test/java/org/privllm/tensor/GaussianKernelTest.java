package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

class GaussianKernelTest {

    @Test
    void momentsAndTailsAreThoseOfTheNormal() {
        int n = 1 << 20;
        float[] out = sample(n, 2.5f, 1);
        double s = 0, s2 = 0, s4 = 0;
        long beyond2 = 0;
        for (float v : out) {
            double z = v / 2.5;
            s += z;
            s2 += z * z;
            s4 += z * z * z * z;
            beyond2 += Math.abs(z) > 2 ? 1 : 0;
        }
        assertThat(s / n).isBetween(-0.005, 0.005);
        assertThat(s2 / n).isBetween(0.99, 1.01);
        assertThat(s4 / n).isBetween(2.95, 3.05);          // kurtosis of the normal
        assertThat(beyond2 / (double) n).isBetween(0.0445, 0.0465); // P(|Z| > 2) = 0.0455
    }

    @Test
    void theVectorAndScalarPathsAgreeOnTheSameWords() {
        // 18 = two vector blocks (8 lanes) plus a scalar pair on AVX2; on other widths the split differs,
        // so compare against the scalar formula directly.
        int[] bits = new Random(7).ints(18).toArray();
        float[] out = new float[18];
        Kernels.gaussian(bits, out, 0, 18, 1f);
        int lanes = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        int vectorised = 18 / (2 * lanes) * 2 * lanes;
        for (int i = 0; i < vectorised; i += 2 * lanes) {
            for (int l = 0; l < lanes; l++) {
                double r = Math.sqrt(-2 * Math.log(((bits[i + l] >>> 8) + 1) * 0x1.0p-24));
                double a = (bits[i + lanes + l] >>> 8) * (2 * Math.PI * 0x1.0p-24);
                assertThat((double) out[i + l]).isCloseTo(r * Math.cos(a), org.assertj.core.data.Offset.offset(1e-5));
                assertThat((double) out[i + lanes + l]).isCloseTo(r * Math.sin(a), org.assertj.core.data.Offset.offset(1e-5));
            }
        }
        for (int i = vectorised; i < 18; i += 2) {
            double r = Math.sqrt(-2 * Math.log(((bits[i] >>> 8) + 1) * 0x1.0p-24));
            double a = (bits[i + 1] >>> 8) * (2 * Math.PI * 0x1.0p-24);
            assertThat((double) out[i]).isCloseTo(r * Math.cos(a), org.assertj.core.data.Offset.offset(1e-6));
        }
    }

    /** The polynomial logarithm, sine and cosine against StrictMath's, on a million words: a few float ulps. */
    @Test
    void theVectorPathIsWithinAFewUlpsOfTheStrictFormula() {
        int n = 1 << 20, lanes = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        int[] bits = new java.util.SplittableRandom(3).ints(n).toArray();
        float[] out = new float[n];
        Kernels.gaussian(bits, out, 0, n, 1f);
        double worst = 0;
        for (int i = 0; i < n; i += 2 * lanes) {
            for (int l = 0; l < lanes; l++) {
                double r = StrictMath.sqrt(-2 * StrictMath.log(((bits[i + l] >>> 8) + 1) * 0x1.0p-24));
                double a = (bits[i + lanes + l] >>> 8) * (2 * Math.PI * 0x1.0p-24);
                double err = Math.max(Math.abs(out[i + l] - r * StrictMath.cos(a)),
                        Math.abs(out[i + lanes + l] - r * StrictMath.sin(a)));
                worst = Math.max(worst, err / Math.max(r, 1e-3));
            }
        }
        assertThat(worst).isLessThan(5e-7); // measured 2.3e-7 (float's ulp at 1 is 1.2e-7)
    }

    @Test
    void refusesOddLengthsAndShortArrays() {
        assertThatThrownBy(() -> Kernels.gaussian(new int[4], new float[4], 0, 3, 1f)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Kernels.gaussian(new int[2], new float[4], 0, 4, 1f)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Kernels.gaussian(new int[4], new float[4], 2, 4, 1f)).isInstanceOf(IllegalArgumentException.class);
    }

    private static float[] sample(int n, float std, long seed) {
        int[] bits = new Random(seed).ints(n).toArray();
        float[] out = new float[n];
        Kernels.gaussian(bits, out, 0, n, std);
        return out;
    }
}
