package org.privllm.tensor;

/**
 * A weight matrix {@code W (in×out)} prepared once for repeated {@code X·W} products. The layout is
 * private to the kernels (currently {@code Wᵀ}, row-major, so each output column is one contiguous
 * stream: decode's GEMV reads the weights exactly once at memory speed).
 */
public final class PackedWeight {
    final int in;
    final int out;
    /** {@code Wᵀ}: out rows of length in. */
    final float[] transposed;

    private PackedWeight(int in, int out, float[] transposed) {
        this.in = in;
        this.out = out;
        this.transposed = transposed;
    }

    public static PackedWeight pack(Matrix w) {
        return new PackedWeight(w.rows, w.cols, w.transpose().data);
    }

    /** Packs from an already transposed matrix {@code Wᵀ (out×in)} without copying it. */
    public static PackedWeight packTransposed(Matrix wT) {
        return new PackedWeight(wT.cols, wT.rows, wT.data);
    }

    public int inDim() {
        return in;
    }

    public int outDim() {
        return out;
    }

    /** The weight as a plain {@code in×out} matrix (a copy). */
    public Matrix toMatrix() {
        return new Matrix(out, in, transposed).transpose();
    }

    public long bytes() {
        return 4L * transposed.length;
    }
}
