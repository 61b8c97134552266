package org.privllm.tensor;

import java.util.Random;

/** Double-precision reference implementations and tolerances for the kernel tests. */
final class Naive {
    private Naive() {}

    static Matrix random(Random rnd, int rows, int cols) {
        Matrix m = new Matrix(rows, cols);
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] = (float) rnd.nextGaussian();
        }
        return m;
    }

    static float[] randomVector(Random rnd, int n) {
        return random(rnd, 1, n).data;
    }

    /** {@code X·W + bias} in double. */
    static double[][] matmul(Matrix x, Matrix w, float[] bias) {
        double[][] y = new double[x.rows][w.cols];
        for (int i = 0; i < x.rows; i++) {
            for (int j = 0; j < w.cols; j++) {
                double s = bias == null ? 0 : bias[j];
                for (int p = 0; p < x.cols; p++) {
                    s += (double) x.get(i, p) * w.get(p, j);
                }
                y[i][j] = s;
            }
        }
        return y;
    }

    /**
     * Asserts {@code |y − ref| ≤ 1e-5 · (‖x_i‖·‖w_j‖ + |b_j|)} for every entry: the float rounding
     * bound of a length-k dot product, scaled by the row and column norms.
     */
    static void assertMatmulClose(Matrix y, double[][] ref, Matrix x, Matrix w, float[] bias) {
        if (y.rows != ref.length || (ref.length > 0 && y.cols != ref[0].length)) {
            throw new AssertionError("shape " + y.shape() + " != " + ref.length + "x" + (ref.length > 0 ? ref[0].length : 0));
        }
        double[] colNorm = new double[w.cols];
        for (int p = 0; p < w.rows; p++) {
            for (int j = 0; j < w.cols; j++) {
                colNorm[j] += (double) w.get(p, j) * w.get(p, j);
            }
        }
        for (int i = 0; i < y.rows; i++) {
            double rowNorm = 0;
            for (int p = 0; p < x.cols; p++) {
                rowNorm += (double) x.get(i, p) * x.get(i, p);
            }
            for (int j = 0; j < y.cols; j++) {
                double tol = 1e-5 * (Math.sqrt(rowNorm * colNorm[j]) + (bias == null ? 0 : Math.abs(bias[j]))) + 1e-30;
                double err = Math.abs(y.get(i, j) - ref[i][j]);
                if (!(err <= tol)) {
                    throw new AssertionError("entry (" + i + "," + j + ") of " + y.shape() + ": " + y.get(i, j)
                            + " vs " + ref[i][j] + " (tolerance " + tol + ")");
                }
            }
        }
    }
}
