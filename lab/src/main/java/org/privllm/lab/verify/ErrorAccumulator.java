package org.privllm.lab.verify;

import java.util.Arrays;
import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.verify.ErrorStats;

/**
 * Collects (expected, actual) pairs from several comparisons — every layer, every head — into one
 * {@link ErrorStats} at the verification tolerance (atol = rtol = 1e-4).
 */
public final class ErrorAccumulator {
    private double[] expected = new double[64];
    private double[] actual = new double[64];
    private int size;

    public ErrorAccumulator add(double e, double a) {
        if (size == expected.length) {
            expected = Arrays.copyOf(expected, 2 * size);
            actual = Arrays.copyOf(actual, 2 * size);
        }
        expected[size] = e;
        actual[size++] = a;
        return this;
    }

    public ErrorAccumulator add(Matrix e, Matrix a) {
        checkShape(e.rows, e.cols, a.rows, a.cols);
        for (int i = 0; i < e.data.length; i++) {
            add(e.data[i], a.data[i]);
        }
        return this;
    }

    public ErrorAccumulator add(DMatrixRMaj e, DMatrixRMaj a) {
        checkShape(e.numRows, e.numCols, a.numRows, a.numCols);
        for (int i = 0; i < e.getNumElements(); i++) {
            add(e.data[i], a.data[i]);
        }
        return this;
    }

    public int size() {
        return size;
    }

    public ErrorStats stats() {
        return ErrorStats.compare(Arrays.copyOf(expected, size), Arrays.copyOf(actual, size), ErrorStats.TOLERANCE,
                ErrorStats.TOLERANCE);
    }

    private static void checkShape(int r1, int c1, int r2, int c2) {
        if (r1 != r2 || c1 != c2) {
            throw new IllegalArgumentException("compare shapes " + r1 + "x" + c1 + " and " + r2 + "x" + c2);
        }
    }
}
