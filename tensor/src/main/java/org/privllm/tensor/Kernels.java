package org.privllm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The numeric kernels. Each is a small method on flat arrays so the JIT vectorises it; the public
 * entry points check shapes and split work over {@link Parallel}.
 *
 * <p>{@code X·W} runs a register-tiled micro-kernel: {@link #MR} rows of X times one
 * {@link PackedWeight} panel (two vectors of columns), twelve accumulators that stay in registers
 * over the whole inner dimension (about 170 GFLOP/s on 2 AVX2 cores at 128 rows, quiet machine).
 * Work is split over panels, so each thread streams its own contiguous part of the weight once
 * while the rows of X stay in cache. Decode's GEMV is memory-bound: one to four rows get tiles
 * that do only the arithmetic they need, so the loads of the weight stream are never held up.
 * The same serial core ({@link #multiply}) serves prefill attention's two products.
 *
 * <p>This is the only backend ({@link #backend()}): it beats Debian's OpenBLAS sgemm here (about
 * 140 GFLOP/s), so no native BLAS is loaded.
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
        int grain = (int) Math.min(w.panelCount(), Math.max(1, SERIAL_MACS / macsPerPanel));
        Parallel.forRange(w.panelCount(), grain, (from, to) -> multiply(x.data, 0, w.in, n, w.in, w.panels, 0,
                from, to, bp, y.data, 0, w.out, w.out, new float[MR * nr]));
        Profile.stop(n > 4 ? Profile.Kind.GEMM : Profile.Kind.GEMV, t0);
    }

    /**
     * Serial core of every product: {@code C[n × out] = A[n × k] · W + bias} for panels
     * {@code [qFrom, qTo)} of a packed {@code W} (panel {@code q} at {@code b[bo + q·k·NR]}). Row
     * {@code i} of A starts at {@code a[aOff + i·lda]}, of C at {@code c[cOff + i·ldc]}; {@code bias}
     * (may be null) is padded to whole panels; {@code tileOut} is {@code MR·NR} scratch.
     */
    static void multiply(float[] a, int aOff, int lda, int n, int k, float[] b, int bo, int qFrom, int qTo,
                         float[] bias, float[] c, int cOff, int ldc, int out, float[] tileOut) {
        int nr = PackedWeight.NR;
        for (int q = qFrom; q < qTo; q++) {
            int j0 = q * nr, cols = Math.min(nr, out - j0), po = bo + q * k * nr;
            if (n == 1 && q + 1 < qTo) { // decode's GEMV: two panels at once, four independent accumulators
                int cols2 = Math.min(nr, out - j0 - nr);
                tile1x2(a, aOff, k, b, po, po + k * nr, bias, j0, tileOut);
                System.arraycopy(tileOut, 0, c, cOff + j0, cols);
                System.arraycopy(tileOut, nr, c, cOff + j0 + nr, cols2);
                q++;
                continue;
            }
            for (int i0 = 0; i0 < n; i0 += MR) {
                int rows = Math.min(MR, n - i0), ao = aOff + i0 * lda;
                if (rows == 1) {
                    tile1(a, ao, k, b, po, bias, j0, tileOut);
                } else if (rows <= 4) {
                    tile4(a, ao, lda, rows, k, b, po, bias, j0, tileOut);
                } else {
                    tile(a, ao, lda, rows, k, b, po, bias, j0, tileOut);
                }
                for (int r = 0; r < rows; r++) {
                    System.arraycopy(tileOut, r * nr, c, cOff + (i0 + r) * ldc + j0, cols);
                }
            }
        }
    }

    /**
     * {@link #tile} for two to four rows (batched decode, the GEMM's last rows): memory-bound like
     * {@link #tile1}, so it does only the arithmetic the rows need.
     */
    private static void tile4(float[] a, int ao, int lda, int rows, int k, float[] b, int bo, float[] bias,
                              int j0, float[] out) {
        int last = rows - 1;
        int a0 = ao, a1 = ao + Math.min(1, last) * lda, a2 = ao + Math.min(2, last) * lda;
        int a3 = ao + Math.min(3, last) * lda;
        FloatVector c00 = bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, j0);
        FloatVector c01 = bias == null ? c00 : FloatVector.fromArray(S, bias, j0 + LANES);
        FloatVector c10 = c00, c20 = c00, c30 = c00;
        FloatVector c11 = c01, c21 = c01, c31 = c01;
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
        int nr = PackedWeight.NR;
        c00.intoArray(out, 0);
        c01.intoArray(out, LANES);
        c10.intoArray(out, nr);
        c11.intoArray(out, nr + LANES);
        c20.intoArray(out, 2 * nr);
        c21.intoArray(out, 2 * nr + LANES);
        c30.intoArray(out, 3 * nr);
        c31.intoArray(out, 3 * nr + LANES);
    }

    /**
     * {@code out[0..NR) = A[a0..a0+k) · panel + bias}: decode's one-row GEMV. It is memory-bound, so it gets
     * its own loop instead of the six-row tile's six times redundant arithmetic. It accumulates in exactly the
     * order of {@link #tile} and {@link #tile4} (one fused multiply-add per step of the inner dimension, from the
     * bias), so a row's product is bit for bit the same whether it is multiplied alone or among other rows:
     * the batched engine's rows equal each sequence run alone (a split accumulator, even and odd steps, would
     * hide more FMA latency but round differently).
     */
    private static void tile1(float[] a, int a0, int k, float[] b, int bo, float[] bias, int j0, float[] out) {
        FloatVector c00 = bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, j0);
        FloatVector c01 = bias == null ? c00 : FloatVector.fromArray(S, bias, j0 + LANES);
        for (int p = 0; p < k; p++, bo += PackedWeight.NR) {
            FloatVector av = FloatVector.broadcast(S, a[a0 + p]);
            c00 = av.fma(FloatVector.fromArray(S, b, bo), c00);
            c01 = av.fma(FloatVector.fromArray(S, b, bo + LANES), c01);
        }
        c00.intoArray(out, 0);
        c01.intoArray(out, LANES);
    }

    /**
     * {@link #tile1} for two panels (at {@code b[bo]} and {@code b[bo2]}, columns {@code j0} and
     * {@code j0 + NR}): four independent accumulator chains hide the FMA latency while each column is still
     * accumulated in {@link #tile}'s order.
     */
    private static void tile1x2(float[] a, int a0, int k, float[] b, int bo, int bo2, float[] bias, int j0,
                                float[] out) {
        int nr = PackedWeight.NR;
        FloatVector c00 = bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, j0);
        FloatVector c01 = bias == null ? c00 : FloatVector.fromArray(S, bias, j0 + LANES);
        FloatVector c10 = bias == null ? c00 : FloatVector.fromArray(S, bias, j0 + nr);
        FloatVector c11 = bias == null ? c00 : FloatVector.fromArray(S, bias, j0 + nr + LANES);
        for (int p = 0; p < k; p++, bo += nr, bo2 += nr) {
            FloatVector av = FloatVector.broadcast(S, a[a0 + p]);
            c00 = av.fma(FloatVector.fromArray(S, b, bo), c00);
            c01 = av.fma(FloatVector.fromArray(S, b, bo + LANES), c01);
            c10 = av.fma(FloatVector.fromArray(S, b, bo2), c10);
            c11 = av.fma(FloatVector.fromArray(S, b, bo2 + LANES), c11);
        }
        c00.intoArray(out, 0);
        c01.intoArray(out, LANES);
        c10.intoArray(out, nr);
        c11.intoArray(out, nr + LANES);
    }

    /**
     * {@code out[MR×NR] = A[rows at ao + r·lda] · panel + bias[j0..j0+NR)}. Rows past {@code rows} repeat the
     * last real row (computed, not used) so one branch-free loop serves every row count; storing
     * through the small {@code out} tile keeps the edge handling out of the hot method.
     */
    private static void tile(float[] a, int ao, int lda, int rows, int k, float[] b, int bo, float[] bias, int j0,
                             float[] out) {
        int last = rows - 1;
        int a0 = ao, a1 = ao + Math.min(1, last) * lda, a2 = ao + Math.min(2, last) * lda;
        int a3 = ao + Math.min(3, last) * lda, a4 = ao + Math.min(4, last) * lda, a5 = ao + Math.min(5, last) * lda;
        FloatVector c00 = bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, j0);
        FloatVector c01 = bias == null ? c00 : FloatVector.fromArray(S, bias, j0 + LANES);
        FloatVector c10 = c00, c20 = c00, c30 = c00, c40 = c00, c50 = c00;
        FloatVector c11 = c01, c21 = c01, c31 = c01, c41 = c01, c51 = c01;
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
            av = FloatVector.broadcast(S, a[a4 + p]);
            c40 = av.fma(b0, c40);
            c41 = av.fma(b1, c41);
            av = FloatVector.broadcast(S, a[a5 + p]);
            c50 = av.fma(b0, c50);
            c51 = av.fma(b1, c51);
        }
        int nr = PackedWeight.NR;
        c00.intoArray(out, 0);
        c01.intoArray(out, LANES);
        c10.intoArray(out, nr);
        c11.intoArray(out, nr + LANES);
        c20.intoArray(out, 2 * nr);
        c21.intoArray(out, 2 * nr + LANES);
        c30.intoArray(out, 3 * nr);
        c31.intoArray(out, 3 * nr + LANES);
        c40.intoArray(out, 4 * nr);
        c41.intoArray(out, 4 * nr + LANES);
        c50.intoArray(out, 5 * nr);
        c51.intoArray(out, 5 * nr + LANES);
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
     * GPT-2's {@code gelu_new} in place on {@code x[from..to)}: {@code 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))},
     * vectorised (the JDK maps the Vector API's TANH to its SVML stubs, ~1 ulp); a scalar double
     * tanh per element cost prefill more than a whole MLP product.
     */
    public static void geluTanh(float[] x, int from, int to) {
        int i = from;
        int bound = from + S.loopBound(to - from);
        for (; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i);
            FloatVector inner = v.mul(v).mul(v).mul(0.044715f).add(v).mul(GELU_C);
            v.mul(0.5f).mul(inner.lanewise(VectorOperators.TANH).add(1f)).intoArray(x, i);
        }
        for (; i < to; i++) {
            double v = x[i];
            x[i] = (float) (0.5 * v * (1.0 + Math.tanh(GELU_C * (v + 0.044715 * v * v * v))));
        }
    }

    /**
     * SwiGLU's gating: {@code out[oo + j] = silu(gate[go + j]) · up[uo + j]} for {@code j < n}, with
     * {@code silu(v) = v / (1 + e^(−v))}, vectorised on the JDK's SVML EXP like {@link #geluTanh}.
     * {@code out} may alias {@code gate} or {@code up} at the same offset.
     */
    public static void siluGate(float[] gate, int go, float[] up, int uo, float[] out, int oo, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector g = FloatVector.fromArray(S, gate, go + i);
            FloatVector silu = g.div(g.neg().lanewise(VectorOperators.EXP).add(1f));
            silu.mul(FloatVector.fromArray(S, up, uo + i)).intoArray(out, oo + i);
        }
        for (; i < n; i++) {
            float g = gate[go + i];
            out[oo + i] = (float) (g / (1.0 + Math.exp(-g))) * up[uo + i];
        }
    }

    private static final float TWO_PI_2_24 = (float) (2 * Math.PI * 0x1.0p-24);

    /**
     * Box–Muller: {@code N(0, std²)} floats into {@code out[off..off+len)} from the random words
     * {@code bits[0..len)} ({@code len} even; the upper 24 bits of each word are used, so
     * {@code u₁ ∈ (0, 1]} and the tails reach 5.8σ). Vectorised with the JDK's SVML LOG/SIN/COS: a
     * scalar double Box–Muller cost more per prefill pad than the product the pad blinds.
     */
    public static void gaussian(int[] bits, float[] out, int off, int len, float std) {
        if ((len & 1) != 0 || bits.length < len || off + len > out.length) {
            throw new IllegalArgumentException("gaussian needs an even length within both arrays");
        }
        int lanes = SI.length(), i = 0;
        for (; i + 2 * lanes <= len; i += 2 * lanes) {
            FloatVector u1 = (FloatVector) IntVector.fromArray(SI, bits, i).lanewise(VectorOperators.LSHR, 8).add(1)
                    .convert(VectorOperators.I2F, 0);
            FloatVector angle = (FloatVector) IntVector.fromArray(SI, bits, i + lanes).lanewise(VectorOperators.LSHR, 8)
                    .convert(VectorOperators.I2F, 0);
            angle = angle.mul(TWO_PI_2_24);
            FloatVector r = u1.mul(0x1.0p-24f).lanewise(VectorOperators.LOG).mul(-2f).sqrt().mul(std);
            r.mul(angle.lanewise(VectorOperators.COS)).intoArray(out, off + i);
            r.mul(angle.lanewise(VectorOperators.SIN)).intoArray(out, off + i + lanes);
        }
        for (; i < len; i += 2) {
            double r = std * Math.sqrt(-2 * Math.log(((bits[i] >>> 8) + 1) * 0x1.0p-24));
            double angle = (bits[i + 1] >>> 8) * (2 * Math.PI * 0x1.0p-24);
            out[off + i] = (float) (r * Math.cos(angle));
            out[off + i + 1] = (float) (r * Math.sin(angle));
        }
    }
}
