package org.privllm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row normalisations: LayerNorm (GPT-2) and RMSNorm (Llama family). Statistics are accumulated in
 * double, the scaling is done in float, as torch does for float32 activations. Rows are split over
 * {@link Parallel}; a row's sums use four interleaved accumulators (a single chain of dependent double
 * adds made prefill's norms latency-bound), added in a fixed order, so a row gives the same bits alone or
 * among others.
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

    private static void layerNorm(float[] x, int o, int d, float[] gamma, float[] beta, float eps, float[] y) {
        double m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        int i = 0;
        for (; i + 4 <= d; i += 4) {
            m0 += x[o + i];
            m1 += x[o + i + 1];
            m2 += x[o + i + 2];
            m3 += x[o + i + 3];
        }
        for (; i < d; i++) {
            m0 += x[o + i];
        }
        double mean = ((m0 + m1) + (m2 + m3)) / d;
        double v0 = 0, v1 = 0, v2 = 0, v3 = 0;
        for (i = 0; i + 4 <= d; i += 4) {
            double c0 = x[o + i] - mean, c1 = x[o + i + 1] - mean, c2 = x[o + i + 2] - mean, c3 = x[o + i + 3] - mean;
            v0 += c0 * c0;
            v1 += c1 * c1;
            v2 += c2 * c2;
            v3 += c3 * c3;
        }
        for (; i < d; i++) {
            double c = x[o + i] - mean;
            v0 += c * c;
        }
        double inv = 1.0 / Math.sqrt(((v0 + v1) + (v2 + v3)) / d + eps);
        for (i = 0; i < d; i++) {
            y[o + i] = (float) ((x[o + i] - mean) * inv) * gamma[i] + beta[i];
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
