package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.testing.Cases;

class WideKernelsTest {

    static Stream<Arguments> matmulMatchesExactProducts() {
        return Cases.of(60, 9_000, d -> new Object[] {d.intIn(1, 20), d.intIn(1, 70), d.intIn(1, 70), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] n={0}, k={1}, out={2}, seed={3}")
    @MethodSource
    void matmulMatchesExactProducts(int n, int k, int out, long seed) {
        check(n, k, out, new Random(seed));
    }

    @ParameterizedTest
    @CsvSource({"1,1,1", "3,5,7", "6,16,16", "7,8,17", "13,300,517", "128,64,200", "1,768,100", "4,257,1000", "2,3072,40"})
    void matmulEdgeShapes(int n, int k, int out) {
        check(n, k, out, new Random(n * 31L + k * 7L + out));
    }

    static Stream<Arguments> rowsAreTheFmaChainAcrossBlocks() {
        return Cases.of(40, 9_100, d -> new Object[] {d.intIn(2, 20), d.intIn(1, 3 * WideKernels.KC + 40),
                d.intIn(1, 70), d.anyLong()});
    }

    /**
     * Two or more rows: every output is {@code fma(x[p], w[p][j], ·)} over {@code p = 0..k-1} in order, bit for bit,
     * however {@code k} falls across the kernel's blocks of {@link WideKernels#KC} rows (the accumulators carried
     * between blocks).
     */
    @ParameterizedTest(name = "[{index}] n={0}, k={1}, out={2}, seed={3}")
    @MethodSource
    void rowsAreTheFmaChainAcrossBlocks(int n, int k, int out, long seed) {
        Random rnd = new Random(seed);
        Matrix w = Naive.random(rnd, k, out);
        DoubleMatrix x = new DoubleMatrix(n, k);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = rnd.nextGaussian() * Math.exp(3 * rnd.nextGaussian());
        }
        DoubleMatrix y = WideKernels.matmul(x, PackedWeight.pack(w));
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < out; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) {
                    acc = Math.fma(x.get(i, p), w.get(p, j), acc);
                }
                assertThat(y.get(i, j)).as("(%d,%d)", i, j).isEqualTo(acc);
            }
        }
    }

    /**
     * Rows padded a million times larger than the signal: {@code (x + t)·W − t·W} must give {@code x·W} to far
     * below float32's resolution, which is what the blinded levels rely on.
     */
    @Test
    void hugePadsCancelToFloat64Precision() {
        Random rnd = new Random(5);
        int n = 9, k = 768, out = 300;
        Matrix w = Naive.random(rnd, k, out);
        PackedWeight pw = PackedWeight.pack(w);
        DoubleMatrix x = DoubleMatrix.of(Naive.random(rnd, n, k));
        DoubleMatrix t = new DoubleMatrix(n, k);
        for (int i = 0; i < t.data.length; i++) {
            t.data[i] = 1e6 * rnd.nextGaussian();
        }
        DoubleMatrix padded = x.copy();
        WideKernels.addInPlace(padded, t);
        DoubleMatrix y = WideKernels.matmul(padded, pw);
        WideKernels.axpy(-1, WideKernels.matmul(t, pw).data, 0, y.data, 0, y.data.length);
        DoubleMatrix exact = WideKernels.matmul(x, pw);
        double worst = 0, scale = 0;
        for (int i = 0; i < y.data.length; i++) {
            worst = Math.max(worst, Math.abs(y.data[i] - exact.data[i]));
            scale = Math.max(scale, Math.abs(exact.data[i]));
        }
        assertThat(worst / scale).isLessThan(1e-7);
    }

    private static void check(int n, int k, int out, Random rnd) {
        Matrix w = Naive.random(rnd, k, out);
        DoubleMatrix x = new DoubleMatrix(n, k);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = rnd.nextGaussian() * Math.exp(3 * rnd.nextGaussian());
        }
        DoubleMatrix y = WideKernels.matmul(x, PackedWeight.pack(w));
        DoubleMatrix yt = WideKernels.matmul(x, PackedWeight.packTransposed(w.transpose()));
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < out; j++) {
                double ref = 0, abs = 0;
                for (int p = 0; p < k; p++) {
                    ref += x.get(i, p) * w.get(p, j);
                    abs += Math.abs(x.get(i, p) * w.get(p, j));
                }
                double tol = 4 * k * 0x1p-53 * abs + 1e-300;
                assertThat(Math.abs(y.get(i, j) - ref)).as("(%d,%d)", i, j).isLessThanOrEqualTo(tol);
                assertThat(yt.get(i, j)).isEqualTo(y.get(i, j));
            }
        }
    }

    @Test
    void shapeMismatchIsRefused() {
        assertThatThrownBy(() -> WideKernels.matmul(new DoubleMatrix(2, 3), PackedWeight.pack(new Matrix(4, 5))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2x3");
    }

    /**
     * The polynomial logarithm, sine and cosine against StrictMath's on the same words (the first word's top 52
     * bits give {@code u₁}, the second's top two bits the angle's quadrant and its next 52 the offset in it).
     */
    @Test
    void gaussianIsWithinAFewUlpsOfTheStrictFormula() {
        int n = 1 << 18, lanes = jdk.incubator.vector.DoubleVector.SPECIES_PREFERRED.length();
        SplittableRandom r = new SplittableRandom(5);
        long[] bits = new long[n];
        for (int i = 0; i < n; i++) {
            bits[i] = r.nextLong();
        }
        double[] g = new double[n];
        WideKernels.gaussian(bits, g, 0, n, 1.0);
        long one = Double.doubleToRawLongBits(1.0);
        double worst = 0;
        for (int i = 0; i < n; i += 2 * lanes) {
            for (int l = 0; l < lanes; l++) {
                double u1 = 2.0 - Double.longBitsToDouble(one | (bits[i + l] >>> 12));
                long w = bits[i + lanes + l];
                double a = Math.PI / 2 * ((w >>> 62) + (Double.longBitsToDouble(one | ((w << 2) >>> 12)) - 1.0));
                double rad = StrictMath.sqrt(-2 * StrictMath.log(u1));
                double err = Math.max(Math.abs(g[i + l] - rad * StrictMath.cos(a)),
                        Math.abs(g[i + lanes + l] - rad * StrictMath.sin(a)));
                worst = Math.max(worst, err / Math.max(rad, 1e-6));
            }
        }
        assertThat(worst).isLessThan(4e-15); // measured 1.2e-15
    }

    @Test
    void gaussianHasUnitMomentsAndRandomLowBits() {
        SplittableRandom r = new SplittableRandom(3);
        int n = 1 << 18;
        long[] bits = new long[n];
        for (int i = 0; i < n; i++) {
            bits[i] = r.nextLong();
        }
        double[] g = new double[n + 2];
        WideKernels.gaussian(bits, g, 2, n - 2, 3.0); // odd offset exercises the scalar tail too
        double sum = 0, sq = 0, quartic = 0;
        int lowBitOnes = 0;
        for (int i = 2; i < n; i++) {
            double v = g[i] / 3.0;
            sum += v;
            sq += v * v;
            quartic += v * v * v * v;
            lowBitOnes += (int) (Double.doubleToRawLongBits(g[i]) & 1); // the last mantissa bit is a fair coin
        }
        int m = n - 2;
        assertThat(sum / m).isBetween(-0.01, 0.01);
        assertThat(sq / m).isBetween(0.99, 1.01);
        assertThat(quartic / m).isBetween(2.9, 3.1);
        assertThat((double) lowBitOnes / m).isBetween(0.49, 0.51);
    }
}
