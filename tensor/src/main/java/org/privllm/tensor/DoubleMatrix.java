package org.privllm.tensor;

import java.util.Arrays;

/**
 * A dense row-major float64 matrix: the wide wire of the blinded privacy levels. A pad that hides a row
 * must be about a million times larger than the row, so the padded row and its product carry twenty
 * more bits than float32 has; in float64 the pad cancels to ~1e-9 of the signal.
 */
public final class DoubleMatrix {
    public final int rows;
    public final int cols;
    public final double[] data;

    public DoubleMatrix(int rows, int cols) {
        this(rows, cols, new double[checkedSize(rows, cols)]);
    }

    public DoubleMatrix(int rows, int cols, double[] data) {
        if (data.length != checkedSize(rows, cols)) {
            throw new IllegalArgumentException("matrix " + rows + "x" + cols + " needs " + (long) rows * cols
                    + " values, got " + data.length);
        }
        this.rows = rows;
        this.cols = cols;
        this.data = data;
    }

    private static int checkedSize(int rows, int cols) {
        if (rows < 0 || cols < 0 || (long) rows * cols > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("bad matrix shape " + rows + "x" + cols);
        }
        return rows * cols;
    }

    /** {@code m} widened exactly. */
    public static DoubleMatrix of(Matrix m) {
        DoubleMatrix d = new DoubleMatrix(m.rows, m.cols);
        for (int i = 0; i < m.data.length; i++) {
            d.data[i] = m.data[i];
        }
        return d;
    }

    /** Rounded to float32. */
    public Matrix toFloat() {
        Matrix m = new Matrix(rows, cols);
        for (int i = 0; i < data.length; i++) {
            m.data[i] = (float) data[i];
        }
        return m;
    }

    public double get(int r, int c) {
        return data[r * cols + c];
    }

    public DoubleMatrix copy() {
        return new DoubleMatrix(rows, cols, data.clone());
    }

    /** Rows {@code [from, to)} as a new matrix. */
    public DoubleMatrix rows(int from, int to) {
        return new DoubleMatrix(to - from, cols, Arrays.copyOfRange(data, from * cols, to * cols));
    }

    public String shape() {
        return rows + "x" + cols;
    }

    @Override
    public String toString() {
        return "DoubleMatrix[" + shape() + "]";
    }
}
