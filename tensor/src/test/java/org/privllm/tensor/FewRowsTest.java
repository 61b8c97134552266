package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.tensor.PackedWeight.Precision;
import org.privllm.testing.Cases;

/**
 * Decode's and batched decode's tiles (one to eight rows: {@code tile1x2}, the half-width GEMV widened in registers,
 * {@code tile4}, {@code tileWide}, {@code tile8}) and the GEMM's just past them, against the plain computation: each
 * output is the chain {@code c = bias_j; c = fma(x_p, w_pj, c)} for {@code p = 0, 1, …} in order, bit for bit, for
 * every row count 1–13, odd output widths (a last partial panel, an odd panel count), inner dimensions across the
 * half-width blocks, at float32 and both half widths.
 */
class FewRowsTest {

    /** The kernels' arithmetic, one scalar at a time: one FMA per inner step from the bias (or zero), in order. */
    static float[] fmaChain(Matrix x, Matrix w, float[] bias) {
        float[] y = new float[x.rows * w.cols];
        for (int i = 0; i < x.rows; i++) {
            for (int j = 0; j < w.cols; j++) {
                float c = bias == null ? 0f : bias[j];
                for (int p = 0; p < x.cols; p++) {
                    c = Math.fma(x.data[i * x.cols + p], w.data[p * w.cols + j], c);
                }
                y[i * w.cols + j] = c;
            }
        }
        return y;
    }

    static Stream<Arguments> everyRowCountIsTheFmaChain() {
        return IntStream.rangeClosed(1, 13).boxed().flatMap(n -> Stream.of(Precision.values()).flatMap(p ->
                Cases.of(3, 17_000L + 100L * n + p.ordinal(), d -> new Object[] {n, p, d.intIn(1, 600),
                        2 * d.intIn(0, 110) + 1, d.bool(), d.anyLong()})));
    }

    /**
     * One row over every panel count from 1 to 40 (decode's {@code Kernels.gemv}: half-width tiles stream up to
     * eight panels, a chunk's last tile repeats its last panel; the threads split the panels into chunks), ragged
     * last panels included: bit for bit the FMA chain.
     */
    @ParameterizedTest(name = "[{index}] {0} panels {1} k={2}, out={3}, seed={4}")
    @MethodSource
    void oneRowOverEveryPanelCount(int panels, Precision p, int k, int out, long seed) {
        Random rnd = new Random(seed);
        Matrix x = Naive.random(rnd, 1, k);
        Matrix w = HalfWeightTest.representable(rnd, k, out, p, 0.05);
        float[] bias = rnd.nextBoolean() ? Naive.randomVector(rnd, out) : null;
        assertThat(Kernels.matmul(x, PackedWeight.pack(w, p), bias).data).as("%d panels at %s", panels, p)
                .isEqualTo(fmaChain(x, w, bias));
    }

    static Stream<Arguments> oneRowOverEveryPanelCount() {
        int nr = 2 * Kernels.LANES;
        return IntStream.rangeClosed(1, 40).boxed().flatMap(panels -> Stream.of(Precision.values()).flatMap(p ->
                Cases.of(1, 23_000L + 10L * panels + p.ordinal(), d -> new Object[] {panels, p, d.intIn(1, 300),
                        (panels - 1) * nr + d.intIn(1, nr), d.anyLong()})));
    }

    @ParameterizedTest(name = "[{index}] n={0} {1} k={2}, out={3}, withBias={4}, seed={5}")
    @MethodSource
    void everyRowCountIsTheFmaChain(int n, Precision p, int k, int out, boolean withBias, long seed) {
        Random rnd = new Random(seed);
        Matrix x = Naive.random(rnd, n, k);
        Matrix w = HalfWeightTest.representable(rnd, k, out, p, 0.05);
        float[] bias = withBias ? Naive.randomVector(rnd, out) : null;
        PackedWeight packed = PackedWeight.pack(w, p);
        float[] expect = fmaChain(x, w, bias);
        Matrix y = Kernels.matmul(x, packed, bias);
        assertThat(y.data).as("%d rows at %s", n, p).isEqualTo(expect);
        assertThat(Kernels.matmul(x, PackedWeight.packTransposed(w.transpose(), p), bias).data).isEqualTo(expect);
        for (int r = 0; r < n; r++) { // alone, and as the last row of every shorter batch ending at it
            Matrix alone = Kernels.matmul(x.rows(r, r + 1), packed, bias);
            assertThat(alone.data).as("row %d alone", r).isEqualTo(Arrays.copyOfRange(expect, r * out, (r + 1) * out));
            Matrix upTo = Kernels.matmul(x.rows(0, r + 1), packed, bias);
            assertThat(upTo.data).as("rows 0..%d", r).isEqualTo(Arrays.copyOfRange(expect, 0, (r + 1) * out));
        }
    }
}
