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
import org.privllm.testing.Cases;

class KernelsTest {

    static Stream<Arguments> matmulMatchesDoubleReference() {
        return Cases.of(60, 2_000, d -> new Object[] {d.intIn(1, 20), d.intIn(1, 70), d.intIn(1, 70), d.bool(), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] n={0}, k={1}, out={2}, withBias={3}, seed={4}")
    @MethodSource
    void matmulMatchesDoubleReference(int n, int k, int out, boolean withBias, long seed) {
        checkAllPaths(n, k, out, withBias, new Random(seed));
    }

    static Stream<Arguments> eachRowIsTheSameAloneOrAmongOthers() {
        return Cases.of(60, 2_500, d -> new Object[] {d.intIn(1, 40), d.intIn(1, 300), d.intIn(1, 300), d.bool(), d.anyLong()});
    }

    /**
     * A row's product does not depend on the other rows of the call (bit for bit): the batched engine stacks the
     * rows of several sequences into one product and promises each the answer it gets alone (decode's one-row
     * GEMV, the 2-4-row and the 6-row tiles all accumulate in the same order).
     */
    @ParameterizedTest(name = "[{index}] n={0}, k={1}, out={2}, withBias={3}, seed={4}")
    @MethodSource
    void eachRowIsTheSameAloneOrAmongOthers(int n, int k, int out, boolean withBias, long seed) {
        Random rnd = new Random(seed);
        Matrix x = Naive.random(rnd, n, k);
        PackedWeight w = PackedWeight.pack(Naive.random(rnd, k, out));
        float[] bias = withBias ? Naive.randomVector(rnd, out) : null;
        Matrix all = Kernels.matmul(x, w, bias);
        for (int r = 0; r < n; r++) {
            Matrix alone = Kernels.matmul(x.rows(r, r + 1), w, bias);
            assertThat(Arrays.copyOfRange(all.data, r * out, (r + 1) * out)).as("row %d of %d", r, n).isEqualTo(alone.data);
        }
        if (n > 2) { // any contiguous run of rows, as a ragged batch cuts them
            int from = rnd.nextInt(n - 1), to = from + 1 + rnd.nextInt(n - from - 1);
            Matrix part = Kernels.matmul(x.rows(from, to), w, bias);
            assertThat(Arrays.copyOfRange(all.data, from * out, to * out)).isEqualTo(part.data);
        }
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

    static Stream<Arguments> packingRoundTrips() {
        return Cases.of(30, 3_000, d -> new Object[] {d.intIn(1, 40), d.intIn(1, 80), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] in={0}, out={1}, seed={2}")
    @MethodSource
    void packingRoundTrips(int in, int out, long seed) {
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

    static Stream<Arguments> dotAndAxpyMatchReference() {
        return Cases.of(40, 4_000, d -> new Object[] {d.intIn(0, 100), d.intIn(0, 9), d.intIn(0, 9), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] n={0}, ao={1}, bo={2}, seed={3}")
    @MethodSource
    void dotAndAxpyMatchReference(int n, int ao, int bo, long seed) {
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
