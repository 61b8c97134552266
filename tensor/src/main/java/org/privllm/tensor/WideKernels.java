package org.privllm.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float64 products with float32 weights: {@code Y = X·W} for a float64 {@code X} and a {@link PackedWeight},
 * accumulated in float64. The blinded privacy levels send rows padded a million times larger than the
 * signal; the executor's product and the trusted side's pad product must cancel to well below float32's
 * resolution, so they are computed wide. The weight stays float32 (exactly representable in float64), so
 * decode reads the same bytes as the plaintext engine; only the arithmetic is wide (half the lanes).
 *
 * <p>Same layout as {@link Kernels}: work split over the weight's panels; each panel of {@code NR} float
 * columns is done as four double vectors, six rows at a time (24 accumulators).
 */
public final class WideKernels {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** Floats that widen into one double vector. */
    private static final VectorSpecies<Float> F = VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));
    private static final VectorSpecies<Long> L = LongVector.SPECIES_PREFERRED;
    private static final int DL = D.length();
    private static final int MR = 6;
    private static final long SERIAL_MACS = 1 << 16;

    static {
        if (PackedWeight.NR != 4 * DL) {
            throw new IllegalStateException("panel width " + PackedWeight.NR + " is not four double vectors of " + DL);
        }
    }

    private WideKernels() {}

    /** {@code X·W} into a new matrix. */
    public static DoubleMatrix matmul(DoubleMatrix x, PackedWeight w) {
        if (x.cols != w.in) {
            throw new IllegalArgumentException("matmul shapes " + x.shape() + " · " + w.in + "x" + w.out);
        }
        if (w.panels == null) {
            throw new IllegalArgumentException("wide products need a float32-packed weight, not " + w.precision());
        }
        DoubleMatrix y = new DoubleMatrix(x.rows, w.out);
        int n = x.rows;
        if (n == 0) {
            return y;
        }
        long t0 = Profile.start();
        long macsPerPanel = (long) n * w.in * PackedWeight.NR;
        int grain = (int) Math.min(w.panelCount(), Math.max(1, SERIAL_MACS / macsPerPanel));
        Parallel.forRange(w.panelCount(), grain, (from, to) -> multiply(x.data, n, w.in, w.panels, from, to,
                y.data, w.out, new double[(n + MR) * PackedWeight.NR]));
        Profile.stop(Profile.Kind.WIDE_GEMM, t0);
        return y;
    }

    /**
     * Panels {@code [qFrom, qTo)}: each panel's rows of {@code W} a block of {@link #KC} at a time, every row block
     * of {@code X} over that block before the next, the accumulators carried from block to block through
     * {@code part} (stored and reloaded exactly, so every sum is the one a single pass over all of {@code k} gives).
     * Without the blocks a row block streamed the whole panel and its rows' whole inputs: at {@code k = 3072} the
     * panel (384 KB) and 32 rows (768 KB) no longer fit the core's L2 together, and every block re-read both from
     * the L3.
     */
    private static void multiply(double[] a, int n, int k, float[] b, int qFrom, int qTo, double[] c, int out,
                                 double[] part) {
        int nr = PackedWeight.NR;
        for (int q = qFrom; q < qTo; q++) {
            int po = q * k * nr;
            if (n == 1) { // decode's GEMV: one pass over the whole panel, memory-bound
                tile1(a, k, b, po, part);
                System.arraycopy(part, 0, c, q * nr, Math.min(nr, out - q * nr));
                continue;
            }
            for (int p0 = 0; p0 < k; p0 += KC) {
                int len = Math.min(KC, k - p0);
                if (n > MR) { // more than one row block reads this block of the panel
                    touch(b, po + p0 * nr, len * nr);
                }
                for (int i0 = 0; i0 < n; i0 += MR) {
                    int rows = Math.min(MR, n - i0);
                    if (rows <= 3) {
                        tile3(a, i0 * k + p0, k, rows, len, b, po + p0 * nr, p0 > 0, part, i0 * nr);
                    } else {
                        tile(a, i0 * k + p0, k, rows, len, b, po + p0 * nr, p0 > 0, part, i0 * nr);
                    }
                }
            }
            int cols = Math.min(nr, out - q * nr);
            for (int r = 0; r < n; r++) {
                System.arraycopy(part, r * nr, c, r * out + q * nr, cols);
            }
        }
    }

    /**
     * Reads {@code b[o..o+len)} once, in independent vector loads, before the row blocks run over it: all its cache
     * lines are requested at once, where the first row block's multiply-adds otherwise waited on them a few at a
     * time. Its sum is stored in a field so that the loads are not optimised away. GPT-2 124M's 48 linears, alternated
     * with the untouched blocks in one JVM, four pairs each: 8 rows 5–7 %, 32 rows 1.5–7 % faster, 160 rows the same.
     * (Touching the float32 prefill products' panel pairs the same way measured 1–3 % slower at 128 rows. The loop is
     * {@code MemoryBandwidth}'s read loop without its lane reduction and tail; calling that one instead measured 1–3 %
     * slower at 32 rows, four pairs.)
     */
    private static void touch(float[] b, int o, int len) {
        FloatVector s0 = FloatVector.zero(TS), s1 = s0, s2 = s0, s3 = s0;
        int step = TS.length();
        for (int i = 0; i + 4 * step <= len; i += 4 * step) {
            s0 = s0.add(FloatVector.fromArray(TS, b, o + i));
            s1 = s1.add(FloatVector.fromArray(TS, b, o + i + step));
            s2 = s2.add(FloatVector.fromArray(TS, b, o + i + 2 * step));
            s3 = s3.add(FloatVector.fromArray(TS, b, o + i + 3 * step));
        }
        touched = s0.add(s1).add(s2).add(s3).lane(0);
    }

    private static final VectorSpecies<Float> TS = FloatVector.SPECIES_PREFERRED;
    /** Where {@link #touch} leaves its sum (never read). */
    @SuppressWarnings("unused")
    private static float touched;

    /**
     * Rows of {@code W} per block of {@link #multiply}: one panel's block (32 KB) and six rows' share of the inputs
     * (12 KB) stay near the core while every row block runs over them. GPT-2 124M's 48 linears, alternated with
     * the unblocked loop in one session: 32 rows 105 -> 123 GFLOP/s, 160 rows 144 -> 154.
     */
    static final int KC = 256;

    /**
     * {@code out[0..NR) = a[0..k) · panel}: one row against all four double vectors of a panel, two
     * accumulator sets (even and odd steps) to hide the FMA latency. The six-row tile would do six times
     * the arithmetic and turn decode compute-bound.
     */
    private static void tile1(double[] a, int k, float[] b, int bo, double[] out) {
        DoubleVector c0 = DoubleVector.zero(D), c1 = c0, c2 = c0, c3 = c0, d0 = c0, d1 = c0, d2 = c0, d3 = c0;
        int p = 0, nr = PackedWeight.NR;
        for (; p + 1 < k; p += 2, bo += 2 * nr) {
            DoubleVector av = DoubleVector.broadcast(D, a[p]);
            c0 = av.fma(widen(b, bo), c0);
            c1 = av.fma(widen(b, bo + DL), c1);
            c2 = av.fma(widen(b, bo + 2 * DL), c2);
            c3 = av.fma(widen(b, bo + 3 * DL), c3);
            av = DoubleVector.broadcast(D, a[p + 1]);
            d0 = av.fma(widen(b, bo + nr), d0);
            d1 = av.fma(widen(b, bo + nr + DL), d1);
            d2 = av.fma(widen(b, bo + nr + 2 * DL), d2);
            d3 = av.fma(widen(b, bo + nr + 3 * DL), d3);
        }
        if (p < k) {
            DoubleVector av = DoubleVector.broadcast(D, a[p]);
            c0 = av.fma(widen(b, bo), c0);
            c1 = av.fma(widen(b, bo + DL), c1);
            c2 = av.fma(widen(b, bo + 2 * DL), c2);
            c3 = av.fma(widen(b, bo + 3 * DL), c3);
        }
        c0.add(d0).intoArray(out, 0);
        c1.add(d1).intoArray(out, DL);
        c2.add(d2).intoArray(out, 2 * DL);
        c3.add(d3).intoArray(out, 3 * DL);
    }

    /** {@code DL} floats at {@code b[o]} widened to one double vector. */
    private static DoubleVector widen(float[] b, int o) {
        return (DoubleVector) FloatVector.fromArray(F, b, o).convertShape(VectorOperators.F2D, D, 0);
    }

    /**
     * The four double vectors of columns of one panel at {@code b[bo + p·NR]}, {@code p < k}, for up to six rows
     * of {@code a} ({@code lda} apart; 24 accumulators; rows past {@code rows} repeat the last one). Row {@code r}
     * goes to {@code out[oo + r·NR..)}, starting from what is there when {@code carry} (the sums of the rows'
     * earlier blocks) and from zero otherwise; all six rows of {@code out} past {@code oo} are written. One block
     * per row with its own broadcast, offsets from the step: the shape C2 compiles fastest (see
     * {@code Kernels.tileWide}).
     */
    private static void tile(double[] a, int ao, int lda, int rows, int k, float[] b, int bo, boolean carry,
                             double[] out, int oo) {
        int last = rows - 1, nr = PackedWeight.NR;
        int a0 = ao, a1 = ao + Math.min(1, last) * lda, a2 = ao + Math.min(2, last) * lda;
        int a3 = ao + Math.min(3, last) * lda, a4 = ao + Math.min(4, last) * lda, a5 = ao + Math.min(5, last) * lda;
        double[] init = carry ? out : null;
        DoubleVector c00 = start(init, oo), c01 = start(init, oo + DL);
        DoubleVector c02 = start(init, oo + 2 * DL), c03 = start(init, oo + 3 * DL);
        DoubleVector c10 = start(init, oo + nr), c11 = start(init, oo + nr + DL);
        DoubleVector c12 = start(init, oo + nr + 2 * DL), c13 = start(init, oo + nr + 3 * DL);
        DoubleVector c20 = start(init, oo + 2 * nr), c21 = start(init, oo + 2 * nr + DL);
        DoubleVector c22 = start(init, oo + 2 * nr + 2 * DL), c23 = start(init, oo + 2 * nr + 3 * DL);
        DoubleVector c30 = start(init, oo + 3 * nr), c31 = start(init, oo + 3 * nr + DL);
        DoubleVector c32 = start(init, oo + 3 * nr + 2 * DL), c33 = start(init, oo + 3 * nr + 3 * DL);
        DoubleVector c40 = start(init, oo + 4 * nr), c41 = start(init, oo + 4 * nr + DL);
        DoubleVector c42 = start(init, oo + 4 * nr + 2 * DL), c43 = start(init, oo + 4 * nr + 3 * DL);
        DoubleVector c50 = start(init, oo + 5 * nr), c51 = start(init, oo + 5 * nr + DL);
        DoubleVector c52 = start(init, oo + 5 * nr + 2 * DL), c53 = start(init, oo + 5 * nr + 3 * DL);
        for (int p = 0; p < k; p++) {
            int o = bo + p * nr;
            DoubleVector b0 = widen(b, o), b1 = widen(b, o + DL), b2 = widen(b, o + 2 * DL), b3 = widen(b, o + 3 * DL);
            {
                DoubleVector av = DoubleVector.broadcast(D, a[a0 + p]);
                c00 = av.fma(b0, c00);
                c01 = av.fma(b1, c01);
                c02 = av.fma(b2, c02);
                c03 = av.fma(b3, c03);
            }
            {
                DoubleVector av = DoubleVector.broadcast(D, a[a1 + p]);
                c10 = av.fma(b0, c10);
                c11 = av.fma(b1, c11);
                c12 = av.fma(b2, c12);
                c13 = av.fma(b3, c13);
            }
            {
                DoubleVector av = DoubleVector.broadcast(D, a[a2 + p]);
                c20 = av.fma(b0, c20);
                c21 = av.fma(b1, c21);
                c22 = av.fma(b2, c22);
                c23 = av.fma(b3, c23);
            }
            {
                DoubleVector av = DoubleVector.broadcast(D, a[a3 + p]);
                c30 = av.fma(b0, c30);
                c31 = av.fma(b1, c31);
                c32 = av.fma(b2, c32);
                c33 = av.fma(b3, c33);
            }
            {
                DoubleVector av = DoubleVector.broadcast(D, a[a4 + p]);
                c40 = av.fma(b0, c40);
                c41 = av.fma(b1, c41);
                c42 = av.fma(b2, c42);
                c43 = av.fma(b3, c43);
            }
            {
                DoubleVector av = DoubleVector.broadcast(D, a[a5 + p]);
                c50 = av.fma(b0, c50);
                c51 = av.fma(b1, c51);
                c52 = av.fma(b2, c52);
                c53 = av.fma(b3, c53);
            }
        }
        c00.intoArray(out, oo + 0 * nr + 0 * DL);
        c01.intoArray(out, oo + 0 * nr + 1 * DL);
        c02.intoArray(out, oo + 0 * nr + 2 * DL);
        c03.intoArray(out, oo + 0 * nr + 3 * DL);
        c10.intoArray(out, oo + 1 * nr + 0 * DL);
        c11.intoArray(out, oo + 1 * nr + 1 * DL);
        c12.intoArray(out, oo + 1 * nr + 2 * DL);
        c13.intoArray(out, oo + 1 * nr + 3 * DL);
        c20.intoArray(out, oo + 2 * nr + 0 * DL);
        c21.intoArray(out, oo + 2 * nr + 1 * DL);
        c22.intoArray(out, oo + 2 * nr + 2 * DL);
        c23.intoArray(out, oo + 2 * nr + 3 * DL);
        c30.intoArray(out, oo + 3 * nr + 0 * DL);
        c31.intoArray(out, oo + 3 * nr + 1 * DL);
        c32.intoArray(out, oo + 3 * nr + 2 * DL);
        c33.intoArray(out, oo + 3 * nr + 3 * DL);
        c40.intoArray(out, oo + 4 * nr + 0 * DL);
        c41.intoArray(out, oo + 4 * nr + 1 * DL);
        c42.intoArray(out, oo + 4 * nr + 2 * DL);
        c43.intoArray(out, oo + 4 * nr + 3 * DL);
        c50.intoArray(out, oo + 5 * nr + 0 * DL);
        c51.intoArray(out, oo + 5 * nr + 1 * DL);
        c52.intoArray(out, oo + 5 * nr + 2 * DL);
        c53.intoArray(out, oo + 5 * nr + 3 * DL);
    }

    /**
     * {@link #tile} for the last one to three rows of a product (12 accumulators): the six-row tile would compute
     * three to five repeated rows for nothing, an eighth of the work at 32 rows. Same multiply-adds per row, in
     * the same order; all three rows of {@code out} past {@code oo} are written. GPT-2 124M's 48 linears, old and
     * new alternated in one JVM: 32 rows 49.3–51.1 → 46.4–46.8 ms, 20 rows 36.4–37.6 → 33.3–35.6 ms.
     */
    private static void tile3(double[] a, int ao, int lda, int rows, int k, float[] b, int bo, boolean carry,
                              double[] out, int oo) {
        int last = rows - 1, nr = PackedWeight.NR;
        int a0 = ao, a1 = ao + Math.min(1, last) * lda, a2 = ao + Math.min(2, last) * lda;
        double[] init = carry ? out : null;
        DoubleVector c00 = start(init, oo), c01 = start(init, oo + DL);
        DoubleVector c02 = start(init, oo + 2 * DL), c03 = start(init, oo + 3 * DL);
        DoubleVector c10 = start(init, oo + nr), c11 = start(init, oo + nr + DL);
        DoubleVector c12 = start(init, oo + nr + 2 * DL), c13 = start(init, oo + nr + 3 * DL);
        DoubleVector c20 = start(init, oo + 2 * nr), c21 = start(init, oo + 2 * nr + DL);
        DoubleVector c22 = start(init, oo + 2 * nr + 2 * DL), c23 = start(init, oo + 2 * nr + 3 * DL);
        for (int p = 0; p < k; p++) {
            int o = bo + p * nr;
            DoubleVector b0 = widen(b, o), b1 = widen(b, o + DL), b2 = widen(b, o + 2 * DL), b3 = widen(b, o + 3 * DL);
            {
                DoubleVector av = DoubleVector.broadcast(D, a[a0 + p]);
                c00 = av.fma(b0, c00);
                c01 = av.fma(b1, c01);
                c02 = av.fma(b2, c02);
                c03 = av.fma(b3, c03);
            }
            {
                DoubleVector av = DoubleVector.broadcast(D, a[a1 + p]);
                c10 = av.fma(b0, c10);
                c11 = av.fma(b1, c11);
                c12 = av.fma(b2, c12);
                c13 = av.fma(b3, c13);
            }
            {
                DoubleVector av = DoubleVector.broadcast(D, a[a2 + p]);
                c20 = av.fma(b0, c20);
                c21 = av.fma(b1, c21);
                c22 = av.fma(b2, c22);
                c23 = av.fma(b3, c23);
            }
        }
        c00.intoArray(out, oo);
        c01.intoArray(out, oo + DL);
        c02.intoArray(out, oo + 2 * DL);
        c03.intoArray(out, oo + 3 * DL);
        c10.intoArray(out, oo + nr);
        c11.intoArray(out, oo + nr + DL);
        c12.intoArray(out, oo + nr + 2 * DL);
        c13.intoArray(out, oo + nr + 3 * DL);
        c20.intoArray(out, oo + 2 * nr);
        c21.intoArray(out, oo + 2 * nr + DL);
        c22.intoArray(out, oo + 2 * nr + 2 * DL);
        c23.intoArray(out, oo + 2 * nr + 3 * DL);
    }

    private static DoubleVector start(double[] init, int o) {
        return init == null ? DoubleVector.zero(D) : DoubleVector.fromArray(D, init, o);
    }

    /** {@code y[yo..yo+n) += alpha · x[xo..xo+n)}. */
    public static void axpy(double alpha, double[] x, int xo, double[] y, int yo, int n) {
        int i = 0, bound = D.loopBound(n);
        DoubleVector va = DoubleVector.broadcast(D, alpha);
        for (; i < bound; i += DL) {
            DoubleVector.fromArray(D, x, xo + i).fma(va, DoubleVector.fromArray(D, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += alpha * x[xo + i];
        }
    }

    /** {@code y += x} elementwise (same shape). */
    public static void addInPlace(DoubleMatrix y, DoubleMatrix x) {
        if (y.rows != x.rows || y.cols != x.cols) {
            throw new IllegalArgumentException("add shapes " + y.shape() + " + " + x.shape());
        }
        axpy(1, x.data, 0, y.data, 0, y.data.length);
    }

    private static final long ONE_BITS = Double.doubleToRawLongBits(1.0);
    private static final long MANTISSA = (1L << 52) - 1;
    private static final double SQRT2 = Math.sqrt(2), LN2_HI = 0x1.62e42fee00000p-1, LN2_LO = 0x1.a39ef35793c76p-33;
    private static final double HALF_PI = Math.PI / 2;

    /**
     * Box–Muller in float64: {@code N(0, std²)} values into {@code out[off..off+len)} from the random words
     * {@code bits[0..len)} ({@code len} even). The top 52 bits of a word become a uniform in {@code [1, 2)}
     * through the exponent field (AVX2 has no 64-bit integer-to-double conversion), so {@code u₁ ∈ (0, 1]}
     * has 52 random bits and a pad's low bits are as random as its high ones: a pad on a coarser grid
     * would let a row's own low bits through the addition. The angle's quadrant is the second word's top two
     * bits, its offset in the quadrant the next 52.
     *
     * <p>The logarithm, sine and cosine are polynomials over exact operations (see {@link VectorMath}), not the
     * Vector API's {@code LOG}/{@code SIN}/{@code COS}, which give other last bits compiled (SVML) than
     * interpreted ({@code StrictMath}): a seeded pad stream ({@code --mask-seed}) then depended on when the JIT
     * had compiled this loop. Within 4e-15 of {@code StrictMath}'s values relative to the radius (tested).
     */
    public static void gaussian(long[] bits, double[] out, int off, int len, double std) {
        if ((len & 1) != 0 || bits.length < len || off + len > out.length) {
            throw new IllegalArgumentException("gaussian needs an even length within both arrays");
        }
        int lanes = L.length(), i = 0;
        for (; i + 2 * lanes <= len; i += 2 * lanes) {
            // written out in one loop: a helper taking and returning vectors was not inlined once this loop was
            // inlined into the pad stream, and every vector then went through the heap (29-36 ns per value)
            DoubleVector u1 = ((DoubleVector) LongVector.fromArray(L, bits, i).lanewise(VectorOperators.LSHR, 12)
                    .or(ONE_BITS).reinterpretShape(D, 0)).neg().add(2.0); // (0, 1]
            // ln u₁ = e·ln 2 + ln m, m in [√½, √2): ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172
            LongVector ub = (LongVector) u1.reinterpretShape(L, 0);
            DoubleVector m = (DoubleVector) ub.and(MANTISSA).or(ONE_BITS).reinterpretShape(D, 0);
            DoubleVector e = (DoubleVector) ub.lanewise(VectorOperators.LSHR, 52).sub(1023)
                    .convert(VectorOperators.L2D, 0);
            var big = m.compare(VectorOperators.GT, SQRT2);
            m = m.blend(m.mul(0.5), big);
            e = e.add(1.0, big);
            DoubleVector s = m.sub(1.0).div(m.add(1.0)), z = s.mul(s);
            DoubleVector p = z.fma(1.0 / 21, 1.0 / 19).mul(z).add(1.0 / 17).mul(z).add(1.0 / 15)
                    .mul(z).add(1.0 / 13).mul(z).add(1.0 / 11).mul(z).add(1.0 / 9).mul(z).add(1.0 / 7).mul(z).add(1.0 / 5)
                    .mul(z).add(1.0 / 3).mul(z).add(1.0);
            DoubleVector ln = e.fma(DoubleVector.broadcast(D, LN2_HI), e.fma(DoubleVector.broadcast(D, LN2_LO), s.add(s).mul(p)));
            DoubleVector r = ln.mul(-2.0).sqrt().mul(std);
            // angle = (π/2)·(q + f): q the word's top two bits, f ∈ [0, 1) its next 52
            LongVector w2 = LongVector.fromArray(L, bits, i + lanes);
            LongVector q = w2.lanewise(VectorOperators.LSHR, 62);
            DoubleVector a = ((DoubleVector) w2.lanewise(VectorOperators.LSHL, 2).lanewise(VectorOperators.LSHR, 12)
                    .or(ONE_BITS).reinterpretShape(D, 0)).sub(1.0).mul(HALF_PI); // [0, π/2)
            DoubleVector a2 = a.mul(a);
            DoubleVector sin = a2.fma(-1.0 / 51090942171709440000.0, 1.0 / 121645100408832000.0)
                    .mul(a2).add(-1.0 / 355687428096000.0).mul(a2).add(1.0 / 1307674368000.0).mul(a2).add(-1.0 / 6227020800.0)
                    .mul(a2).add(1.0 / 39916800.0).mul(a2).add(-1.0 / 362880.0).mul(a2).add(1.0 / 5040.0).mul(a2).add(-1.0 / 120.0)
                    .mul(a2).add(1.0 / 6).fma(a2.neg(), DoubleVector.broadcast(D, 1.0)).mul(a);
            DoubleVector cos = a2.fma(1.0 / 1124000727777607680000.0, -1.0 / 2432902008176640000.0)
                    .mul(a2).add(1.0 / 6402373705728000.0).mul(a2).add(-1.0 / 20922789888000.0).mul(a2).add(1.0 / 87178291200.0)
                    .mul(a2).add(-1.0 / 479001600.0).mul(a2).add(1.0 / 3628800.0).mul(a2).add(-1.0 / 40320.0).mul(a2).add(1.0 / 720.0)
                    .mul(a2).add(-1.0 / 24).mul(a2).add(0.5).fma(a2.neg(), DoubleVector.broadcast(D, 1.0));
            // quadrant q: (cos, sin) of qπ/2 + a is (c, s), (−s, c), (−c, −s), (s, −c)
            var odd = q.and(1L).compare(VectorOperators.NE, 0L).cast(D);
            var cosNeg = q.add(1L).and(2L).compare(VectorOperators.NE, 0L).cast(D);
            var sinNeg = q.and(2L).compare(VectorOperators.NE, 0L).cast(D);
            DoubleVector x = cos.blend(sin, odd), y = sin.blend(cos, odd);
            r.mul(x.lanewise(VectorOperators.NEG, cosNeg)).intoArray(out, off + i);
            r.mul(y.lanewise(VectorOperators.NEG, sinNeg)).intoArray(out, off + i + lanes);
        }
        for (; i < len; i += 2) { // StrictMath: the same bits whether compiled or not
            double u1 = 2.0 - Double.longBitsToDouble(ONE_BITS | (bits[i] >>> 12));
            double angle = HALF_PI * ((bits[i + 1] >>> 62)
                    + (Double.longBitsToDouble(ONE_BITS | ((bits[i + 1] << 2) >>> 12)) - 1.0));
            double r = std * StrictMath.sqrt(-2 * StrictMath.log(u1));
            out[off + i] = r * StrictMath.cos(angle);
            out[off + i + 1] = r * StrictMath.sin(angle);
        }
    }
}
