package org.privllm.tensor;

/**
 * A weight matrix {@code W (in×out)} prepared once for repeated {@code X·W} products.
 *
 * <p>Layout (private to the kernels): column panels of {@link #NR} output columns. Panel {@code q}
 * holds columns {@code [q·NR, q·NR + NR)} as {@code in} consecutive rows of {@code NR} values, the
 * columns past {@code out} zero. One panel is one contiguous stream, so decode's GEMV reads every
 * weight exactly once, in order, at memory speed, and prefill's GEMM micro-kernel loads two full
 * vectors per step of the inner dimension without any gather.
 *
 * <p>Values are stored at a {@link Precision}: float32, or half width — bfloat16 or IEEE float16 — for
 * weights whose every value is exactly representable there (a BF16 or F16 checkpoint's weights are), so
 * decode reads half the bytes and every product is bit for bit the product of the float32 weight: the
 * kernels widen each value exactly before the same float32 multiply-adds. A half-width panel row is
 * {@code NR / 2} ints, int {@code j} holding column {@code j} in its low 16 bits and column
 * {@code j + NR/2} in its high 16 bits, so one int vector widens to the row's two float vectors with a
 * shift or a mask.
 */
public final class PackedWeight {
    /** Panel width: two vectors of the preferred species (16 floats with AVX2, 32 with AVX-512). */
    static final int NR = 2 * Kernels.LANES;
    /** Ints per half-width panel row. */
    static final int HALF_ROW = NR / 2;

    /** How the values are stored. */
    public enum Precision {
        /** IEEE float32. */
        F32(4),
        /** bfloat16: the top 16 bits of a float32. */
        BF16(2),
        /** IEEE float16 (finite values). */
        F16(2);

        private final int bytes;

        Precision(int bytes) {
            this.bytes = bytes;
        }

        /** Bytes per stored value. */
        public int bytes() {
            return bytes;
        }

        /** Lower-case name for reports ({@code f32}, {@code bf16}, {@code f16}). */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** Whether {@code v} is stored exactly at this precision. */
        public boolean holds(float v) {
            return switch (this) {
                case F32 -> true;
                case BF16 -> (Float.floatToRawIntBits(v) & 0xffff) == 0;
                case F16 -> Float.isFinite(v) && Float.floatToRawIntBits(Float.float16ToFloat(Float.floatToFloat16(v)))
                        == Float.floatToRawIntBits(v);
            };
        }

        /** {@code v}'s 16 stored bits (half precisions; {@code v} must be {@link #holds held}). */
        short toBits(float v) {
            return this == BF16 ? (short) (Float.floatToRawIntBits(v) >>> 16) : Float.floatToFloat16(v);
        }

        /** The float32 value of 16 stored bits. */
        float fromBits(int bits) {
            return this == BF16 ? Float.intBitsToFloat(bits << 16) : Float.float16ToFloat((short) bits);
        }
    }

    final int in;
    final int out;
    final Precision precision;
    /** Float32 panels, or null at half width. */
    final float[] panels;
    /** Half-width panels ({@link #HALF_ROW} ints per panel row), or null at float32. */
    final int[] halves;

    private PackedWeight(int in, int out, Precision precision) {
        if (in <= 0 || out <= 0) {
            throw new IllegalArgumentException("weight shape " + in + "x" + out + " must be positive");
        }
        long size = (long) panelCount(out) * in * NR;
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("weight " + in + "x" + out + " too large to pack");
        }
        this.in = in;
        this.out = out;
        this.precision = precision;
        this.panels = precision == Precision.F32 ? new float[(int) size] : null;
        this.halves = precision == Precision.F32 ? null : new int[(int) (size / 2)];
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

    /**
     * The narrowest precision that holds every value of {@code w} exactly: {@link Precision#BF16} if each
     * value's low 16 bits are zero, else {@link Precision#F16} if each is a finite float16, else
     * {@link Precision#F32}. The weights of a BF16 or F16 checkpoint, read as float32, come back at their own
     * precision; a float32 checkpoint's at float32 (its first values decide).
     */
    public static Precision lossless(Matrix w) {
        float[] d = w.data;
        boolean bf16 = true, f16 = true;
        for (int i = 0; i < d.length && (bf16 || f16); i++) {
            float v = d[i];
            bf16 &= (Float.floatToRawIntBits(v) & 0xffff) == 0;
            f16 = f16 && Precision.F16.holds(v);
        }
        return bf16 ? Precision.BF16 : f16 ? Precision.F16 : Precision.F32;
    }

    /** {@link #pack(Matrix, Precision)} at {@link #lossless(Matrix) the narrowest exact precision}. */
    public static PackedWeight packNative(Matrix w) {
        return pack(w, lossless(w));
    }

    /** {@link #packTransposed(Matrix, Precision)} at the narrowest exact precision of {@code wT}. */
    public static PackedWeight packTransposedNative(Matrix wT) {
        return packTransposed(wT, lossless(wT));
    }

    /** Packs {@code W (in×out)} at float32. */
    public static PackedWeight pack(Matrix w) {
        return pack(w, Precision.F32);
    }

    /**
     * Packs {@code W (in×out)}, row-major, at {@code precision}; a value the precision does not hold
     * exactly is refused (the packed weight is always the weight itself).
     */
    public static PackedWeight pack(Matrix w, Precision precision) {
        PackedWeight p = new PackedWeight(w.rows, w.cols, precision);
        if (precision != Precision.F32) {
            p.fillHalves((r, c) -> w.data[r * w.cols + c]);
            return p;
        }
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
     * ({@code vocab×n_embd}) for {@code logits = h·wteᵀ}, at float32. The source is copied, not kept.
     */
    public static PackedWeight packTransposed(Matrix wT) {
        return packTransposed(wT, Precision.F32);
    }

    /** {@link #packTransposed(Matrix)} at {@code precision} (exact values only, as {@link #pack(Matrix, Precision)}). */
    public static PackedWeight packTransposed(Matrix wT, Precision precision) {
        PackedWeight p = new PackedWeight(wT.cols, wT.rows, precision);
        if (precision != Precision.F32) {
            p.fillHalves((r, c) -> wT.data[c * wT.cols + r]);
            return p;
        }
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

    /** {@code W[r][c]}. */
    @FunctionalInterface
    private interface Source {
        float get(int r, int c);
    }

    /** Fills the half-width panels from {@code w}, refusing a value this precision does not hold. */
    private void fillHalves(Source w) {
        Parallel.forRange(panelCount(), Math.max(1, (1 << 16) / (in * NR)), (from, to) -> {
            for (int q = from; q < to; q++) {
                int c0 = q * NR, width = Math.min(NR, out - c0);
                for (int r = 0; r < in; r++) {
                    int base = (q * in + r) * HALF_ROW;
                    for (int c = 0; c < width; c++) {
                        float v = w.get(r, c0 + c);
                        if (!precision.holds(v)) {
                            throw new IllegalArgumentException("weight value " + v + " at (" + r + ", " + (c0 + c)
                                    + ") is not exactly representable in " + precision);
                        }
                        int bits = precision.toBits(v) & 0xffff, j = c % HALF_ROW;
                        halves[base + j] |= c < HALF_ROW ? bits : bits << 16;
                    }
                }
            }
        });
    }

    /** Stored value of panel {@code q}, row {@code r}, panel column {@code c}, as float32. */
    private float at(int q, int r, int c) {
        if (panels != null) {
            return panels[panelOffset(q) + r * NR + c];
        }
        int v = halves[(q * in + r) * HALF_ROW + c % HALF_ROW];
        return precision.fromBits(c < HALF_ROW ? v & 0xffff : v >>> 16);
    }

    /** How the values are stored. */
    public Precision precision() {
        return precision;
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
                if (panels != null) {
                    System.arraycopy(panels, base + r * NR, w.data, r * out + c0, width);
                } else {
                    for (int c = 0; c < width; c++) {
                        w.data[r * out + c0 + c] = at(q, r, c);
                    }
                }
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
        for (int r = 0; r < in; r++) {
            dst[off + r] = at(j / NR, r, j % NR);
        }
    }

    /** Bytes held by the packed form (padding of the last panel included). */
    public long bytes() {
        return panels != null ? 4L * panels.length : 4L * halves.length;
    }
}
