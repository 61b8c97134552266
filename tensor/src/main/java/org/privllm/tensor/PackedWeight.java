package org.privllm.tensor;

/**
 * A weight matrix {@code W (in×out)} prepared once for repeated {@code X·W} products.
 *
 * <p>Layout (private to the kernels): column panels of {@link #NR} output columns. Panel {@code q}
 * holds columns {@code [q·NR, q·NR + NR)} as {@code in} consecutive rows of {@code NR} floats, the
 * columns past {@code out} zero. One panel is one contiguous stream, so decode's GEMV reads every
 * weight exactly once, in order, at memory speed, and prefill's GEMM micro-kernel loads two full
 * vectors per step of the inner dimension without any gather.
 */
public final class PackedWeight {
    /** Panel width: two vectors of the preferred species (16 floats with AVX2). */
    static final int NR = 2 * Kernels.LANES;

    final int in;
    final int out;
    final float[] panels;

    private PackedWeight(int in, int out) {
        if (in <= 0 || out <= 0) {
            throw new IllegalArgumentException("weight shape " + in + "x" + out + " must be positive");
        }
        long size = (long) panelCount(out) * in * NR;
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("weight " + in + "x" + out + " too large to pack");
        }
        this.in = in;
        this.out = out;
        this.panels = new float[(int) size];
    }

    private static int panelCount(int out) {
        return (out + NR - 1) / NR;
    }

    int panelCount() {
        return panelCount(out);
    }

    /** Offset of panel {@code q} in {@link #panels}. */
    int panelOffset(int q) {
        return q * in * NR;
    }

    /** Packs {@code W (in×out)}, row-major: each panel row is one contiguous copy. */
    public static PackedWeight pack(Matrix w) {
        PackedWeight p = new PackedWeight(w.rows, w.cols);
        int in = p.in, out = p.out;
        Parallel.forRange(p.panelCount(), Math.max(1, (1 << 16) / (in * NR)), (from, to) -> {
            for (int q = from; q < to; q++) {
                int c0 = q * NR, width = Math.min(NR, out - c0), base = p.panelOffset(q);
                for (int r = 0; r < in; r++) {
                    System.arraycopy(w.data, r * out + c0, p.panels, base + r * NR, width);
                }
            }
        });
        return p;
    }

    /**
     * Packs from a transposed matrix {@code Wᵀ (out×in)}, e.g. GPT-2's tied LM head {@code wte}
     * ({@code vocab×n_embd}) for {@code logits = h·wteᵀ}. The source is copied, not kept.
     */
    public static PackedWeight packTransposed(Matrix wT) {
        PackedWeight p = new PackedWeight(wT.cols, wT.rows);
        int in = p.in, out = p.out;
        Parallel.forRange(p.panelCount(), Math.max(1, (1 << 16) / (in * NR)), (from, to) -> {
            for (int q = from; q < to; q++) {
                int c0 = q * NR, width = Math.min(NR, out - c0), base = p.panelOffset(q);
                for (int c = 0; c < width; c++) {
                    int src = (c0 + c) * in;
                    for (int r = 0; r < in; r++) {
                        p.panels[base + r * NR + c] = wT.data[src + r];
                    }
                }
            }
        });
        return p;
    }

    public int inDim() {
        return in;
    }

    public int outDim() {
        return out;
    }

    /** The weight as a plain {@code in×out} matrix (a copy). */
    public Matrix toMatrix() {
        Matrix w = new Matrix(in, out);
        for (int q = 0; q < panelCount(); q++) {
            int c0 = q * NR, width = Math.min(NR, out - c0), base = panelOffset(q);
            for (int r = 0; r < in; r++) {
                System.arraycopy(panels, base + r * NR, w.data, r * out + c0, width);
            }
        }
        return w;
    }

    /**
     * Copies column {@code j} of {@code W} (row {@code j} of {@code Wᵀ}) into {@code dst[off..off+in)}.
     * For the tied LM head this is token {@code j}'s embedding, so a model need not keep {@code wte}
     * twice.
     */
    public void copyColumn(int j, float[] dst, int off) {
        if (j < 0 || j >= out) {
            throw new IndexOutOfBoundsException("column " + j + " outside 0.." + (out - 1));
        }
        int src = panelOffset(j / NR) + j % NR;
        for (int r = 0; r < in; r++) {
            dst[off + r] = panels[src + r * NR];
        }
    }

    /** Bytes held by the packed form (padding of the last panel included). */
    public long bytes() {
        return 4L * panels.length;
    }
}
