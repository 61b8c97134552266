package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.tensor.PackedWeight.Precision;
import org.privllm.testing.Cases;

/**
 * Half-width packed weights (BF16, F16): a weight whose values a half precision holds exactly gives, packed at
 * that precision, the very products of the same weight packed at float32 — bit for bit, on every path (decode's
 * one- and two-panel GEMV, the 2–4-row tile, the GEMM's blocked 6-row tiles, parallel splits, bias or none) —
 * and those are within float32 rounding of a float64 reference.
 */
class HalfWeightTest {

    /** A Gaussian matrix rounded to {@code p} (with a few zeros, negative zeros and, for F16, subnormals). */
    static Matrix representable(Random rnd, int rows, int cols, Precision p, double scale) {
        Matrix m = Naive.random(rnd, rows, cols);
        for (int i = 0; i < m.data.length; i++) {
            float v = (float) (m.data[i] * scale);
            int pick = rnd.nextInt(50);
            if (pick == 0) {
                v = 0f;
            } else if (pick == 1) {
                v = -0f;
            } else if (pick == 2 && p == Precision.F16) {
                v = Float.float16ToFloat((short) (rnd.nextInt(0x3ff) + 1 | (rnd.nextBoolean() ? 0x8000 : 0))); // subnormal
            }
            m.data[i] = round(v, p);
        }
        return m;
    }

    static float round(float v, Precision p) {
        return switch (p) {
            case F32 -> v;
            case BF16 -> Float.intBitsToFloat((Float.floatToRawIntBits(v) + 0x8000) & 0xffff0000);
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(v));
        };
    }

    static Stream<Arguments> halfEqualsFloat32BitForBit() {
        return Cases.of(80, 14_000, d -> new Object[] {d.oneOf(Precision.BF16, Precision.F16), d.intIn(1, 20),
                d.intIn(1, 600), d.intIn(1, 150), d.bool(), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] {0} n={1}, k={2}, out={3}, withBias={4}, seed={5}")
    @MethodSource
    void halfEqualsFloat32BitForBit(Precision p, int n, int k, int out, boolean withBias, long seed) {
        checkBitForBit(p, n, k, out, withBias, new Random(seed));
    }

    /** Shapes of GPT-2 124M's layers and a few edges: blocks of the inner dimension, whole and partial panels. */
    @ParameterizedTest
    @CsvSource({"BF16,1,768,2304", "F16,1,768,2304", "BF16,4,3072,768", "BF16,8,768,200", "F16,128,768,96",
            "BF16,128,3072,64", "F16,5,257,1000", "BF16,1,1,1", "F16,7,513,33", "BF16,2,2048,1536"})
    void halfEqualsFloat32AtModelShapes(Precision p, int n, int k, int out) {
        checkBitForBit(p, n, k, out, true, new Random(n * 131L + k * 17L + out));
    }

    private static void checkBitForBit(Precision p, int n, int k, int out, boolean withBias, Random rnd) {
        Matrix x = Naive.random(rnd, n, k);
        Matrix w = representable(rnd, k, out, p, 0.05);
        float[] bias = withBias ? Naive.randomVector(rnd, out) : null;
        PackedWeight half = PackedWeight.pack(w, p), full = PackedWeight.pack(w);
        assertThat(half.precision()).isEqualTo(p);
        assertThat(PackedWeight.lossless(w)).isIn(p, Precision.BF16); // a value held in BF16 may also be held in F16
        Matrix y = Kernels.matmul(x, half, bias);
        assertThat(y.data).isEqualTo(Kernels.matmul(x, full, bias).data);
        Naive.assertMatmulClose(y, Naive.matmul(x, w, bias), x, w, bias);
        PackedWeight halfT = PackedWeight.packTransposed(w.transpose(), p);
        assertThat(Kernels.matmul(x, halfT, bias).data).isEqualTo(y.data);
        for (int r = 0; r < n; r++) { // each row alone gives its row of the batch (the batched engine's promise)
            Matrix alone = Kernels.matmul(x.rows(r, r + 1), half, bias);
            assertThat(alone.data).as("row %d of %d", r, n).isEqualTo(Arrays.copyOfRange(y.data, r * out, (r + 1) * out));
        }
    }

    static Stream<Arguments> halfPackingRoundTrips() {
        return Cases.of(30, 15_000, d -> new Object[] {d.oneOf(Precision.BF16, Precision.F16), d.intIn(1, 40),
                d.intIn(1, 80), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] {0} in={1}, out={2}, seed={3}")
    @MethodSource
    void halfPackingRoundTrips(Precision p, int in, int out, long seed) {
        Matrix w = representable(new Random(seed), in, out, p, 1);
        PackedWeight packed = PackedWeight.pack(w, p);
        assertThat(packed.toMatrix().data).containsExactly(w.data);
        PackedWeight head = PackedWeight.packTransposed(w.transpose(), p);
        assertThat(head.toMatrix().data).containsExactly(w.data);
        float[] column = new float[in + 1];
        for (int j = 0; j < out; j++) {
            head.copyColumn(j, column, 1);
            for (int r = 0; r < in; r++) {
                assertThat(Float.floatToRawIntBits(column[1 + r])).isEqualTo(Float.floatToRawIntBits(w.get(r, j)));
            }
        }
        assertThat(packed.bytes()).isGreaterThanOrEqualTo(2L * in * out).isLessThan(2L * in * (out + PackedWeight.NR));
    }

    @Test
    void losslessPicksTheNarrowestExactPrecision() {
        Random rnd = new Random(3);
        assertThat(PackedWeight.lossless(representable(rnd, 9, 40, Precision.BF16, 1))).isEqualTo(Precision.BF16);
        Matrix f16 = representable(rnd, 9, 40, Precision.F16, 1);
        f16.data[0] = Float.float16ToFloat((short) 0x3c01); // 1 + 2^-10: float16, not bfloat16
        assertThat(PackedWeight.lossless(f16)).isEqualTo(Precision.F16);
        assertThat(PackedWeight.lossless(Naive.random(rnd, 9, 40))).isEqualTo(Precision.F32);
        Matrix big = representable(rnd, 2, 3, Precision.F16, 1);
        big.data[3] = 1e6f; // beyond float16's range
        big.data[4] = 1e6f + 64;
        assertThat(PackedWeight.lossless(big)).isEqualTo(Precision.F32);
        assertThat(PackedWeight.packNative(representable(rnd, 3, 3, Precision.BF16, 1)).precision()).isEqualTo(Precision.BF16);
    }

    @Test
    void aValueThePrecisionDoesNotHoldIsRefused() {
        Matrix w = new Matrix(2, 2, new float[] {1f, 1.1f, 0f, 2f});
        assertThatThrownBy(() -> PackedWeight.pack(w, Precision.BF16)).hasMessageContaining("not exactly representable in BF16");
        assertThatThrownBy(() -> PackedWeight.pack(new Matrix(1, 1, new float[] {Float.POSITIVE_INFINITY}), Precision.F16))
                .hasMessageContaining("F16");
    }

    @Test
    void wideProductsRefuseHalfWidthWeights() {
        PackedWeight h = PackedWeight.pack(new Matrix(2, 2, new float[] {1, 2, 3, 4}), Precision.BF16);
        assertThatThrownBy(() -> WideKernels.matmul(new DoubleMatrix(1, 2), h)).hasMessageContaining("float32");
    }
}
