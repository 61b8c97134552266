package org.privllm.trusted.linalg;

import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.Parallel;

/**
 * Double-precision helpers for the trusted algebra.
 *
 * <p>Why double: the trusted side does all of its obfuscation algebra (masks, masked weights, pads,
 * compensations, recovery) in float64, and the float32 path is nothing but a rounding of the tensors
 * that cross the wire to the executor. One algebra therefore serves both checks of issue 3: run
 * against the float32 executor it must match the plaintext within 1e-4, run against an exact float64
 * executor ({@code org.privllm.trusted.verify.Float64Channel}) within 1e-10 — with no float twin of
 * any mask or layer code. The price is a float→double widening of activations at the boundary
 * (O(n·d), small next to any mask application).
 */
public final class Dense {
    private static final int K_TILE = 64;
    private static final int J_TILE = 512;

    private Dense() {}

    /**
     * {@code A·B}: rows split over {@link Parallel}; within a thread, B is walked in k×j tiles small enough
     * to stay in L2 while every row of the chunk streams past them (the j loop is auto-vectorised).
     */
    public static DMatrixRMaj mul(DMatrixRMaj a, DMatrixRMaj b) {
        if (a.numCols != b.numRows) {
            throw new IllegalArgumentException("product shapes " + shape(a) + " · " + shape(b));
        }
        int n = a.numRows, k = a.numCols, m = b.numCols;
        DMatrixRMaj c = new DMatrixRMaj(n, m);
        double[] ad = a.data, bd = b.data, cd = c.data;
        Parallel.forRange(n, 4, (from, to) -> {
            for (int jj = 0; jj < m; jj += J_TILE) {
                int jEnd = Math.min(m, jj + J_TILE);
                for (int kk = 0; kk < k; kk += K_TILE) {
                    int kEnd = Math.min(k, kk + K_TILE);
                    for (int i = from; i < to; i++) {
                        int ci = i * m;
                        for (int p = kk; p < kEnd; p++) {
                            double aip = ad[i * k + p];
                            if (aip == 0) {
                                continue;
                            }
                            int bp = p * m;
                            for (int j = jj; j < jEnd; j++) {
                                cd[ci + j] += aip * bd[bp + j];
                            }
                        }
                    }
                }
            }
        });
        return c;
    }

    /** {@code A + B} into a new matrix. */
    public static DMatrixRMaj add(DMatrixRMaj a, DMatrixRMaj b) {
        checkSame(a, b, "sum");
        DMatrixRMaj c = a.copy();
        for (int i = 0; i < c.data.length; i++) {
            c.data[i] += b.data[i];
        }
        return c;
    }

    /** {@code A − B} into a new matrix. */
    public static DMatrixRMaj sub(DMatrixRMaj a, DMatrixRMaj b) {
        checkSame(a, b, "difference");
        DMatrixRMaj c = a.copy();
        for (int i = 0; i < c.data.length; i++) {
            c.data[i] -= b.data[i];
        }
        return c;
    }

    /** {@code s·A} into a new matrix. */
    public static DMatrixRMaj scale(double s, DMatrixRMaj a) {
        DMatrixRMaj c = a.copy();
        for (int i = 0; i < c.data.length; i++) {
            c.data[i] *= s;
        }
        return c;
    }

    /** Adds the row vector {@code v} to every row of {@code a}, in place. */
    public static void addRowInPlace(DMatrixRMaj a, double[] v) {
        if (v.length != a.numCols) {
            throw new IllegalArgumentException("row vector of " + v.length + " added to " + shape(a));
        }
        for (int i = 0; i < a.numRows; i++) {
            for (int j = 0; j < v.length; j++) {
                a.data[i * a.numCols + j] += v[j];
            }
        }
    }

    public static DMatrixRMaj transpose(DMatrixRMaj a) {
        DMatrixRMaj t = new DMatrixRMaj(a.numCols, a.numRows);
        for (int i = 0; i < a.numRows; i++) {
            for (int j = 0; j < a.numCols; j++) {
                t.data[j * a.numRows + i] = a.data[i * a.numCols + j];
            }
        }
        return t;
    }

    /** Columns {@code [from, to)} of {@code a}. */
    public static DMatrixRMaj cols(DMatrixRMaj a, int from, int to) {
        DMatrixRMaj out = new DMatrixRMaj(a.numRows, to - from);
        for (int i = 0; i < a.numRows; i++) {
            System.arraycopy(a.data, i * a.numCols + from, out.data, i * out.numCols, out.numCols);
        }
        return out;
    }

    /** Writes {@code block} into columns {@code [from, from + block.numCols)} of {@code a}. */
    public static void setCols(DMatrixRMaj a, int from, DMatrixRMaj block) {
        for (int i = 0; i < a.numRows; i++) {
            System.arraycopy(block.data, i * block.numCols, a.data, i * a.numCols + from, block.numCols);
        }
    }

    /**
     * A matrix of independent {@code N(0, std²)} entries. Uniforms come from one bulk {@code nextBytes}
     * per chunk (Box–Muller on 53-bit uniforms): a {@link java.security.SecureRandom} costs a lock and a
     * syscall-sized step per {@code nextGaussian}, which made a 3072×3072 mask take minutes.
     */
    public static DMatrixRMaj gaussian(int rows, int cols, double std, java.util.Random rnd) {
        DMatrixRMaj m = new DMatrixRMaj(rows, cols);
        double[] out = m.data;
        byte[] bytes = new byte[16 * 4096];
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(bytes);
        for (int i = 0; i < out.length; ) {
            rnd.nextBytes(bytes);
            buf.clear();
            while (buf.remaining() >= 16 && i < out.length) {
                double u1 = ((buf.getLong() >>> 11) + 1) * 0x1.0p-53; // (0, 1]
                double u2 = (buf.getLong() >>> 11) * 0x1.0p-53;      // [0, 1)
                double r = std * Math.sqrt(-2 * Math.log(u1));
                out[i++] = r * Math.cos(2 * Math.PI * u2);
                if (i < out.length) {
                    out[i++] = r * Math.sin(2 * Math.PI * u2);
                }
            }
        }
        return m;
    }

    /** Widens a float matrix. */
    public static DMatrixRMaj of(Matrix m) {
        DMatrixRMaj d = new DMatrixRMaj(m.rows, m.cols);
        for (int i = 0; i < m.data.length; i++) {
            d.data[i] = m.data[i];
        }
        return d;
    }

    /** A 1×n row from a float vector. */
    public static DMatrixRMaj row(float[] v) {
        return of(Matrix.rowVector(v));
    }

    /** Rounds to float (what crosses the wire). */
    public static Matrix toFloat(DMatrixRMaj d) {
        Matrix m = new Matrix(d.numRows, d.numCols);
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] = (float) d.data[i];
        }
        return m;
    }

    public static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    public static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    public static String shape(DMatrixRMaj a) {
        return a.numRows + "x" + a.numCols;
    }

    private static void checkSame(DMatrixRMaj a, DMatrixRMaj b, String what) {
        if (a.numRows != b.numRows || a.numCols != b.numCols) {
            throw new IllegalArgumentException(what + " shapes " + shape(a) + ", " + shape(b));
        }
    }
}
