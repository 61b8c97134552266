package org.privllm.tensor;

import java.util.Arrays;

/**
 * A dense row-major float matrix: the one tensor view of the engine. Row vectors multiply on the
 * right ({@code Y = X·W}), as in GPT-2's Conv1D and the obfuscation algebra.
 */
public final class Matrix {
    public final int rows;
    public final int cols;
    public final float[] data;

    public Matrix(int rows, int cols) {
        this(rows, cols, new float[checkedSize(rows, cols)]);
    }

    public Matrix(int rows, int cols, float[] data) {
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

    public static Matrix rowVector(float[] v) {
        return new Matrix(1, v.length, v);
    }

    public float get(int r, int c) {
        return data[r * cols + c];
    }

    public void set(int r, int c, float v) {
        data[r * cols + c] = v;
    }

    /** Offset of row {@code r} in {@link #data}. */
    public int offset(int r) {
        return r * cols;
    }

    public float[] row(int r) {
        return Arrays.copyOfRange(data, r * cols, (r + 1) * cols);
    }

    public Matrix copy() {
        return new Matrix(rows, cols, data.clone());
    }

    /** Rows {@code [from, to)} as a new matrix. */
    public Matrix rows(int from, int to) {
        return new Matrix(to - from, cols, Arrays.copyOfRange(data, from * cols, to * cols));
    }

    /** Columns {@code [from, to)} as a new matrix. */
    public Matrix cols(int from, int to) {
        Matrix out = new Matrix(rows, to - from);
        for (int r = 0; r < rows; r++) {
            System.arraycopy(data, r * cols + from, out.data, r * out.cols, out.cols);
        }
        return out;
    }

    public Matrix transpose() {
        Matrix t = new Matrix(cols, rows);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t.data[c * rows + r] = data[r * cols + c];
            }
        }
        return t;
    }

    public String shape() {
        return rows + "x" + cols;
    }

    @Override
    public String toString() {
        return "Matrix[" + shape() + "]";
    }
}
