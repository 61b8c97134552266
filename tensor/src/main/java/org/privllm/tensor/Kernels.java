package org.privllm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The numeric kernels. Each is a small method on flat arrays so the JIT vectorises it; the public
 * entry points check shapes and split work over {@link Parallel}.
 */
public final class Kernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private Kernels() {}

    /** {@code X·W + bias} into a new matrix; {@code bias} may be null. */
    public static Matrix matmul(Matrix x, PackedWeight w, float[] bias) {
        Matrix y = new Matrix(x.rows, w.out);
        matmul(x, w, bias, y);
        return y;
    }

    /** {@code y = X·W + bias}; {@code bias} may be null. */
    public static void matmul(Matrix x, PackedWeight w, float[] bias, Matrix y) {
        if (x.cols != w.in || y.rows != x.rows || y.cols != w.out) {
            throw new IllegalArgumentException("matmul shapes " + x.shape() + " · " + w.in + "x" + w.out
                    + " -> " + y.shape());
        }
        if (bias != null && bias.length != w.out) {
            throw new IllegalArgumentException("bias length " + bias.length + " != " + w.out);
        }
        int n = x.rows, k = w.in;
        float[] xd = x.data, wt = w.transposed, yd = y.data;
        Parallel.forRange(w.out, 16, (from, to) -> {
            for (int j = from; j < to; j++) {
                float b = bias == null ? 0f : bias[j];
                int wo = j * k;
                for (int i = 0; i < n; i++) {
                    yd[i * w.out + j] = dot(xd, i * k, wt, wo, k) + b;
                }
            }
        });
    }

    /** Plain product of two matrices {@code A·B} (packs B on the fly). */
    public static Matrix matmul(Matrix a, Matrix b) {
        return matmul(a, PackedWeight.pack(b), null);
    }

    /** {@code A·Bᵀ} without materialising the transpose. */
    public static Matrix matmulTransposed(Matrix a, Matrix b) {
        return matmul(a, PackedWeight.packTransposed(b), null);
    }

    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector acc = FloatVector.zero(S);
        for (; i < bound; i += S.length()) {
            acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += a[ao + i] * b[bo + i];
        }
        return sum;
    }

    /** {@code y[yo..yo+n) += alpha · x[xo..xo+n)}. */
    public static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        int bound = S.loopBound(n);
        FloatVector va = FloatVector.broadcast(S, alpha);
        for (; i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xo + i).fma(va, FloatVector.fromArray(S, y, yo + i))
                    .intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += alpha * x[xo + i];
        }
    }

    /** {@code y += x} elementwise (same shape). */
    public static void addInPlace(Matrix y, Matrix x) {
        if (y.rows != x.rows || y.cols != x.cols) {
            throw new IllegalArgumentException("add shapes " + y.shape() + " + " + x.shape());
        }
        axpy(1f, x.data, 0, y.data, 0, y.data.length);
    }
}
