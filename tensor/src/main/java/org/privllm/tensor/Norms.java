package org.privllm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row normalisations: LayerNorm (GPT-2) and RMSNorm (Llama family). The scaling is done in float, as torch
 * does for float32 activations; RMSNorm's mean of squares is accumulated in double, LayerNorm's moments in
 * float lanes added in double. Rows are split over {@link Parallel}; RMSNorm's sums use four interleaved
 * accumulators (a single chain of dependent double adds made prefill's norms latency-bound). Every sum is
 * added in a fixed order, so a row gives the same bits alone or among others.
 */
public final class Norms {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Rows per parallel chunk: a row is a few microseconds of work. */
    private static final int GRAIN = 8;

    private Norms() {}

    /** LayerNorm over each row (biased variance, as torch), into a new matrix. */
    public static Matrix layerNorm(Matrix x, float[] gamma, float[] beta, float eps) {
        long t0 = Profile.start();
        Matrix y = new Matrix(x.rows, x.cols);
        int d = x.cols;
        Parallel.forRange(x.rows, GRAIN, (from, to) -> {
            for (int r = from; r < to; r++) {
                layerNorm(x.data, r * d, d, gamma, beta, eps, y.data);
            }
        });
        Profile.stop(Profile.Kind.NORM, t0);
        return y;
    }

    /**
     * One row: mean and centred variance as sums over float lanes (a few dozen terms each at GPT-2's widths, as
     * torch's vectorised CPU kernel keeps them in float), the lanes folded in {@link VectorMath#FOLDS}' fixed order
     * (not {@code reduceLanes(ADD)}, which sums them in one order interpreted and another compiled: a sequence
     * alone and in a continuous batch then differed in the last bits) and the tail added in double; then
     * {@code (x − mean)·inv·γ + β} in float vectors. Was scalar in double throughout: 2.5–5 ms of a 128-token
     * GPT-2 124M prefill.
     */
    private static void layerNorm(float[] x, int o, int d, float[] gamma, float[] beta, float eps, float[] y) {
        int bound = S.loopBound(d), i = 0;
        FloatVector s = FloatVector.zero(S);
        for (; i < bound; i += S.length()) {
            s = s.add(FloatVector.fromArray(S, x, o + i));
        }
        for (VectorShuffle<Float> h : VectorMath.FOLDS) { // not reduceLanes(ADD): its order differs once compiled
            s = s.add(s.rearrange(h));
        }
        double sum = s.lane(0);
        for (; i < d; i++) {
            sum += x[o + i];
        }
        float mean = (float) (sum / d);
        FloatVector v = FloatVector.zero(S);
        for (i = 0; i < bound; i += S.length()) {
            FloatVector c = FloatVector.fromArray(S, x, o + i).sub(mean);
            v = c.fma(c, v);
        }
        for (VectorShuffle<Float> h : VectorMath.FOLDS) {
            v = v.add(v.rearrange(h));
        }
        double var = v.lane(0);
        for (; i < d; i++) {
            float c = x[o + i] - mean;
            var += c * c;
        }
        float inv = (float) (1.0 / Math.sqrt(var / d + eps));
        for (i = 0; i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, o + i).sub(mean).mul(inv)
                    .fma(FloatVector.fromArray(S, gamma, i), FloatVector.fromArray(S, beta, i)).intoArray(y, o + i);
        }
        for (; i < d; i++) {
            y[o + i] = Math.fma((x[o + i] - mean) * inv, gamma[i], beta[i]);
        }
    }

    /** RMSNorm over each row, into a new matrix: {@code γ ⊙ x / √(mean(x²) + eps)}. */
    public static Matrix rmsNorm(Matrix x, float[] gamma, float eps) {
        if (gamma.length != x.cols) {
            throw new IllegalArgumentException("RMSNorm weight of " + gamma.length + " for rows of " + x.cols);
        }
        long t0 = Profile.start();
        Matrix y = new Matrix(x.rows, x.cols);
        Parallel.forRange(x.rows, GRAIN, (from, to) -> {
            for (int r = from; r < to; r++) {
                rmsNorm(x.data, r * x.cols, x.cols, gamma, eps, y.data, r * x.cols);
            }
        });
        Profile.stop(Profile.Kind.NORM, t0);
        return y;
    }

    /**
     * {@code y[yo..yo+n) = γ ⊙ x[xo..xo+n) / √(mean(x²) + eps)}, as transformers' LlamaRMSNorm: the
     * mean of squares in double, then {@code γ·(x·r)} in float. {@code y} may be {@code x} (in place,
     * e.g. Qwen3's per-head q/k norm).
     */
    public static void rmsNorm(float[] x, int xo, int n, float[] gamma, float eps, float[] y, int yo) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            double v0 = x[xo + i], v1 = x[xo + i + 1], v2 = x[xo + i + 2], v3 = x[xo + i + 3];
            s0 += v0 * v0;
            s1 += v1 * v1;
            s2 += v2 * v2;
            s3 += v3 * v3;
        }
        for (; i < n; i++) {
            double v = x[xo + i];
            s0 += v * v;
        }
        float r = (float) (1.0 / Math.sqrt(((s0 + s1) + (s2 + s3)) / n + eps));
        i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).mul(r).mul(FloatVector.fromArray(S, gamma, i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = x[xo + i] * r * gamma[i];
        }
    }
}
