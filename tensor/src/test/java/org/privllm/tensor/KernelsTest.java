package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class KernelsTest {

    @Property(tries = 60)
    void matmulMatchesDoubleReference(@ForAll @IntRange(min = 1, max = 20) int n,
                                      @ForAll @IntRange(min = 1, max = 70) int k,
                                      @ForAll @IntRange(min = 1, max = 70) int out,
                                      @ForAll boolean withBias, @ForAll long seed) {
        checkAllPaths(n, k, out, withBias, new Random(seed));
    }

    /** Edge shapes: single entries, sizes off the vector width, tile height and panel width, and parallel sizes. */
    @ParameterizedTest
    @CsvSource({"1,1,1", "3,5,7", "17,33,65", "6,16,16", "7,8,17", "5,32,32", "13,300,517", "128,64,200",
            "1,768,100", "4,257,1000", "2,1000,33", "3,3072,40"})
    void matmulEdgeShapes(int n, int k, int out) {
        checkAllPaths(n, k, out, true, new Random(n * 31L + k * 7L + out));
        checkAllPaths(n, k, out, false, new Random(n + k + out));
    }

    /** Every way to reach the kernel: pack, packTransposed, the two-matrix helpers, and a reused output. */
    private static void checkAllPaths(int n, int k, int out, boolean withBias, Random rnd) {
        Matrix x = Naive.random(rnd, n, k);
        Matrix w = Naive.random(rnd, k, out);
        float[] bias = withBias ? Naive.randomVector(rnd, out) : null;
        double[][] ref = Naive.matmul(x, w, bias);
        Naive.assertMatmulClose(Kernels.matmul(x, PackedWeight.pack(w), bias), ref, x, w, bias);
        Naive.assertMatmulClose(Kernels.matmul(x, PackedWeight.packTransposed(w.transpose()), bias), ref, x, w, bias);
        Matrix y = new Matrix(n, out);
        Arrays.fill(y.data, Float.NaN); // the output is overwritten, never accumulated into
        Kernels.matmul(x, PackedWeight.pack(w), bias, y);
        Naive.assertMatmulClose(y, ref, x, w, bias);
        double[][] plain = Naive.matmul(x, w, null);
        Naive.assertMatmulClose(Kernels.matmul(x, w), plain, x, w, null);
        Naive.assertMatmulClose(Kernels.matmulTransposed(x, w.transpose()), plain, x, w, null);
    }

    @Property(tries = 30)
    void packingRoundTrips(@ForAll @IntRange(min = 1, max = 40) int in, @ForAll @IntRange(min = 1, max = 80) int out,
                           @ForAll long seed) {
        Matrix w = Naive.random(new Random(seed), in, out);
        PackedWeight p = PackedWeight.pack(w);
        assertThat(p.toMatrix().data).containsExactly(w.data);
        assertThat(PackedWeight.packTransposed(w.transpose()).toMatrix().data).containsExactly(w.data);
        assertThat(p.inDim()).isEqualTo(in);
        assertThat(p.outDim()).isEqualTo(out);
        Matrix wT = w.transpose();
        PackedWeight head = PackedWeight.packTransposed(wT);
        float[] column = new float[in + 2];
        for (int j = 0; j < out; j++) {
            head.copyColumn(j, column, 2);
            assertThat(Arrays.copyOfRange(column, 2, in + 2)).containsExactly(wT.row(j));
        }
        assertThatThrownBy(() -> head.copyColumn(out, column, 0)).hasMessageContaining("column " + out);
        assertThat(p.bytes()).isGreaterThanOrEqualTo(4L * in * out).isLessThan(4L * in * (out + PackedWeight.NR));
    }

    @Property(tries = 40)
    void dotAndAxpyMatchReference(@ForAll @IntRange(min = 0, max = 100) int n, @ForAll @IntRange(min = 0, max = 9) int ao,
                                  @ForAll @IntRange(min = 0, max = 9) int bo, @ForAll long seed) {
        Random rnd = new Random(seed);
        float[] a = Naive.randomVector(rnd, n + ao), b = Naive.randomVector(rnd, n + bo);
        double ref = 0, norm = 0;
        for (int i = 0; i < n; i++) {
            ref += (double) a[ao + i] * b[bo + i];
            norm += Math.abs((double) a[ao + i] * b[bo + i]);
        }
        assertThat((double) Kernels.dot(a, ao, b, bo, n)).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-6 * norm + 1e-30));
        float alpha = (float) rnd.nextGaussian();
        float[] y = b.clone();
        Kernels.axpy(alpha, a, ao, y, bo, n);
        for (int i = 0; i < n + bo; i++) {
            double expect = i < bo ? b[i] : b[i] + (double) alpha * a[ao + i - bo];
            assertThat((double) y[i]).isCloseTo(expect, org.assertj.core.data.Offset.offset(1e-6 * (Math.abs(expect) + Math.abs(b[i])) + 1e-30));
        }
    }

    @Test
    void addInPlaceAddsElementwise() {
        Matrix y = new Matrix(2, 3, new float[] {1, 2, 3, 4, 5, 6});
        Kernels.addInPlace(y, new Matrix(2, 3, new float[] {10, 20, 30, 40, 50, 60}));
        assertThat(y.data).containsExactly(11, 22, 33, 44, 55, 66);
        assertThatThrownBy(() -> Kernels.addInPlace(y, new Matrix(3, 2))).hasMessageContaining("add shapes");
    }

    @Test
    void badShapesAreRejectedWithOneLineMessages() {
        PackedWeight w = PackedWeight.pack(new Matrix(4, 5));
        assertThatThrownBy(() -> Kernels.matmul(new Matrix(2, 3), w, null)).hasMessage("matmul shapes 2x3 · 4x5 -> 2x5");
        assertThatThrownBy(() -> Kernels.matmul(new Matrix(2, 4), w, new float[4])).hasMessage("bias length 4 != 5");
        assertThatThrownBy(() -> Kernels.matmul(new Matrix(2, 4), w, null, new Matrix(2, 4)))
                .hasMessageContaining("matmul shapes");
        assertThatThrownBy(() -> PackedWeight.pack(new Matrix(0, 5))).hasMessageContaining("must be positive");
        Matrix sq = new Matrix(4, 4);
        assertThatThrownBy(() -> Kernels.matmul(sq, PackedWeight.pack(sq), null, sq)).hasMessageContaining("alias");
    }

    @Test
    void zeroRowsGiveAnEmptyResult() {
        assertThat(Kernels.matmul(new Matrix(0, 4), PackedWeight.pack(new Matrix(4, 5)), null).shape()).isEqualTo("0x5");
    }

    @Test
    void backendIsNamed() {
        assertThat(Kernels.backend()).startsWith("java-vector");
    }
}
