package org.privllm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The numeric kernels. Each is a small method on flat arrays so the JIT vectorises it; the public
 * entry points check shapes and split work over {@link Parallel}.
 *
 * <p>{@code X·W} runs a register-tiled micro-kernel: {@link #MR} rows of X times one
 * {@link PackedWeight} panel (two vectors of columns), twelve accumulators that stay in registers
 * over the whole inner dimension (about 170 GFLOP/s on 2 AVX2 cores at 128 rows, quiet machine; with
 * AVX-512's wide tile 270–310 GFLOP/s on 2 Zen 5 cores, at or above OpenBLAS's 128-row sgemm there).
 * Work is split over panels, so each thread streams its own contiguous part of the weight once
 * while the rows of X stay in cache. Decode's GEMV is memory-bound: up to eight rows get tiles
 * that do only the arithmetic they need, so the loads of the weight stream are never held up.
 * With 32 vector registers (AVX-512) the GEMM's tile spans two panels ({@link #WIDE_TILE}). Half-width
 * (BF16/F16) panels are widened exactly to float32 — in registers while they stream in for decode's one row,
 * a {@link #KC}-row block at a time into scratch for more rows — before the same multiply-adds in the same
 * order, so their products are bit for bit those of the float32 weight. A raw-panel variant of the
 * serial core ({@link #multiply}) serves prefill attention's two products.
 *
 * <p>This is the only backend ({@link #backend()}): it matches or beats Debian's OpenBLAS 0.3.21 sgemm at
 * prefill's 128-row shapes on both machines measured, so no native BLAS is loaded.
 */
public final class Kernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> SI = IntVector.SPECIES_PREFERRED;
    /** Floats per vector of the preferred species. */
    static final int LANES = S.length();
    /** Rows of X per micro-kernel call: 6 rows × 2 vectors = 12 accumulators (AVX2 has 16 registers). */
    static final int MR = 6;
    /** Multiply-adds below which a product runs on the calling thread only (a hand-off costs ~10 µs). */
    private static final long SERIAL_MACS = 1 << 17;

    private Kernels() {}

    /** Name of the kernel implementation, for reports. */
    public static String backend() {
        return "java-vector-" + S.vectorBitSize();
    }

    /**
     * The GEMM that runs prefill's products, for reports: the backend and its register tile, rows × columns
     * ({@code java-vector-512-6x64}: six rows across two panels; {@code java-vector-256-6x16}: six rows of one).
     */
    public static String gemm() {
        return backend() + "-" + MR + "x" + (WIDE_TILE ? 2 : 1) * PackedWeight.NR;
    }

    /** {@code X·W + bias} into a new matrix; {@code bias} may be null. */
    public static Matrix matmul(Matrix x, PackedWeight w, float[] bias) {
        Matrix y = new Matrix(x.rows, w.out);
        matmul(x, w, bias, y);
        return y;
    }

    /** {@code y = X·W + bias}; {@code bias} may be null. {@code y} must not share storage with {@code x}. */
    public static void matmul(Matrix x, PackedWeight w, float[] bias, Matrix y) {
        if (x.cols != w.in || y.rows != x.rows || y.cols != w.out) {
            throw new IllegalArgumentException("matmul shapes " + x.shape() + " · " + w.in + "x" + w.out
                    + " -> " + y.shape());
        }
        if (bias != null && bias.length != w.out) {
            throw new IllegalArgumentException("bias length " + bias.length + " != " + w.out);
        }
        if (x.data == y.data) {
            throw new IllegalArgumentException("matmul output must not alias its input");
        }
        int n = x.rows;
        if (n == 0) {
            return;
        }
        long t0 = Profile.start();
        int nr = PackedWeight.NR;
        // bias padded to whole panels: it is the accumulators' start value, so the tile needs no add
        float[] bp = bias == null ? null : java.util.Arrays.copyOf(bias, w.panelCount() * nr);
        long macsPerPanel = (long) n * w.in * nr;
        // the wide tile takes panels in pairs: chunks of an even number of panels, or a chunk of three (a 768-wide
        // output's 24 panels in eight chunks) runs a third of its panels on the narrow tile
        int pair = WIDE_TILE && n > FEW_ROWS ? 2 : 1;
        int grain = (int) Math.min(w.panelCount(), (Math.max(1, SERIAL_MACS / macsPerPanel) + pair - 1) / pair * pair);
        if (n == 1 && macsPerPanel * w.panelCount() >= 2 * SERIAL_MACS) {
            // decode's GEMV: chunks of four panels, the float32 tile's width. The work-sized grain (five panels at
            // k = 768) cut a 768-wide output into five chunks, three for one core and two for the other, each
            // ending in a one-panel tile. GPT-2 124M's 48 linears alternated in one JVM: 6–15 % faster in float32,
            // 8–13 % in BF16 (whose eight-panel tile then runs four real panels; chunks of eight measured no gain)
            grain = F32_PANELS;
        }
        float[] eight = WIDE_TILE && n > 6 && n <= FEW_ROWS
                ? interleave(x.data, 0, w.in, n, w.in, SCRATCH.get().activation(8 * w.in)) : null;
        Parallel.forRange(w.panelCount(), grain, (from, to) -> multiply(x.data, 0, w.in, n, w, from, to, bp, y.data,
                0, w.out, eight));
        Profile.stop(n > 4 ? Profile.Kind.GEMM : Profile.Kind.GEMV, t0);
    }

    /**
     * Steps of the inner dimension per block of a half-width panel widened to float32 before its tiles run:
     * a {@code KC × NR} float block (32 KiB with AVX-512) stays in the L1/L2 cache. Each row's accumulators
     * are stored and reloaded between blocks (exact), so the multiply-adds are the same, in the same order, as
     * in one pass over a float32 panel. (Blocking float32 panels the same way measured no faster here.)
     */
    static final int KC = 256;

    /** Per-thread buffers: the packed-weight core's widened weight blocks and partial sums, activation terms. */
    private static final class Scratch {
        float[] weights = new float[0];
        float[] partial = new float[0];

        float[] weights(int size) {
            if (weights.length < size) {
                weights = new float[size];
            }
            return weights;
        }

        float[] partial(int size) {
            if (partial.length < size) {
                partial = new float[size];
            }
            return partial;
        }

        float[] activation = new float[0];

        float[] activation(int size) {
            if (activation.length < size) {
                activation = new float[size];
            }
            return activation;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * Serial core of {@code C[n × out] = A[n × k] · W + bias} for panels {@code [qFrom, qTo)} of {@code w}
     * ({@code k = w.in}). Row {@code i} of A starts at {@code a[aOff + i·lda]}, of C at {@code c[cOff + i·ldc]};
     * {@code bias} (may be null) is padded to whole panels. Half-width panels are widened a block of
     * {@link #KC} rows at a time into a float scratch block (exact), then run on the float tiles — except one
     * row, which runs {@link #gemv} (half-width panels widened in registers).
     *
     * <p>The tile follows the row count, so that up to {@link #FEW_ROWS} rows (decode, batched decode: the
     * weight stream is the cost) do only the arithmetic they need: one row runs {@link #gemv}, two to four rows
     * {@link #tile4}, seven or eight
     * {@link #tile8} (one panel, sixteen accumulators; {@link #tileWide} would do twelve rows for eight), and
     * five, six or more than eight rows {@link #tileWide} six rows at a time across two panels ({@link #tile}
     * without {@link #WIDE_TILE}), whole six-row blocks written straight into C and the last one to four rows on
     * {@link #tile4} per panel. Every row's multiply-adds are those of {@link #tile}, in the same order.
     *
     * @param packed for seven or eight rows, A's rows {@linkplain #interleave interleaved} for {@link #tile8}
     *               (made once per product, shared by the parallel chunks); null otherwise
     */
    static void multiply(float[] a, int aOff, int lda, int n, PackedWeight w, int qFrom, int qTo, float[] bias,
                         float[] c, int cOff, int ldc, float[] packed) {
        int k = w.in, nr = PackedWeight.NR, out = w.out;
        boolean half = w.panels == null;
        Scratch s = SCRATCH.get();
        float[] part = s.partial((n + MR) * 2 * nr);
        if (n == 1) {
            gemv(a, aOff, w, qFrom, qTo, bias, c, cOff, part);
            return;
        }
        int kc = half ? Math.min(k, KC) : k;
        boolean eight = packed != null;
        boolean wide = WIDE_TILE && n > 4 && !eight;
        for (int q = qFrom; q < qTo; ) {
            int panels = wide && q + 1 < qTo ? 2 : 1;
            int ps = panels * nr; // floats per row of partial sums
            // whole six-row blocks of a whole panel pair end in C itself (their last K block): copied there row by
            // row from the partial sums they cost ~9k small copies per 128-row product. GPT-2 124M's 48 linears,
            // alternated in one JVM: 128 rows 1–3.5 % faster (71.1–73.0 -> 70.0–71.5 ms), 20 rows 3–8 %
            int direct = panels == 2 && (q + 2) * nr <= out ? n / MR * MR : 0;
            for (int p0 = 0; p0 < k; p0 += kc) {
                int len = Math.min(kc, k - p0);
                float[] b;
                int bo, bo2;
                if (half) {
                    b = s.weights(2 * kc * nr);
                    bo = 0;
                    bo2 = len * nr;
                    widen(w, q, p0, len, b, bo);
                    if (panels == 2) {
                        widen(w, q + 1, p0, len, b, bo2);
                    }
                } else {
                    b = w.panels;
                    bo = w.panelOffset(q) + p0 * nr;
                    bo2 = bo + k * nr;
                }
                float[] init = p0 == 0 ? bias : part;
                int io = p0 == 0 ? q * nr : 0, is = p0 == 0 ? 0 : ps;
                if (panels == 2) {
                    for (int i0 = 0; i0 < n; i0 += MR) {
                        int rows = Math.min(MR, n - i0), ai = aOff + p0 + i0 * lda, ii = io + i0 * is;
                        // the last rows: the six-row tile would compute two to five repeats (20 rows of GPT-2 124M's
                        // 48 linears, alternated in one JVM: 21.5–22.0 -> 18.8–19.2 ms; 128 rows unchanged)
                        if (rows <= 4) {
                            tile4(a, ai, lda, rows, len, b, bo, init, ii, is, part, i0 * ps, ps);
                            tile4(a, ai, lda, rows, len, b, bo2, init, ii + nr, is, part, i0 * ps + nr, ps);
                        } else if (i0 < direct && p0 + len == k) {
                            tileWide(a, ai, lda, rows, len, b, bo, bo2, init, ii, is, c, cOff + i0 * ldc + q * nr, ldc);
                        } else {
                            tileWide(a, ai, lda, rows, len, b, bo, bo2, init, ii, is, part, i0 * ps, ps);
                        }
                    }
                } else if (eight) {
                    tile8(packed, p0 * 8, len, b, bo, init, io, is, part, 0);
                } else {
                    panelRows(a, aOff + p0, lda, n, len, b, bo, init, io, is, part);
                }
            }
            for (int pi = 0; pi < panels; pi++) {
                int j0 = (q + pi) * nr, cols = Math.min(nr, out - j0);
                for (int r = direct; r < n; r++) {
                    System.arraycopy(part, r * ps + pi * nr, c, cOff + r * ldc + j0, cols);
                }
            }
            q += panels;
        }
    }

    /** Rows up to which {@link #multiply} picks the few-row tiles (decode, batched decode). */
    static final int FEW_ROWS = 8;

    /**
     * Decode's one-row product {@code c = a·W + bias} over panels {@code [qFrom, qTo)}, in a method of its own: while
     * it was a branch of {@link #multiply}, the JIT's profile of the prefill's many-row calls cut the one-row
     * float32 stream from 48–51 to 38 GB/s (2 threads, all 48 GEMVs of a GPT-2 124M step and its head).
     * Float32 runs {@link #F32_PANELS} panels at once ({@link #tile1x4}, eight accumulator chains).
     * Half-width panels are widened in registers while they stream in, {@link #HALF_PANELS} at a time
     * ({@link #tile1x8Bf16}, {@link #tile1x8F16}): read once at half width, with no scratch block to write and
     * read back. Eight panels, not two: a half-width panel row is only 64 bytes, and with two panels the loop's own
     * cost per row held one thread to 16–23 GB/s where the float32 tile streams 24–30; eight stream 28–31. One tile
     * method per precision: an earlier in-register path, which tested the precision inside its loop, ran 3x slower.
     */
    private static void gemv(float[] a, int aOff, PackedWeight w, int qFrom, int qTo, float[] bias, float[] c,
                             int cOff, float[] part) {
        int k = w.in, nr = PackedWeight.NR, out = w.out, span = k * PackedWeight.HALF_ROW;
        int step = w.panels == null ? HALF_PANELS : F32_PANELS;
        for (int q = qFrom; q < qTo; q += step) {
            int last = Math.min(step, qTo - q) - 1; // a tile's panels past the chunk repeat its last one
            switch (w.precision) {
                case F32 -> {
                    int i1 = Math.min(1, last), i2 = Math.min(2, last);
                    tile1x4(a, aOff, k, w.panels, w.panelOffset(q), w.panelOffset(q + i1), w.panelOffset(q + i2),
                            w.panelOffset(q + last), bias, q * nr, i1 * nr, i2 * nr, last * nr, part);
                }
                case BF16 -> tile1x8Bf16(a, aOff, k, w.halves, q * span, span, last, bias, q * nr, part);
                case F16 -> tile1x8F16(a, aOff, k, w.halves, q * span, span, last, bias, q * nr, part);
            }
            for (int pi = 0; pi <= last; pi++) {
                int j0 = (q + pi) * nr;
                System.arraycopy(part, pi * nr, c, cOff + j0, Math.min(nr, out - j0));
            }
        }
    }

    /**
     * Float32 panels one {@link #gemv} tile streams at once: four, not two (more weight streams in flight per
     * core). GPT-2 124M's step (48 GEMVs and the head), best of 10, old and new classes alternated four times with
     * transparent huge pages: 13.6-13.9 ms with two, 12.3-12.8 with four (36 against 39-40 GB/s).
     */
    static final int F32_PANELS = 4;

    /**
     * {@link #tile1} on four float32 panels at {@code b[b0]}, {@code b[b1]}, {@code b[b2]}, {@code b[b3]} (repeat a
     * panel for a chunk of fewer), started from {@code init[io..)}, {@code init[io + i1..)}, … (null: zero), into
     * {@code out[i·NR..)}: eight independent accumulator chains, each column accumulated in {@link #tile}'s order.
     */
    private static void tile1x4(float[] a, int a0, int k, float[] b, int b0, int b1, int b2, int b3, float[] init,
                                int io, int i1, int i2, int i3, float[] out) {
        int nr = PackedWeight.NR;
        FloatVector c00 = start(init, io), c01 = start(init, io + LANES);
        FloatVector c10 = start(init, io + i1), c11 = start(init, io + i1 + LANES);
        FloatVector c20 = start(init, io + i2), c21 = start(init, io + i2 + LANES);
        FloatVector c30 = start(init, io + i3), c31 = start(init, io + i3 + LANES);
        for (int p = 0; p < k; p++, b0 += nr, b1 += nr, b2 += nr, b3 += nr) {
            FloatVector av = FloatVector.broadcast(S, a[a0 + p]);
            c00 = av.fma(FloatVector.fromArray(S, b, b0), c00);
            c01 = av.fma(FloatVector.fromArray(S, b, b0 + LANES), c01);
            c10 = av.fma(FloatVector.fromArray(S, b, b1), c10);
            c11 = av.fma(FloatVector.fromArray(S, b, b1 + LANES), c11);
            c20 = av.fma(FloatVector.fromArray(S, b, b2), c20);
            c21 = av.fma(FloatVector.fromArray(S, b, b2 + LANES), c21);
            c30 = av.fma(FloatVector.fromArray(S, b, b3), c30);
            c31 = av.fma(FloatVector.fromArray(S, b, b3 + LANES), c31);
        }
        c00.intoArray(out, 0);
        c01.intoArray(out, LANES);
        c10.intoArray(out, nr);
        c11.intoArray(out, nr + LANES);
        c20.intoArray(out, 2 * nr);
        c21.intoArray(out, 2 * nr + LANES);
        c30.intoArray(out, 3 * nr);
        c31.intoArray(out, 3 * nr + LANES);
    }

    /** Half-width panels one {@link #gemv} tile streams at once. */
    static final int HALF_PANELS = 8;

    /**
     * {@link #tile1} on eight bfloat16 panels, panel {@code i} at {@code h[ho + min(i, last)·span]} started from
     * {@code init[io + min(i, last)·NR..)} (null: zero) into {@code out[i·NR..)}: panels past {@code last} repeat
     * it (computed, not used). Each row is widened in registers: the same multiply-adds in the same order.
     */
    private static void tile1x8Bf16(float[] a, int a0, int k, int[] h, int ho, int span, int last, float[] init, int io,
                                    float[] out) {
        int nr = PackedWeight.NR, hr = PackedWeight.HALF_ROW;
        int h1 = ho + Math.min(1, last) * span;
        int h2 = ho + Math.min(2, last) * span;
        int h3 = ho + Math.min(3, last) * span;
        int h4 = ho + Math.min(4, last) * span;
        int h5 = ho + Math.min(5, last) * span;
        int h6 = ho + Math.min(6, last) * span;
        int h7 = ho + Math.min(7, last) * span;
        FloatVector c00 = start(init, io), c01 = start(init, io + LANES);
        FloatVector c10 = start(init, io + Math.min(1, last) * nr), c11 = start(init, io + Math.min(1, last) * nr + LANES);
        FloatVector c20 = start(init, io + Math.min(2, last) * nr), c21 = start(init, io + Math.min(2, last) * nr + LANES);
        FloatVector c30 = start(init, io + Math.min(3, last) * nr), c31 = start(init, io + Math.min(3, last) * nr + LANES);
        FloatVector c40 = start(init, io + Math.min(4, last) * nr), c41 = start(init, io + Math.min(4, last) * nr + LANES);
        FloatVector c50 = start(init, io + Math.min(5, last) * nr), c51 = start(init, io + Math.min(5, last) * nr + LANES);
        FloatVector c60 = start(init, io + Math.min(6, last) * nr), c61 = start(init, io + Math.min(6, last) * nr + LANES);
        FloatVector c70 = start(init, io + Math.min(7, last) * nr), c71 = start(init, io + Math.min(7, last) * nr + LANES);
        for (int p = 0, o = 0; p < k; p++, o += hr) {
            FloatVector av = FloatVector.broadcast(S, a[a0 + p]);
            IntVector v0 = IntVector.fromArray(SI, h, ho + o);
            c00 = av.fma(v0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c00);
            c01 = av.fma(v0.and(0xffff0000).reinterpretAsFloats(), c01);
            IntVector v1 = IntVector.fromArray(SI, h, h1 + o);
            c10 = av.fma(v1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c10);
            c11 = av.fma(v1.and(0xffff0000).reinterpretAsFloats(), c11);
            IntVector v2 = IntVector.fromArray(SI, h, h2 + o);
            c20 = av.fma(v2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c20);
            c21 = av.fma(v2.and(0xffff0000).reinterpretAsFloats(), c21);
            IntVector v3 = IntVector.fromArray(SI, h, h3 + o);
            c30 = av.fma(v3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c30);
            c31 = av.fma(v3.and(0xffff0000).reinterpretAsFloats(), c31);
            IntVector v4 = IntVector.fromArray(SI, h, h4 + o);
            c40 = av.fma(v4.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c40);
            c41 = av.fma(v4.and(0xffff0000).reinterpretAsFloats(), c41);
            IntVector v5 = IntVector.fromArray(SI, h, h5 + o);
            c50 = av.fma(v5.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c50);
            c51 = av.fma(v5.and(0xffff0000).reinterpretAsFloats(), c51);
            IntVector v6 = IntVector.fromArray(SI, h, h6 + o);
            c60 = av.fma(v6.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c60);
            c61 = av.fma(v6.and(0xffff0000).reinterpretAsFloats(), c61);
            IntVector v7 = IntVector.fromArray(SI, h, h7 + o);
            c70 = av.fma(v7.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), c70);
            c71 = av.fma(v7.and(0xffff0000).reinterpretAsFloats(), c71);
        }
        c00.intoArray(out, 0 * nr);
        c01.intoArray(out, 0 * nr + LANES);
        c10.intoArray(out, 1 * nr);
        c11.intoArray(out, 1 * nr + LANES);
        c20.intoArray(out, 2 * nr);
        c21.intoArray(out, 2 * nr + LANES);
        c30.intoArray(out, 3 * nr);
        c31.intoArray(out, 3 * nr + LANES);
        c40.intoArray(out, 4 * nr);
        c41.intoArray(out, 4 * nr + LANES);
        c50.intoArray(out, 5 * nr);
        c51.intoArray(out, 5 * nr + LANES);
        c60.intoArray(out, 6 * nr);
        c61.intoArray(out, 6 * nr + LANES);
        c70.intoArray(out, 7 * nr);
        c71.intoArray(out, 7 * nr + LANES);
    }

    /** {@link #tile1x8Bf16} on float16 panels (finite values; {@link #widen}'s exact conversion). */
    private static void tile1x8F16(float[] a, int a0, int k, int[] h, int ho, int span, int last, float[] init, int io,
                                    float[] out) {
        int nr = PackedWeight.NR, hr = PackedWeight.HALF_ROW;
        int h1 = ho + Math.min(1, last) * span;
        int h2 = ho + Math.min(2, last) * span;
        int h3 = ho + Math.min(3, last) * span;
        int h4 = ho + Math.min(4, last) * span;
        int h5 = ho + Math.min(5, last) * span;
        int h6 = ho + Math.min(6, last) * span;
        int h7 = ho + Math.min(7, last) * span;
        FloatVector c00 = start(init, io), c01 = start(init, io + LANES);
        FloatVector c10 = start(init, io + Math.min(1, last) * nr), c11 = start(init, io + Math.min(1, last) * nr + LANES);
        FloatVector c20 = start(init, io + Math.min(2, last) * nr), c21 = start(init, io + Math.min(2, last) * nr + LANES);
        FloatVector c30 = start(init, io + Math.min(3, last) * nr), c31 = start(init, io + Math.min(3, last) * nr + LANES);
        FloatVector c40 = start(init, io + Math.min(4, last) * nr), c41 = start(init, io + Math.min(4, last) * nr + LANES);
        FloatVector c50 = start(init, io + Math.min(5, last) * nr), c51 = start(init, io + Math.min(5, last) * nr + LANES);
        FloatVector c60 = start(init, io + Math.min(6, last) * nr), c61 = start(init, io + Math.min(6, last) * nr + LANES);
        FloatVector c70 = start(init, io + Math.min(7, last) * nr), c71 = start(init, io + Math.min(7, last) * nr + LANES);
        for (int p = 0, o = 0; p < k; p++, o += hr) {
            FloatVector av = FloatVector.broadcast(S, a[a0 + p]);
            IntVector v0 = IntVector.fromArray(SI, h, ho + o);
            c00 = av.fma(v0.lanewise(VectorOperators.LSHL, 13).and(0x0fffe000)
                    .or(v0.lanewise(VectorOperators.LSHL, 16).and(0x80000000)).reinterpretAsFloats().mul(0x1p112f), c00);
            c01 = av.fma(v0.lanewise(VectorOperators.LSHR, 3).and(0x0fffe000).or(v0.and(0x80000000))
                    .reinterpretAsFloats().mul(0x1p112f), c01);
            IntVector v1 = IntVector.fromArray(SI, h, h1 + o);
            c10 = av.fma(v1.lanewise(VectorOperators.LSHL, 13).and(0x0fffe000)
                    .or(v1.lanewise(VectorOperators.LSHL, 16).and(0x80000000)).reinterpretAsFloats().mul(0x1p112f), c10);
            c11 = av.fma(v1.lanewise(VectorOperators.LSHR, 3).and(0x0fffe000).or(v1.and(0x80000000))
                    .reinterpretAsFloats().mul(0x1p112f), c11);
            IntVector v2 = IntVector.fromArray(SI, h, h2 + o);
            c20 = av.fma(v2.lanewise(VectorOperators.LSHL, 13).and(0x0fffe000)
                    .or(v2.lanewise(VectorOperators.LSHL, 16).and(0x80000000)).reinterpretAsFloats().mul(0x1p112f), c20);
            c21 = av.fma(v2.lanewise(VectorOperators.LSHR, 3).and(0x0fffe000).or(v2.and(0x80000000))
                    .reinterpretAsFloats().mul(0x1p112f), c21);
            IntVector v3 = IntVector.fromArray(SI, h, h3 + o);
            c30 = av.fma(v3.lanewise(VectorOperators.LSHL, 13).and(0x0fffe000)
                    .or(v3.lanewise(VectorOperators.LSHL, 16).and(0x80000000)).reinterpretAsFloats().mul(0x1p112f), c30);
            c31 = av.fma(v3.lanewise(VectorOperators.LSHR, 3).and(0x0fffe000).or(v3.and(0x80000000))
                    .reinterpretAsFloats().mul(0x1p112f), c31);
            IntVector v4 = IntVector.fromArray(SI, h, h4 + o);
            c40 = av.fma(v4.lanewise(VectorOperators.LSHL, 13).and(0x0fffe000)
                    .or(v4.lanewise(VectorOperators.LSHL, 16).and(0x80000000)).reinterpretAsFloats().mul(0x1p112f), c40);
            c41 = av.fma(v4.lanewise(VectorOperators.LSHR, 3).and(0x0fffe000).or(v4.and(0x80000000))
                    .reinterpretAsFloats().mul(0x1p112f), c41);
            IntVector v5 = IntVector.fromArray(SI, h, h5 + o);
            c50 = av.fma(v5.lanewise(VectorOperators.LSHL, 13).and(0x0fffe000)
                    .or(v5.lanewise(VectorOperators.LSHL, 16).and(0x80000000)).reinterpretAsFloats().mul(0x1p112f), c50);
            c51 = av.fma(v5.lanewise(VectorOperators.LSHR, 3).and(0x0fffe000).or(v5.and(0x80000000))
                    .reinterpretAsFloats().mul(0x1p112f), c51);
            IntVector v6 = IntVector.fromArray(SI, h, h6 + o);
            c60 = av.fma(v6.lanewise(VectorOperators.LSHL, 13).and(0x0fffe000)
                    .or(v6.lanewise(VectorOperators.LSHL, 16).and(0x80000000)).reinterpretAsFloats().mul(0x1p112f), c60);
            c61 = av.fma(v6.lanewise(VectorOperators.LSHR, 3).and(0x0fffe000).or(v6.and(0x80000000))
                    .reinterpretAsFloats().mul(0x1p112f), c61);
            IntVector v7 = IntVector.fromArray(SI, h, h7 + o);
            c70 = av.fma(v7.lanewise(VectorOperators.LSHL, 13).and(0x0fffe000)
                    .or(v7.lanewise(VectorOperators.LSHL, 16).and(0x80000000)).reinterpretAsFloats().mul(0x1p112f), c70);
            c71 = av.fma(v7.lanewise(VectorOperators.LSHR, 3).and(0x0fffe000).or(v7.and(0x80000000))
                    .reinterpretAsFloats().mul(0x1p112f), c71);
        }
        c00.intoArray(out, 0 * nr);
        c01.intoArray(out, 0 * nr + LANES);
        c10.intoArray(out, 1 * nr);
        c11.intoArray(out, 1 * nr + LANES);
        c20.intoArray(out, 2 * nr);
        c21.intoArray(out, 2 * nr + LANES);
        c30.intoArray(out, 3 * nr);
        c31.intoArray(out, 3 * nr + LANES);
        c40.intoArray(out, 4 * nr);
        c41.intoArray(out, 4 * nr + LANES);
        c50.intoArray(out, 5 * nr);
        c51.intoArray(out, 5 * nr + LANES);
        c60.intoArray(out, 6 * nr);
        c61.intoArray(out, 6 * nr + LANES);
        c70.intoArray(out, 7 * nr);
        c71.intoArray(out, 7 * nr + LANES);
    }

    /**
     * Rows {@code [0, n)} of A ({@code n ≤ 8}, {@code k} columns) interleaved as {@code dst[p·8 + r] = A[r][p]}, rows
     * past {@code n} repeating the last: {@link #tile8} then reads its eight broadcasts from one running offset
     * instead of eight row offsets (more than the general registers hold beside the loop's own). Batch 8's 48
     * products of GPT-2 124M, both versions alternated in one JVM: 0–23 % faster, never slower.
     */
    private static float[] interleave(float[] a, int aOff, int lda, int n, int k, float[] dst) {
        for (int r = 0; r < 8; r++) {
            int src = aOff + Math.min(r, n - 1) * lda;
            for (int p = 0; p < k; p++) {
                dst[p * 8 + r] = a[src + p];
            }
        }
        return dst;
    }

    /**
     * {@link #tile} for seven or eight rows on one panel (batched decode): eight rows × two vectors = 16
     * accumulators (AVX-512's 32 registers), one load of the panel row per sixteen multiply-adds. A's rows come
     * {@linkplain #interleave interleaved} ({@code a[ao + p·8 + r]}), past the real rows repeating the last one
     * (computed, not used); all eight rows of {@code out} are written.
     */
    private static void tile8(float[] a, int ao, int k, float[] b, int bo, float[] init, int io,
                              int is, float[] out, int oo) {
        FloatVector c00 = start(init, io), c01 = start(init, io + LANES);
        FloatVector c10 = start(init, io + is), c11 = start(init, io + is + LANES);
        FloatVector c20 = start(init, io + 2 * is), c21 = start(init, io + 2 * is + LANES);
        FloatVector c30 = start(init, io + 3 * is), c31 = start(init, io + 3 * is + LANES);
        FloatVector c40 = start(init, io + 4 * is), c41 = start(init, io + 4 * is + LANES);
        FloatVector c50 = start(init, io + 5 * is), c51 = start(init, io + 5 * is + LANES);
        FloatVector c60 = start(init, io + 6 * is), c61 = start(init, io + 6 * is + LANES);
        FloatVector c70 = start(init, io + 7 * is), c71 = start(init, io + 7 * is + LANES);
        for (int p = 0; p < k; p++, bo += PackedWeight.NR, ao += 8) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + LANES);
            FloatVector av = FloatVector.broadcast(S, a[ao]);
            c00 = av.fma(b0, c00);
            c01 = av.fma(b1, c01);
            av = FloatVector.broadcast(S, a[ao + 1]);
            c10 = av.fma(b0, c10);
            c11 = av.fma(b1, c11);
            av = FloatVector.broadcast(S, a[ao + 2]);
            c20 = av.fma(b0, c20);
            c21 = av.fma(b1, c21);
            av = FloatVector.broadcast(S, a[ao + 3]);
            c30 = av.fma(b0, c30);
            c31 = av.fma(b1, c31);
            av = FloatVector.broadcast(S, a[ao + 4]);
            c40 = av.fma(b0, c40);
            c41 = av.fma(b1, c41);
            av = FloatVector.broadcast(S, a[ao + 5]);
            c50 = av.fma(b0, c50);
            c51 = av.fma(b1, c51);
            av = FloatVector.broadcast(S, a[ao + 6]);
            c60 = av.fma(b0, c60);
            c61 = av.fma(b1, c61);
            av = FloatVector.broadcast(S, a[ao + 7]);
            c70 = av.fma(b0, c70);
            c71 = av.fma(b1, c71);
        }
        int nr = PackedWeight.NR;
        c00.intoArray(out, oo);
        c01.intoArray(out, oo + LANES);
        c10.intoArray(out, oo + nr);
        c11.intoArray(out, oo + nr + LANES);
        c20.intoArray(out, oo + 2 * nr);
        c21.intoArray(out, oo + 2 * nr + LANES);
        c30.intoArray(out, oo + 3 * nr);
        c31.intoArray(out, oo + 3 * nr + LANES);
        c40.intoArray(out, oo + 4 * nr);
        c41.intoArray(out, oo + 4 * nr + LANES);
        c50.intoArray(out, oo + 5 * nr);
        c51.intoArray(out, oo + 5 * nr + LANES);
        c60.intoArray(out, oo + 6 * nr);
        c61.intoArray(out, oo + 6 * nr + LANES);
        c70.intoArray(out, oo + 7 * nr);
        c71.intoArray(out, oo + 7 * nr + LANES);
    }

    /**
     * Whether the GEMM runs {@link #tileWide} (six rows across two panels, 24 accumulators: one broadcast of
     * A per four multiply-adds instead of two) — with 32 vector registers (AVX-512) only.
     */
    static final boolean WIDE_TILE = LANES >= 16 && !Boolean.getBoolean("privllm.narrowTile");

    /** Rows {@code [p0, p0 + len)} of half-width panel {@code q} as floats at {@code dst[d0..)}, {@code NR} per row (exact). */
    private static void widen(PackedWeight w, int q, int p0, int len, float[] dst, int d0) {
        int[] h = w.halves;
        int src = (q * w.in + p0) * PackedWeight.HALF_ROW, nr = PackedWeight.NR;
        if (w.precision == PackedWeight.Precision.BF16) {
            for (int p = 0; p < len; p++, src += PackedWeight.HALF_ROW, d0 += nr) {
                IntVector v = IntVector.fromArray(SI, h, src);
                v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, d0);
                v.and(0xffff0000).reinterpretAsFloats().intoArray(dst, d0 + LANES);
            }
        } else {
            // float16 → float32 for finite values: the exponent and mantissa bits moved under float32's, times
            // 2^112 (rebiases normals, turns subnormals into normals), the sign put back
            for (int p = 0; p < len; p++, src += PackedWeight.HALF_ROW, d0 += nr) {
                IntVector v = IntVector.fromArray(SI, h, src);
                v.lanewise(VectorOperators.LSHL, 13).and(0x0fffe000).or(v.lanewise(VectorOperators.LSHL, 16).and(0x80000000))
                        .reinterpretAsFloats().mul(0x1p112f).intoArray(dst, d0);
                v.lanewise(VectorOperators.LSHR, 3).and(0x0fffe000).or(v.and(0x80000000))
                        .reinterpretAsFloats().mul(0x1p112f).intoArray(dst, d0 + LANES);
            }
        }
    }

    /**
     * All {@code n} rows of A against one panel block at {@code b[bo]} ({@code k} steps), into
     * {@code out[i·NR..)} per row {@code i}; row {@code i} starts from {@code init[io + i·is..)}
     * ({@code is = 0}: the bias row for every row; null: zero).
     */
    private static void panelRows(float[] a, int ao, int lda, int n, int k, float[] b, int bo, float[] init, int io,
                                  int is, float[] out) {
        int nr = PackedWeight.NR;
        for (int i0 = 0; i0 < n; i0 += MR) {
            int rows = Math.min(MR, n - i0), a0 = ao + i0 * lda, i = io + i0 * is, o = i0 * nr;
            if (rows == 1) {
                tile1(a, a0, k, b, bo, init, i, out, o);
            } else if (rows <= 4) {
                tile4(a, a0, lda, rows, k, b, bo, init, i, is, out, o, nr);
            } else {
                tile(a, a0, lda, rows, k, b, bo, init, i, is, out, o);
            }
        }
    }

    /**
     * Serial core on a raw panel array (prefill attention's two products): {@code C[n × out] = A[n × k] · W + bias}
     * for panels {@code [qFrom, qTo)} of a packed {@code W} (panel {@code q} at {@code b[bo + q·k·NR]}). Row
     * {@code i} of A starts at {@code a[aOff + i·lda]}, of C at {@code c[cOff + i·ldc]}; {@code bias}
     * (may be null) is padded to whole panels; {@code tileOut} is {@code MR·NR} scratch.
     */
    static void multiply(float[] a, int aOff, int lda, int n, int k, float[] b, int bo, int qFrom, int qTo,
                         float[] bias, float[] c, int cOff, int ldc, int out, float[] tileOut) {
        int nr = PackedWeight.NR;
        for (int q = qFrom; q < qTo; q++) {
            int j0 = q * nr, cols = Math.min(nr, out - j0), po = bo + q * k * nr;
            for (int i0 = 0; i0 < n; i0 += MR) {
                int rows = Math.min(MR, n - i0), ao = aOff + i0 * lda;
                if (rows == 1) {
                    tile1(a, ao, k, b, po, bias, j0, tileOut, 0);
                } else if (rows <= 4) {
                    tile4(a, ao, lda, rows, k, b, po, bias, j0, 0, tileOut, 0, nr);
                } else {
                    tile(a, ao, lda, rows, k, b, po, bias, j0, 0, tileOut, 0);
                }
                for (int r = 0; r < rows; r++) {
                    System.arraycopy(tileOut, r * nr, c, cOff + (i0 + r) * ldc + j0, cols);
                }
            }
        }
    }

    /** Start value of an accumulator: {@code init[o..o+LANES)}, or zero without {@code init}. */
    private static FloatVector start(float[] init, int o) {
        return init == null ? FloatVector.zero(S) : FloatVector.fromArray(S, init, o);
    }

    /**
     * {@link #tile} for two to four rows (batched decode, the GEMM's last rows): memory-bound like
     * {@link #tile1}, so it does only the arithmetic the rows need. Rows past {@code rows} repeat the last
     * real one (computed, not used); all four rows of {@code out} are written.
     */
    private static void tile4(float[] a, int ao, int lda, int rows, int k, float[] b, int bo, float[] init, int io,
                              int is, float[] out, int oo, int os) {
        int last = rows - 1;
        int a0 = ao, a1 = ao + Math.min(1, last) * lda, a2 = ao + Math.min(2, last) * lda;
        int a3 = ao + Math.min(3, last) * lda;
        FloatVector c00 = start(init, io), c01 = start(init, io + LANES);
        FloatVector c10 = start(init, io + is), c11 = start(init, io + is + LANES);
        FloatVector c20 = start(init, io + 2 * is), c21 = start(init, io + 2 * is + LANES);
        FloatVector c30 = start(init, io + 3 * is), c31 = start(init, io + 3 * is + LANES);
        for (int p = 0; p < k; p++, bo += PackedWeight.NR) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            FloatVector b1 = FloatVector.fromArray(S, b, bo + LANES);
            FloatVector av = FloatVector.broadcast(S, a[a0 + p]);
            c00 = av.fma(b0, c00);
            c01 = av.fma(b1, c01);
            av = FloatVector.broadcast(S, a[a1 + p]);
            c10 = av.fma(b0, c10);
            c11 = av.fma(b1, c11);
            av = FloatVector.broadcast(S, a[a2 + p]);
            c20 = av.fma(b0, c20);
            c21 = av.fma(b1, c21);
            av = FloatVector.broadcast(S, a[a3 + p]);
            c30 = av.fma(b0, c30);
            c31 = av.fma(b1, c31);
        }
        c00.intoArray(out, oo);
        c01.intoArray(out, oo + LANES);
        c10.intoArray(out, oo + os);
        c11.intoArray(out, oo + os + LANES);
        c20.intoArray(out, oo + 2 * os);
        c21.intoArray(out, oo + 2 * os + LANES);
        c30.intoArray(out, oo + 3 * os);
        c31.intoArray(out, oo + 3 * os + LANES);
    }

    /**
     * {@code out[oo..oo+NR) = A[a0..a0+k) · panel + init}: decode's one-row GEMV. It is memory-bound, so it gets
     * its own loop instead of the six-row tile's six times redundant arithmetic. It accumulates in exactly the
     * order of {@link #tile} and {@link #tile4} (one fused multiply-add per step of the inner dimension, from the
     * bias), so a row's product is bit for bit the same whether it is multiplied alone or among other rows:
     * the batched engine's rows equal each sequence run alone (a split accumulator, even and odd steps, would
     * hide more FMA latency but round differently).
     */
    private static void tile1(float[] a, int a0, int k, float[] b, int bo, float[] init, int io, float[] out, int oo) {
        FloatVector c00 = start(init, io), c01 = start(init, io + LANES);
        for (int p = 0; p < k; p++, bo += PackedWeight.NR) {
            FloatVector av = FloatVector.broadcast(S, a[a0 + p]);
            c00 = av.fma(FloatVector.fromArray(S, b, bo), c00);
            c01 = av.fma(FloatVector.fromArray(S, b, bo + LANES), c01);
        }
        c00.intoArray(out, oo);
        c01.intoArray(out, oo + LANES);
    }

    /**
     * {@link #tile} across two panel blocks (at {@code b[bo]} and {@code b[bo2]}): {@code out[oo + r·2NR..)} holds
     * row {@code r}'s {@code 2·NR} columns, started from {@code init[io + r·is..)} (two panels' worth). Six
     * rows × four vectors = 24 accumulators, one broadcast per four multiply-adds; the same multiply-adds in
     * the same order as {@link #tile} on each panel alone. Written, like {@link #tile}, as one block per row
     * with its own broadcast and both panels addressed from one offset: the same arithmetic with a single
     * reused broadcast variable and a second running offset ran 35–50 % slower once compiled by C2 on
     * AVX-512 (measured on 128-row GEMMs; the JIT is sensitive to the loop's shape, not just its operations).
     */
    private static void tileWide(float[] a, int ao, int lda, int rows, int k, float[] b, int bo, int bo2, float[] init,
                                 int io, int is, float[] out, int oo, int os) {
        int last = rows - 1, nr = PackedWeight.NR;
        int a0 = ao, a1 = ao + Math.min(1, last) * lda, a2 = ao + Math.min(2, last) * lda;
        int a3 = ao + Math.min(3, last) * lda, a4 = ao + Math.min(4, last) * lda, a5 = ao + Math.min(5, last) * lda;
        FloatVector c00 = start(init, io), c01 = start(init, io + LANES);
        FloatVector c02 = start(init, io + nr), c03 = start(init, io + nr + LANES);
        FloatVector c10 = start(init, io + is), c11 = start(init, io + is + LANES);
        FloatVector c12 = start(init, io + is + nr), c13 = start(init, io + is + nr + LANES);
        FloatVector c20 = start(init, io + 2 * is), c21 = start(init, io + 2 * is + LANES);
        FloatVector c22 = start(init, io + 2 * is + nr), c23 = start(init, io + 2 * is + nr + LANES);
        FloatVector c30 = start(init, io + 3 * is), c31 = start(init, io + 3 * is + LANES);
        FloatVector c32 = start(init, io + 3 * is + nr), c33 = start(init, io + 3 * is + nr + LANES);
        FloatVector c40 = start(init, io + 4 * is), c41 = start(init, io + 4 * is + LANES);
        FloatVector c42 = start(init, io + 4 * is + nr), c43 = start(init, io + 4 * is + nr + LANES);
        FloatVector c50 = start(init, io + 5 * is), c51 = start(init, io + 5 * is + LANES);
        FloatVector c52 = start(init, io + 5 * is + nr), c53 = start(init, io + 5 * is + nr + LANES);
        int ps = bo2 - bo; // the second panel block, from the first
        for (int p = 0; p < k; p++) {
            int o = bo + p * nr;
            FloatVector b0 = FloatVector.fromArray(S, b, o);
            FloatVector b1 = FloatVector.fromArray(S, b, o + LANES);
            FloatVector b2 = FloatVector.fromArray(S, b, o + ps);
            FloatVector b3 = FloatVector.fromArray(S, b, o + ps + LANES);
            {
                FloatVector av = FloatVector.broadcast(S, a[a0 + p]);
                c00 = av.fma(b0, c00);
                c01 = av.fma(b1, c01);
                c02 = av.fma(b2, c02);
                c03 = av.fma(b3, c03);
            }
            {
                FloatVector av = FloatVector.broadcast(S, a[a1 + p]);
                c10 = av.fma(b0, c10);
                c11 = av.fma(b1, c11);
                c12 = av.fma(b2, c12);
                c13 = av.fma(b3, c13);
            }
            {
                FloatVector av = FloatVector.broadcast(S, a[a2 + p]);
                c20 = av.fma(b0, c20);
                c21 = av.fma(b1, c21);
                c22 = av.fma(b2, c22);
                c23 = av.fma(b3, c23);
            }
            {
                FloatVector av = FloatVector.broadcast(S, a[a3 + p]);
                c30 = av.fma(b0, c30);
                c31 = av.fma(b1, c31);
                c32 = av.fma(b2, c32);
                c33 = av.fma(b3, c33);
            }
            {
                FloatVector av = FloatVector.broadcast(S, a[a4 + p]);
                c40 = av.fma(b0, c40);
                c41 = av.fma(b1, c41);
                c42 = av.fma(b2, c42);
                c43 = av.fma(b3, c43);
            }
            {
                FloatVector av = FloatVector.broadcast(S, a[a5 + p]);
                c50 = av.fma(b0, c50);
                c51 = av.fma(b1, c51);
                c52 = av.fma(b2, c52);
                c53 = av.fma(b3, c53);
            }
        }
        c00.intoArray(out, oo);
        c01.intoArray(out, oo + LANES);
        c02.intoArray(out, oo + nr);
        c03.intoArray(out, oo + nr + LANES);
        c10.intoArray(out, oo + os);
        c11.intoArray(out, oo + os + LANES);
        c12.intoArray(out, oo + os + nr);
        c13.intoArray(out, oo + os + nr + LANES);
        c20.intoArray(out, oo + 2 * os);
        c21.intoArray(out, oo + 2 * os + LANES);
        c22.intoArray(out, oo + 2 * os + nr);
        c23.intoArray(out, oo + 2 * os + nr + LANES);
        c30.intoArray(out, oo + 3 * os);
        c31.intoArray(out, oo + 3 * os + LANES);
        c32.intoArray(out, oo + 3 * os + nr);
        c33.intoArray(out, oo + 3 * os + nr + LANES);
        c40.intoArray(out, oo + 4 * os);
        c41.intoArray(out, oo + 4 * os + LANES);
        c42.intoArray(out, oo + 4 * os + nr);
        c43.intoArray(out, oo + 4 * os + nr + LANES);
        c50.intoArray(out, oo + 5 * os);
        c51.intoArray(out, oo + 5 * os + LANES);
        c52.intoArray(out, oo + 5 * os + nr);
        c53.intoArray(out, oo + 5 * os + nr + LANES);
    }

    /**
     * {@code out[MR×NR] = A[rows at ao + r·lda] · panel + init}, row {@code r} starting from
     * {@code init[io + r·is..)} and stored at {@code out[oo + r·NR..)}. Rows past {@code rows} repeat the last
     * real row (computed, not used) so one branch-free loop serves every row count; all {@code MR} rows of
     * {@code out} are written.
     */
    private static void tile(float[] a, int ao, int lda, int rows, int k, float[] b, int bo, float[] init, int io,
                             int is, float[] out, int oo) {
        int last = rows - 1;
        int a0 = ao, a1 = ao + Math.min(1, last) * lda, a2 = ao + Math.min(2, last) * lda;
        int a3 = ao + Math.min(3, last) * lda, a4 = ao + Math.min(4, last) * lda, a5 = ao + Math.min(5, last) * lda;
        FloatVector c00 = start(init, io), c01 = start(init, io + LANES);
        FloatVector c10 = start(init, io + is), c11 = start(init, io + is + LANES);
        FloatVector c20 = start(init, io + 2 * is), c21 = start(init, io + 2 * is + LANES);
        FloatVector c30 = start(init, io + 3 * is), c31 = start(init, io + 3 * is + LANES);
        FloatVector c40 = start(init, io + 4 * is), c41 = start(init, io + 4 * is + LANES);
        FloatVector c50 = start(init, io + 5 * is), c51 = start(init, io + 5 * is + LANES);
        for (int p = 0; p < k; p++) {
            int o = bo + p * PackedWeight.NR;
            FloatVector b0 = FloatVector.fromArray(S, b, o);
            FloatVector b1 = FloatVector.fromArray(S, b, o + LANES);
            {
                FloatVector av = FloatVector.broadcast(S, a[a0 + p]);
                c00 = av.fma(b0, c00);
                c01 = av.fma(b1, c01);
            }
            {
                FloatVector av = FloatVector.broadcast(S, a[a1 + p]);
                c10 = av.fma(b0, c10);
                c11 = av.fma(b1, c11);
            }
            {
                FloatVector av = FloatVector.broadcast(S, a[a2 + p]);
                c20 = av.fma(b0, c20);
                c21 = av.fma(b1, c21);
            }
            {
                FloatVector av = FloatVector.broadcast(S, a[a3 + p]);
                c30 = av.fma(b0, c30);
                c31 = av.fma(b1, c31);
            }
            {
                FloatVector av = FloatVector.broadcast(S, a[a4 + p]);
                c40 = av.fma(b0, c40);
                c41 = av.fma(b1, c41);
            }
            {
                FloatVector av = FloatVector.broadcast(S, a[a5 + p]);
                c50 = av.fma(b0, c50);
                c51 = av.fma(b1, c51);
            }
        }
        int nr = PackedWeight.NR;
        c00.intoArray(out, oo);
        c01.intoArray(out, oo + LANES);
        c10.intoArray(out, oo + nr);
        c11.intoArray(out, oo + nr + LANES);
        c20.intoArray(out, oo + 2 * nr);
        c21.intoArray(out, oo + 2 * nr + LANES);
        c30.intoArray(out, oo + 3 * nr);
        c31.intoArray(out, oo + 3 * nr + LANES);
        c40.intoArray(out, oo + 4 * nr);
        c41.intoArray(out, oo + 4 * nr + LANES);
        c50.intoArray(out, oo + 5 * nr);
        c51.intoArray(out, oo + 5 * nr + LANES);
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
        for (; i < bound; i += LANES) {
            acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
        }
        for (VectorShuffle<Float> h : VectorMath.FOLDS) {
            acc = acc.add(acc.rearrange(h));
        }
        float sum = acc.lane(0);
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
        for (; i < bound; i += LANES) {
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
        long t0 = Profile.start();
        axpy(1f, x.data, 0, y.data, 0, y.data.length);
        Profile.stop(Profile.Kind.RESIDUAL, t0);
    }

    private static final float GELU_C = (float) Math.sqrt(2.0 / Math.PI);

    /**
     * GPT-2's {@code gelu_new} in place on {@code x[from..to)}: {@code 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))}
     * with {@code tanh(u) = 1 − 2/(e^{2u} + 1)} from {@link VectorMath#exp} (the same bits compiled or not); a
     * scalar double tanh per element cost prefill more than a whole MLP product.
     */
    public static void geluTanh(float[] x, int from, int to) {
        int n = to - from, bound = S.loopBound(n);
        float[] e = SCRATCH.get().activation(bound);
        for (int i = 0; i < bound; i += LANES) {
            FloatVector v = FloatVector.fromArray(S, x, from + i);
            v.mul(v).mul(v).mul(0.044715f).add(v).mul(GELU_C).mul(2f).intoArray(e, i);
        }
        VectorMath.exp(e, 0, bound);
        FloatVector one = FloatVector.broadcast(S, 1f), two = FloatVector.broadcast(S, 2f);
        for (int i = 0; i < bound; i += LANES) {
            FloatVector v = FloatVector.fromArray(S, x, from + i);
            FloatVector tanh = one.sub(two.div(FloatVector.fromArray(S, e, i).add(1f)));
            v.mul(0.5f).mul(tanh.add(1f)).intoArray(x, from + i);
        }
        for (int i = from + bound; i < to; i++) {
            double v = x[i];
            x[i] = (float) (0.5 * v * (1.0 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v))));
        }
    }

    /**
     * SwiGLU's gating: {@code out[oo + j] = silu(gate[go + j]) · up[uo + j]} for {@code j < n}, with
     * {@code silu(v) = v / (1 + e^(−v))}, vectorised with {@link VectorMath#exp} like {@link #geluTanh}.
     * {@code out} may alias {@code gate} or {@code up} at the same offset.
     */
    public static void siluGate(float[] gate, int go, float[] up, int uo, float[] out, int oo, int n) {
        int bound = S.loopBound(n);
        float[] e = SCRATCH.get().activation(bound);
        for (int i = 0; i < bound; i += LANES) {
            FloatVector.fromArray(S, gate, go + i).neg().intoArray(e, i);
        }
        VectorMath.exp(e, 0, bound);
        for (int i = 0; i < bound; i += LANES) {
            FloatVector g = FloatVector.fromArray(S, gate, go + i);
            FloatVector silu = g.div(FloatVector.fromArray(S, e, i).add(1f));
            silu.mul(FloatVector.fromArray(S, up, uo + i)).intoArray(out, oo + i);
        }
        for (int i = bound; i < n; i++) {
            float g = gate[go + i];
            out[oo + i] = (float) (g / (1.0 + Math.exp(-g))) * up[uo + i];
        }
    }

    private static final float SQRT2 = (float) Math.sqrt(2), LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float HALF_PI = (float) (Math.PI / 2);

    /**
     * Box–Muller: {@code N(0, std²)} floats into {@code out[off..off+len)} from the random words
     * {@code bits[0..len)} ({@code len} even; the upper 24 bits of each word are used, so
     * {@code u₁ ∈ (0, 1]} and the tails reach 5.8σ; the angle {@code 2π·(w >>> 8)/2²⁴}). Vectorised: a scalar
     * double Box–Muller cost more per prefill pad than the product the pad blinds. The logarithm, sine and
     * cosine are polynomials over exact operations ({@code ln m = 2·atanh((m−1)/(m+1))}; Taylor on the angle's
     * quadrant), not the Vector API's {@code LOG}/{@code SIN}/{@code COS}, whose last bits differ compiled (SVML)
     * and interpreted: a seeded mask or pad ({@code --mask-seed}) then depended on when the JIT had compiled
     * this loop. Within 5e-7 of the double-precision formula relative to the radius (tested).
     */
    public static void gaussian(int[] bits, float[] out, int off, int len, float std) {
        if ((len & 1) != 0 || bits.length < len || off + len > out.length) {
            throw new IllegalArgumentException("gaussian needs an even length within both arrays");
        }
        int lanes = SI.length(), i = 0;
        for (; i + 2 * lanes <= len; i += 2 * lanes) {
            FloatVector u1 = ((FloatVector) IntVector.fromArray(SI, bits, i).lanewise(VectorOperators.LSHR, 8).add(1)
                    .convert(VectorOperators.I2F, 0)).mul(0x1.0p-24f); // (0, 1]
            // ln u₁ = e·ln 2 + ln m, m in [√½, √2): ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172
            IntVector ub = (IntVector) u1.reinterpretShape(SI, 0);
            FloatVector m = (FloatVector) ub.and(0x7fffff).or(0x3f800000).reinterpretShape(S, 0);
            FloatVector e = (FloatVector) ub.lanewise(VectorOperators.LSHR, 23).sub(127).convert(VectorOperators.I2F, 0);
            var big = m.compare(VectorOperators.GT, SQRT2);
            m = m.blend(m.mul(0.5f), big);
            e = e.add(1f, big);
            FloatVector s = m.sub(1f).div(m.add(1f)), z = s.mul(s);
            FloatVector p = z.fma(1f / 11, 1f / 9).mul(z).add(1f / 7).mul(z).add(1f / 5).mul(z).add(1f / 3).mul(z).add(1f);
            FloatVector ln = e.fma(FloatVector.broadcast(S, LN2_HI), e.fma(FloatVector.broadcast(S, LN2_LO), s.add(s).mul(p)));
            FloatVector r = ln.mul(-2f).sqrt().mul(std);
            // angle = (π/2)·(q + f): q the word's top two bits, f ∈ [0, 1) its next 22
            IntVector w2 = IntVector.fromArray(SI, bits, i + lanes);
            IntVector q = w2.lanewise(VectorOperators.LSHR, 30);
            FloatVector a = ((FloatVector) w2.lanewise(VectorOperators.LSHL, 2).lanewise(VectorOperators.LSHR, 10)
                    .convert(VectorOperators.I2F, 0)).mul(0x1.0p-22f * HALF_PI); // [0, π/2)
            FloatVector a2 = a.mul(a);
            FloatVector sin = a2.fma(-1f / 6227020800f, 1f / 39916800f).mul(a2).add(-1f / 362880f).mul(a2)
                    .add(1f / 5040f).mul(a2).add(-1f / 120f).mul(a2).add(1f / 6f)
                    .fma(a2.neg(), FloatVector.broadcast(S, 1f)).mul(a);
            FloatVector cos = a2.fma(1f / 87178291200f, -1f / 479001600f).mul(a2).add(1f / 3628800f).mul(a2)
                    .add(-1f / 40320f).mul(a2).add(1f / 720f).mul(a2).add(-1f / 24f).mul(a2).add(0.5f)
                    .fma(a2.neg(), FloatVector.broadcast(S, 1f));
            // quadrant q: (cos, sin) of qπ/2 + a is (c, s), (−s, c), (−c, −s), (s, −c)
            var odd = q.and(1).compare(VectorOperators.NE, 0).cast(S);
            var cosNeg = q.add(1).and(2).compare(VectorOperators.NE, 0).cast(S);
            var sinNeg = q.and(2).compare(VectorOperators.NE, 0).cast(S);
            FloatVector x = cos.blend(sin, odd), y = sin.blend(cos, odd);
            r.mul(x.lanewise(VectorOperators.NEG, cosNeg)).intoArray(out, off + i);
            r.mul(y.lanewise(VectorOperators.NEG, sinNeg)).intoArray(out, off + i + lanes);
        }
        for (; i < len; i += 2) { // StrictMath: the same bits whether compiled or not
            double r = std * StrictMath.sqrt(-2 * StrictMath.log(((bits[i] >>> 8) + 1) * 0x1.0p-24));
            double angle = (bits[i + 1] >>> 8) * (2 * Math.PI * 0x1.0p-24);
            out[off + i] = (float) (r * StrictMath.cos(angle));
            out[off + i + 1] = (float) (r * StrictMath.sin(angle));
        }
    }
}
