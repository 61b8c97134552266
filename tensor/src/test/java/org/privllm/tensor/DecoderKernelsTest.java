package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import org.privllm.testing.Cases;

/** The Llama-family kernels (rotary embedding, RMSNorm, SwiGLU gating) against plain double loops. */
class DecoderKernelsTest {

    static Stream<Arguments> ropeRotatesPairsByPositionTimesFrequency() {
        return Cases.of(20, 8_000, d -> new Object[] {d.intIn(1, 7), d.intIn(1, 4), d.oneOf(2, 6, 8, 16, 32, 64, 128),
                d.intIn(0, 5000), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] rows={0}, heads={1}, dh={2}, maxPos={3}, seed={4}")
    @MethodSource
    void ropeRotatesPairsByPositionTimesFrequency(int rows, int heads, int dh, int maxPos, long seed) {
        Random rnd = new Random(seed);
        int col = rnd.nextInt(5), cols = col + heads * dh + rnd.nextInt(3);
        double[] inv = new double[dh / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = Math.pow(10000 + rnd.nextInt(1_000_000), -2.0 * i / dh);
        }
        Rope rope = new Rope(dh, inv);
        int[] pos = new int[rows];
        for (int r = 0; r < rows; r++) {
            pos[r] = rnd.nextInt(maxPos + 1);
        }
        Matrix x = Naive.random(rnd, rows, cols), before = x.copy();
        rope.rotate(x, col, heads, pos);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int h = (c - col) / dh, i = (c - col) % dh;
                if (c < col || h >= heads) {
                    assertThat(x.get(r, c)).isEqualTo(before.get(r, c));
                    continue;
                }
                int base = col + h * dh, half = dh / 2, k = i % half;
                double a = pos[r] * inv[k], x1 = before.get(r, base + k), x2 = before.get(r, base + half + k);
                double ref = i < half ? x1 * Math.cos(a) - x2 * Math.sin(a) : x2 * Math.cos(a) + x1 * Math.sin(a);
                assertThat((double) x.get(r, c)).as("row %d col %d", r, c).isCloseTo(ref, offset(1e-5));
            }
        }
    }

    @Test
    void ropeRefusesOddWidthsAndBadPositions() {
        assertThatThrownBy(() -> new Rope(3, new double[1])).hasMessageContaining("even head width");
        Rope rope = new Rope(4, new double[] {1, 0.5});
        assertThatThrownBy(() -> rope.rotate(new Matrix(1, 4), 0, 2, new int[] {0})).hasMessageContaining("rotary embedding of 2 heads");
        assertThatThrownBy(() -> rope.rotate(new Matrix(1, 4), 0, 1, new int[] {-1})).hasMessageContaining("negative position");
    }

    static Stream<Arguments> rmsNormMatchesDouble() {
        return Cases.of(15, 8_100, d -> new Object[] {d.intIn(1, 5), d.oneOf(1, 7, 8, 64, 100, 768), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] rows={0}, d={1}, seed={2}")
    @MethodSource
    void rmsNormMatchesDouble(int rows, int d, long seed) {
        Random rnd = new Random(seed);
        Matrix x = Naive.random(rnd, rows, d);
        float[] g = Naive.randomVector(rnd, d);
        float eps = 1e-5f;
        Matrix y = Norms.rmsNorm(x, g, eps);
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < d; i++) {
                ss += (double) x.get(r, i) * x.get(r, i);
            }
            double inv = 1 / Math.sqrt(ss / d + eps);
            for (int i = 0; i < d; i++) {
                assertThat((double) y.get(r, i)).isCloseTo(x.get(r, i) * inv * g[i], offset(1e-5 * (1 + Math.abs(g[i]))));
            }
        }
        // in place over one slice (Qwen3's per-head norm) gives the same values
        Matrix z = x.copy();
        Norms.rmsNorm(z.data, 0, d, g, eps, z.data, 0);
        assertThat(z.row(0)).containsExactly(y.row(0));
    }

    static Stream<Arguments> layerNormMatchesDoubleAndRowsAreIndependent() {
        return Cases.of(15, 8_200, d -> new Object[] {d.intIn(1, 40), d.oneOf(1, 7, 8, 64, 100, 768), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] rows={0}, d={1}, seed={2}")
    @MethodSource
    void layerNormMatchesDoubleAndRowsAreIndependent(int rows, int d, long seed) {
        Random rnd = new Random(seed);
        Matrix x = Naive.random(rnd, rows, d);
        float[] g = Naive.randomVector(rnd, d), b = Naive.randomVector(rnd, d);
        float eps = 1e-5f;
        Matrix y = Norms.layerNorm(x, g, b, eps);
        for (int r = 0; r < rows; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) {
                mean += x.get(r, i);
            }
            mean /= d;
            for (int i = 0; i < d; i++) {
                var += (x.get(r, i) - mean) * (x.get(r, i) - mean);
            }
            double inv = 1 / Math.sqrt(var / d + eps);
            for (int i = 0; i < d; i++) {
                assertThat((double) y.get(r, i)).isCloseTo((x.get(r, i) - mean) * inv * g[i] + b[i],
                        offset(1e-5 * (1 + Math.abs(g[i]))));
            }
            // a row alone (one thread) gives the bits it gets among the others (rows split over threads)
            Matrix alone = new Matrix(1, d);
            System.arraycopy(x.data, r * d, alone.data, 0, d);
            assertThat(Norms.layerNorm(alone, g, b, eps).row(0)).containsExactly(y.row(r));
            assertThat(Norms.rmsNorm(alone, g, eps).row(0)).containsExactly(Norms.rmsNorm(x, g, eps).row(r));
        }
    }

    static Stream<Arguments> siluGateMatchesDouble() {
        return Cases.of(10, 8_200, d -> new Object[] {d.intIn(1, 70), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] n={0}, seed={1}")
    @MethodSource
    void siluGateMatchesDouble(int n, long seed) {
        Random rnd = new Random(seed);
        float[] gu = new float[2 * n + 3];
        for (int i = 0; i < gu.length; i++) {
            gu[i] = (float) (rnd.nextGaussian() * 6);
        }
        gu[1] = -100f; // e^100 overflows float: silu → -0
        float[] out = new float[n + 1];
        Kernels.siluGate(gu, 1, gu, 1 + n, out, 1, n);
        for (int j = 0; j < n; j++) {
            double g = gu[1 + j], ref = g / (1 + Math.exp(-g)) * gu[1 + n + j];
            assertThat((double) out[1 + j]).as("j=%d", j).isCloseTo(ref, offset(1e-5 * (1 + Math.abs(ref))));
        }
        assertThat(out[0]).isZero();
    }
}
