package org.privllm.trusted.integrity;

import java.security.SecureRandom;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;

/**
 * An {@link Executor} decorator on the trusted side that checks what an untrusted executor returns.
 *
 * <p><b>Linear results: Freivalds' test.</b> At upload, for each of {@link #VECTORS} secret vectors
 * {@code r} (entries {@code ±U[1/2, 1]} from {@link SecureRandom}, fresh per weight and session, never
 * sent), it precomputes {@code W̃·r + Ã·(B̃·r)} and {@code b̃·r} in double precision, plus the same with
 * absolute values for the rounding bound. Each {@code linear} result row is then checked as
 * {@code |Ỹ_i·r − X̃_i·(W̃r + ÃB̃r) − b̃·r − C_i·r| ≤ τ_i} at a cost of {@code O(n·(in + out))} per
 * vector, against the {@code O(n·in·out)} product it checks. The tolerance is the probabilistic
 * rounding bound {@code τ_i = λ·√m·u·(|X̃_i|·(|W̃||r| + |Ã||B̃||r|) + |b̃|·|r| + |C_i|·|r|)} with
 * {@code m = in + rank + 2}, {@code u = 2⁻²⁴} and {@code λ = 8}, so an honest float32 executor never
 * fails it. False accept: a corrupted row {@code e_i ≠ 0} passes one vector only if {@code e_i·r} lands
 * in an interval of width {@code 4τ_i}; conditioning on every other coordinate, the coordinate
 * {@code j} of the largest {@code |e_ij|} has density at most 1 on its support, so
 * {@code P[pass] ≤ 4τ_i/‖e_i‖∞}, and {@code ≤ (4τ_i/‖e_i‖∞)²} for the two independent vectors
 * (an error below about {@code τ_i} is indistinguishable from rounding and is not claimed to be caught).
 * The executor learns at most one bit (the session is aborted on the first failure); vectors are fresh
 * per session.
 *
 * <p><b>Attention results: checksum columns on c_proj</b> (the package documentation gives the full
 * design, its limits and the stronger protocol extension). The interface returns only the
 * projected output, not the attention core, so Freivalds cannot be applied without the executor's
 * intermediates. A weight uploaded with {@link Role#ATTENTION_PROJECTION} carries {@link #CHECK_COLUMNS}
 * extra secret columns {@code W̃·R} ({@code b̃·R}, {@code B̃·R}); every attention output row must then
 * satisfy {@code out_extra ≈ out·R}, checked in {@code O(n·out·k)}. This detects any corruption of the
 * returned output (faults, a careless or non-adaptive adversary) with probability 1 beyond the float
 * tolerance. It does not detect a wrong attention core or c_attn product that is then projected
 * honestly, and an adaptive executor that analyses the uploaded weight can find the checksum columns
 * (they are linear combinations of the others) — limits stated in the docs.
 */
public final class VerifyingExecutor implements Executor {
    /** Independent Freivalds vectors per weight. */
    public static final int VECTORS = 2;
    /** Checksum columns appended to an attention projection. */
    public static final int CHECK_COLUMNS = 2;
    private static final double U = 0x1p-24;
    private static final double LAMBDA = 8;
    /** Slack for cancellation inside the executor's c_proj sums that the checksum test cannot see. */
    private static final double CHECKSUM_SLACK = 64;

    /** What an uploaded weight is for. */
    public enum Role {
        /** A plain linear layer: Freivalds on every {@code linear} result. */
        GENERAL,
        /** The c_proj of an attention sublayer: also carries checksum columns so attention outputs are checked. */
        ATTENTION_PROJECTION
    }

    private final Executor inner;
    private final Random random;
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();

    /** Checks with secret vectors from {@link SecureRandom}. */
    public VerifyingExecutor(Executor inner) {
        this(inner, new SecureRandom());
    }

    /** Checks with vectors from {@code random} (seed it only for reproducible experiments). */
    public VerifyingExecutor(Executor inner, Random random) {
        this.inner = inner;
        this.random = random;
    }

    /** Per-weight check data: nothing here ever leaves this process. */
    private record Check(int in, int out, int rank, boolean bias, float[][] r, double[][] wr, double[][] absWr, double[] br,
                         double[] absBr, float[] checksum, double[][] absChecksumW, double[] absChecksumB) {}

    private static final class Session {
        final Map<Long, Check> checks = new ConcurrentHashMap<>();
        volatile boolean aborted;
    }

    private Session session(SessionId id) {
        Session s = sessions.get(id.value());
        if (s == null) {
            throw new IllegalArgumentException("unknown session (not opened through this verifier)");
        }
        if (s.aborted) {
            throw new IntegrityException("session aborted after a failed integrity check");
        }
        return s;
    }

    @Override
    public SessionId openSession() {
        SessionId id = inner.openSession();
        sessions.put(id.value(), new Session());
        return id;
    }

    @Override
    public void closeSession(SessionId session) {
        sessions.remove(session.value());
        inner.closeSession(session);
    }

    /**
     * Uploads with the role inferred, so the decorator drops in under code that knows nothing about
     * verification: a weight marked {@link LinearWeights#attentionInput() as an attention input} (any decoder's
     * fused q/k/v), or one that could be GPT-2's fused c_attn ({@code out = 3·in}), is sent as is
     * ({@link Role#GENERAL}); every other weight gets checksum columns ({@link Role#ATTENTION_PROJECTION}) so it
     * can serve as an attention projection. The columns cost {@code 2/out} extra executor work and are stripped
     * from every result.
     */
    @Override
    public WeightId uploadLinear(SessionId session, LinearWeights weights) {
        Matrix w = weights.weight();
        return uploadLinear(session, weights, weights.attentionInput() || (long) w.cols == 3L * w.rows
                ? Role.GENERAL : Role.ATTENTION_PROJECTION);
    }

    /** Uploads a weight for the given role; an attention's c_proj must use {@link Role#ATTENTION_PROJECTION}. */
    public WeightId uploadLinear(SessionId session, LinearWeights w, Role role) {
        Session s = session(session);
        Matrix weight = w.weight();
        int in = weight.rows, out = weight.cols, rank = w.loraA() == null ? 0 : w.loraA().cols;
        float[][] r = new float[VECTORS][];
        double[][] wr = new double[VECTORS][], absWr = new double[VECTORS][];
        double[] br = new double[VECTORS], absBr = new double[VECTORS];
        for (int t = 0; t < VECTORS; t++) {
            r[t] = secretVector(out);
            wr[t] = times(weight, r[t], false);
            absWr[t] = times(weight, r[t], true);
            if (rank > 0) {
                addInPlace(wr[t], times(w.loraA(), toFloat(times(w.loraB(), r[t], false)), false));
                addInPlace(absWr[t], timesAbs(w.loraA(), times(w.loraB(), r[t], true)));
            }
            if (w.bias() != null) {
                for (int j = 0; j < out; j++) {
                    br[t] += (double) w.bias()[j] * r[t][j];
                    absBr[t] += Math.abs((double) w.bias()[j] * r[t][j]);
                }
            }
        }
        float[] checksum = null;
        double[][] absChecksumW = null;
        double[] absChecksumB = null;
        LinearWeights sent = w;
        if (role == Role.ATTENTION_PROJECTION) {
            checksum = new float[out * CHECK_COLUMNS];
            for (int i = 0; i < checksum.length; i++) {
                checksum[i] = secretEntry();
            }
            // |W̃|·|R_k| and |b̃|·|R_k|: the input-side magnitudes that bound a linear call's checksum rounding.
            absChecksumW = new double[CHECK_COLUMNS][];
            absChecksumB = new double[CHECK_COLUMNS];
            for (int k = 0; k < CHECK_COLUMNS; k++) {
                float[] rk = new float[out];
                for (int j = 0; j < out; j++) {
                    rk[j] = checksum[j * CHECK_COLUMNS + k];
                }
                absChecksumW[k] = times(weight, rk, true);
                if (rank > 0) {
                    addInPlace(absChecksumW[k], timesAbs(w.loraA(), times(w.loraB(), rk, true)));
                }
                if (w.bias() != null) {
                    for (int j = 0; j < out; j++) {
                        absChecksumB[k] += Math.abs((double) w.bias()[j] * rk[j]);
                    }
                }
            }
            Matrix rc = new Matrix(out, CHECK_COLUMNS, checksum);
            sent = new LinearWeights(appendColumns(weight, Kernels.matmul(weight, rc)),
                    w.bias() == null ? null : appendColumns(Matrix.rowVector(w.bias()),
                            Kernels.matmul(Matrix.rowVector(w.bias()), rc)).data,
                    w.loraA(), rank == 0 ? null : appendColumns(w.loraB(), Kernels.matmul(w.loraB(), rc)));
        }
        WeightId id = inner.uploadLinear(session, sent);
        s.checks.put(id.value(), new Check(in, out, rank, w.bias() != null, r, wr, absWr, br, absBr, checksum, absChecksumW, absChecksumB));
        return id;
    }

    @Override
    public Matrix linear(SessionId session, WeightId weight, Matrix x, Matrix compensation) {
        Session s = session(session);
        Check c = check(s, weight);
        if (x.cols != c.in || (compensation != null && (compensation.rows != x.rows || compensation.cols != c.out))) {
            throw new IllegalArgumentException("linear input " + x.shape() + " / compensation "
                    + (compensation == null ? "none" : compensation.shape()) + " do not fit weight " + c.in + "x" + c.out);
        }
        Matrix sentC = compensation;
        if (c.checksum != null && compensation != null) {
            sentC = appendColumns(compensation, Kernels.matmul(compensation, new Matrix(c.out, CHECK_COLUMNS, c.checksum)));
        }
        Matrix y = inner.linear(session, weight, x, sentC);
        int cols = c.out + (c.checksum == null ? 0 : CHECK_COLUMNS);
        if (y.rows != x.rows || y.cols != cols) {
            abort(session, s, "linear (weight " + weight.value() + ") returned " + y.shape() + " for " + x.rows + "x" + cols);
        }
        if (c.checksum != null) {
            verifyChecksum(session, s, y, c, x.cols, "linear (weight " + weight.value() + ")", x, compensation);
            y = y.cols(0, c.out);
        }
        verifyFreivalds(session, s, c, weight, x, compensation, y);
        return y;
    }

    /**
     * Freivalds in float64 on a wide product: {@code |Y_i·r − X_i·(W·r)| ≤ λ·√(in+3)·2⁻⁵³·|X_i|·(|W||r|)}.
     * Padded rows are about a million times the signal, so this bound is about 1e-8 of the signal: any
     * corruption the trusted side would notice after removing the pad is caught here first. A weight that
     * got checksum columns at upload (the shape rule above) returns them too; they are checked and dropped.
     */
    @Override
    public DoubleMatrix linear64(SessionId session, WeightId weight, DoubleMatrix x) {
        Session s = session(session);
        Check c = check(s, weight);
        if (x.cols != c.in || c.rank != 0 || c.bias) {
            throw new IllegalArgumentException("linear64 input " + x.shape() + " does not fit bare weight " + c.in + "x" + c.out);
        }
        DoubleMatrix y = inner.linear64(session, weight, x);
        int cols = c.out + (c.checksum == null ? 0 : CHECK_COLUMNS);
        String what = "linear64 (weight " + weight.value() + ")";
        if (y.rows != x.rows || y.cols != cols) {
            abort(session, s, what + " returned " + y.shape() + " for " + x.rows + "x" + cols);
        }
        double gamma = LAMBDA * Math.sqrt(c.in + 3.0) * 0x1p-53;
        for (int i = 0; i < y.rows; i++) {
            int xo = i * x.cols, yo = i * y.cols;
            for (int t = 0; t < VECTORS; t++) {
                float[] r = c.r[t];
                double lhs = 0, rhs = 0, bound = 0;
                for (int j = 0; j < c.out; j++) {
                    lhs += y.data[yo + j] * r[j];
                    bound += Math.abs(y.data[yo + j] * r[j]);
                }
                double[] wr = c.wr[t], awr = c.absWr[t];
                for (int k = 0; k < c.in; k++) {
                    rhs += x.data[xo + k] * wr[k];
                    bound += Math.abs(x.data[xo + k]) * awr[k];
                }
                if (!(Math.abs(lhs - rhs) <= gamma * bound + Double.MIN_NORMAL)) {
                    abort(session, s, what + " row " + i + " of " + y.rows + " fails Freivalds' check");
                }
            }
            // The checksum columns W·R were stored in float32: their rounding (U relative) makes this check
            // much looser than Freivalds' above, which stays the authoritative one for wide products.
            for (int k = 0; c.checksum != null && k < CHECK_COLUMNS; k++) {
                double expect = 0, bound = Math.abs(y.data[yo + c.out + k]), stored = 0;
                for (int j = 0; j < c.out; j++) {
                    double term = y.data[yo + j] * c.checksum[j * CHECK_COLUMNS + k];
                    expect += term;
                    bound += Math.abs(term);
                }
                for (int q = 0; q < c.in; q++) {
                    stored += Math.abs(x.data[xo + q]) * c.absChecksumW[k][q];
                }
                double tol = gamma * (bound + stored) + LAMBDA * U * stored + Double.MIN_NORMAL;
                if (!(Math.abs(y.data[yo + c.out + k] - expect) <= tol)) {
                    abort(session, s, what + " row " + i + " of " + y.rows + " fails its checksum");
                }
            }
        }
        if (c.checksum == null) {
            return y;
        }
        DoubleMatrix stripped = new DoubleMatrix(y.rows, c.out);
        for (int i = 0; i < y.rows; i++) {
            System.arraycopy(y.data, i * y.cols, stripped.data, i * c.out, c.out);
        }
        return stripped;
    }

    @Override
    public void startCache(SessionId session, int layers, int capacity, int width, int[] leftPad) {
        session(session);
        inner.startCache(session, layers, capacity, width, leftPad);
    }

    @Override
    public Matrix attention(SessionId session, AttentionCall call) {
        Session s = session(session);
        Check proj = check(s, call.proj());
        if (proj.checksum == null) {
            throw new IllegalStateException("attention output cannot be verified: projection weight " + call.proj().value()
                    + " was not uploaded with Role.ATTENTION_PROJECTION");
        }
        if (call.qkv() != null && check(s, call.qkv()).checksum != null) {
            throw new IllegalStateException("attention input weight " + call.qkv().value() + " carries checksum columns: "
                    + "upload it marked as an attention input (LinearWeights.asAttentionInput)");
        }
        Matrix y = inner.attention(session, call);
        String what = "attention (layer " + call.layer() + ")";
        if (y.rows != call.x().rows || y.cols != proj.out + CHECK_COLUMNS) {
            abort(session, s, what + " returned " + y.shape() + " for " + call.x().rows + "x" + (proj.out + CHECK_COLUMNS));
        }
        verifyChecksum(session, s, y, proj, proj.in, what, null, null);
        return y.cols(0, proj.out);
    }

    @Override
    public void advanceCache(SessionId session, int t) {
        session(session);
        inner.advanceCache(session, t);
    }

    @Override
    public boolean remote() {
        return inner.remote();
    }

    @Override
    public void close() {
        sessions.clear();
        inner.close();
    }

    // ---- checks ----

    private static Check check(Session s, WeightId id) {
        Check c = s.checks.get(id.value());
        if (c == null) {
            throw new IllegalArgumentException("unknown weight id " + id.value() + " (not uploaded through this verifier)");
        }
        return c;
    }

    private void verifyFreivalds(SessionId session, Session s, Check c, WeightId weight, Matrix x, Matrix comp, Matrix y) {
        double gamma = LAMBDA * Math.sqrt(c.in + c.rank + 3.0) * U;
        for (int i = 0; i < y.rows; i++) {
            int xo = i * x.cols, yo = i * y.cols;
            for (int t = 0; t < VECTORS; t++) {
                float[] r = c.r[t];
                double lhs = 0, rhs = c.br[t], bound = c.absBr[t];
                for (int j = 0; j < c.out; j++) {
                    lhs += (double) y.data[yo + j] * r[j];
                }
                double[] wr = c.wr[t], awr = c.absWr[t];
                for (int k = 0; k < c.in; k++) {
                    double xv = x.data[xo + k];
                    rhs += xv * wr[k];
                    bound += Math.abs(xv) * awr[k];
                }
                if (comp != null) {
                    for (int j = 0; j < c.out; j++) {
                        double cv = comp.data[i * comp.cols + j];
                        rhs += cv * r[j];
                        bound += Math.abs(cv * r[j]);
                    }
                }
                double tol = gamma * bound + Double.MIN_NORMAL;
                if (!(Math.abs(lhs - rhs) <= tol)) {
                    abort(session, s, "linear (weight " + weight.value() + ") row " + i + " of " + y.rows
                            + " fails Freivalds' check");
                }
            }
        }
    }

    /**
     * {@code x}/{@code comp}, when the caller knows the product's input (a linear call), widen the bound by
     * the input-side magnitudes {@code |X̃|·|W̃|·|R| + |b̃|·|R| + |C|·|R|}: outputs that cancel are otherwise
     * held to a bound their own rounding exceeds. Attention outputs pass null (their c_proj input is unseen).
     */
    private void verifyChecksum(SessionId session, Session s, Matrix y, Check c, int in, String what, Matrix x,
                                Matrix comp) {
        double gamma = CHECKSUM_SLACK * LAMBDA * Math.sqrt(in + c.rank + 3.0) * U;
        for (int i = 0; i < y.rows; i++) {
            int yo = i * y.cols;
            for (int k = 0; k < CHECK_COLUMNS; k++) {
                double expect = 0, bound = 0;
                for (int j = 0; j < c.out; j++) {
                    double term = (double) y.data[yo + j] * c.checksum[j * CHECK_COLUMNS + k];
                    expect += term;
                    bound += Math.abs(term);
                }
                double got = y.data[yo + c.out + k];
                if (x != null) {
                    bound += c.absChecksumB[k];
                    for (int q = 0; q < c.in; q++) {
                        bound += Math.abs(x.data[i * x.cols + q]) * c.absChecksumW[k][q];
                    }
                    if (comp != null) {
                        for (int j = 0; j < c.out; j++) {
                            bound += Math.abs(comp.data[i * comp.cols + j] * c.checksum[j * CHECK_COLUMNS + k]);
                        }
                    }
                }
                if (!(Math.abs(got - expect) <= gamma * (bound + Math.abs(got)) + Double.MIN_NORMAL)) {
                    abort(session, s, what + " row " + i + " of " + y.rows + " fails its checksum");
                }
            }
        }
    }

    /** Marks the session dead, closes it on the executor, and throws. */
    private void abort(SessionId session, Session s, String what) {
        s.aborted = true;
        try {
            inner.closeSession(session);
        } catch (RuntimeException ignored) {
            // the executor may be gone too; the integrity failure is what the caller must see
        }
        throw new IntegrityException("integrity check failed: " + what + "; session aborted");
    }

    // ---- small helpers ----

    private float secretEntry() {
        float v = 0.5f + 0.5f * random.nextFloat();
        return random.nextBoolean() ? v : -v;
    }

    private float[] secretVector(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = secretEntry();
        }
        return v;
    }

    /** {@code M·v} (or {@code |M|·|v|}) in double. */
    private static double[] times(Matrix m, float[] v, boolean abs) {
        double[] out = new double[m.rows];
        for (int i = 0; i < m.rows; i++) {
            double sum = 0;
            int o = i * m.cols;
            for (int j = 0; j < m.cols; j++) {
                double p = (double) m.data[o + j] * v[j];
                sum += abs ? Math.abs(p) : p;
            }
            out[i] = sum;
        }
        return out;
    }

    private static double[] timesAbs(Matrix m, double[] v) {
        double[] out = new double[m.rows];
        for (int i = 0; i < m.rows; i++) {
            double sum = 0;
            for (int j = 0; j < m.cols; j++) {
                sum += Math.abs(m.data[i * m.cols + j]) * v[j];
            }
            out[i] = sum;
        }
        return out;
    }

    private static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    private static void addInPlace(double[] a, double[] b) {
        for (int i = 0; i < a.length; i++) {
            a[i] += b[i];
        }
    }

    private static Matrix appendColumns(Matrix a, Matrix b) {
        Matrix out = new Matrix(a.rows, a.cols + b.cols);
        for (int i = 0; i < a.rows; i++) {
            System.arraycopy(a.data, i * a.cols, out.data, i * out.cols, a.cols);
            System.arraycopy(b.data, i * b.cols, out.data, i * out.cols + a.cols, b.cols);
        }
        return out;
    }
}
