package org.privllm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Row normalisations: LayerNorm (GPT-2) and RMSNorm (Llama family). Statistics are accumulated in
 * double, the scaling is done in float, as torch does for float32 activations.
 */
public final class Norms {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private Norms() {}

    /** LayerNorm over each row (biased variance, as torch), into a new matrix. */
    public static Matrix layerNorm(Matrix x, float[] gamma, float[] beta, float eps) {
        long t0 = Profile.start();
        Matrix y = new Matrix(x.rows, x.cols);
        int d = x.cols;
        for (int r = 0; r < x.rows; r++) {
            int o = r * d;
            double mean = 0;
            for (int i = 0; i < d; i++) {
                mean += x.data[o + i];
            }
            mean /= d;
            double var = 0;
            for (int i = 0; i < d; i++) {
                double c = x.data[o + i] - mean;
                var += c * c;
            }
            var /= d;
            double inv = 1.0 / Math.sqrt(var + eps);
            for (int i = 0; i < d; i++) {
                y.data[o + i] = (float) ((x.data[o + i] - mean) * inv) * gamma[i] + beta[i];
            }
        }
        Profile.stop(Profile.Kind.NORM, t0);
        return y;
    }

    /** RMSNorm over each row, into a new matrix: {@code γ ⊙ x / √(mean(x²) + eps)}. */
    public static Matrix rmsNorm(Matrix x, float[] gamma, float eps) {
        if (gamma.length != x.cols) {
            throw new IllegalArgumentException("RMSNorm weight of " + gamma.length + " for rows of " + x.cols);
        }
        long t0 = Profile.start();
        Matrix y = new Matrix(x.rows, x.cols);
        for (int r = 0; r < x.rows; r++) {
            rmsNorm(x.data, r * x.cols, x.cols, gamma, eps, y.data, r * x.cols);
        }
        Profile.stop(Profile.Kind.NORM, t0);
        return y;
    }

    /**
     * {@code y[yo..yo+n) = γ ⊙ x[xo..xo+n) / √(mean(x²) + eps)}, as transformers' LlamaRMSNorm: the
     * mean of squares in double, then {@code γ·(x·r)} in float. {@code y} may be {@code x} (in place,
     * e.g. Qwen3's per-head q/k norm).
     */
    public static void rmsNorm(float[] x, int xo, int n, float[] gamma, float eps, float[] y, int yo) {
        double ss = 0;
        for (int i = 0; i < n; i++) {
            double v = x[xo + i];
            ss += v * v;
        }
        float r = (float) (1.0 / Math.sqrt(ss / n + eps));
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).mul(r).mul(FloatVector.fromArray(S, gamma, i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = x[xo + i] * r * gamma[i];
        }
    }
}
