package org.privllm.trusted.privacy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.WideKernels;
import org.privllm.trusted.linalg.GaussianStream;
import org.privllm.trusted.obf.ReadyQueues;

/**
 * The trusted side of the blinded levels: one session on each executor, the public weights uploaded once
 * (without bias), and every linear call blinded so that no executor sees a linear input in the clear.
 *
 * <pre>
 *   strong:     send X + T (T fresh, N(0, σ²), σ = ρ·rms)   executor: (X + T)·W     trusted: Y = · − T·W + b
 *   two-party:  send X + R to A, −R to B (R fresh, same σ)   A: (X + R)·W, B: (−R)·W  trusted: Y = A + B + b
 * </pre>
 *
 * Everything crosses in float64 ({@link Executor#linear64}): a pad a million times the signal cancels to
 * about 1e-8 of it there, where float32 would leave nothing. {@code T·W} is as much work as the product it
 * blinds (Slalom's trade): online it doubles the linear work; with a pool ({@link BlindingConfig#poolCapacity})
 * it is made ahead of time, off the request path. Online with a {@linkplain Executor#remote remote} executor it
 * is computed while the call is in flight (the executor's product, the round trip and the trusted product
 * overlap; the messages are the same). Two-party needs no such product: its trusted work is O(n·d) per call,
 * and its two parties' calls run concurrently. A private adapter's path {@code s·(X·A)·B} runs here,
 * O(n·r·(in + out)).
 *
 * <p>Not thread-safe (one forward pass at a time); the pool refills on its own thread, and one helper thread
 * makes a call while this one works (strong with a remote executor, two-party's second party).
 */
public final class BlindedSession implements LinearPlacement {
    private final BlindingConfig config;
    private final List<Executor> parties;
    private final List<SessionId> sessions = new ArrayList<>();
    private final GaussianStream noise;
    private final ReadyQueues<PadKey, PadProduct> pool;
    /** Makes one party's call while the calling thread works; null when nothing overlaps. */
    private final ExecutorService calls;
    private final TrustedWork work;

    /** A pad and its product with the layer's weight, used once. */
    private record PadProduct(DoubleMatrix pad, DoubleMatrix product) {}

    private record PadKey(PlacedLinear layer, int rows) {}

    /**
     * @param parties one executor ({@link PrivacyLevel#STRONG}) or two that do not collude
     *                ({@link PrivacyLevel#TWO_PARTY}); the caller keeps them (this closes only its sessions)
     */
    public BlindedSession(List<Executor> parties, BlindingConfig config, TrustedWork work) {
        if (parties.size() != config.level().parties()) {
            throw new IllegalArgumentException("--privacy " + config.level() + " needs " + config.level().parties()
                    + " executor(s), got " + parties.size());
        }
        this.config = config;
        this.parties = List.copyOf(parties);
        this.work = work;
        this.noise = new GaussianStream(config.random());
        this.pool = config.poolCapacity() > 0
                ? new ReadyQueues<>(config.poolCapacity(), k -> padProduct(k.layer(), k.rows()), "privllm-pad-products") : null;
        boolean overlap = parties.size() > 1 || (pool == null && parties.get(0).remote());
        this.calls = overlap ? Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "privllm-party-call");
            t.setDaemon(true);
            return t;
        }) : null;
        try {
            for (Executor e : this.parties) {
                sessions.add(e.openSession());
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    public BlindingConfig config() {
        return config;
    }

    /** The pad-product pool (strong with {@code --pad-pool}), or null. */
    public ReadyQueues<?, ?> pool() {
        return pool;
    }

    /**
     * Uploads {@code local}'s public weight (no bias, no adapter) to every executor and returns the layer
     * bound to those uploads, its pads scaled to {@code ρ·inputRms}.
     */
    @Override
    public PlacedLinear bind(PlacedLinear local, double inputRms) {
        LinearWeights bare = new LinearWeights(local.weight().toMatrix(), null);
        WeightId[] ids = new WeightId[parties.size()];
        for (int p = 0; p < ids.length; p++) {
            ids[p] = parties.get(p).uploadLinear(sessions.get(p), bare);
        }
        double std = config.rho() * Math.max(inputRms, MIN_RMS);
        return local.placed(ids, std);
    }

    /** A floor for a calibrated RMS (a layer whose calibration input was all zeros still gets real pads). */
    private static final double MIN_RMS = 1e-3;

    /** Pads are scaled to each layer's input RMS on public text. */
    @Override
    public boolean calibrated() {
        return true;
    }

    /** {@code X·W + b + s·(X·A)·B}, with {@code X·W} computed by the executors on blinded rows. */
    @Override
    public Matrix forward(PlacedLinear l, Matrix x) {
        if (x.cols != l.inDim()) {
            throw new IllegalArgumentException("input " + x.shape() + " does not fit " + l);
        }
        int n = x.rows, sent = config.sentRows(n);
        // rows past the real ones are zeros: blinded, they are pad alone, and their outputs are dropped below
        Matrix xs = sent == n ? x : new Matrix(sent, x.cols);
        if (sent != n) {
            System.arraycopy(x.data, 0, xs.data, 0, x.data.length);
        }
        DoubleMatrix sum = switch (config.level()) {
            case STRONG -> padded(l, xs);
            case TWO_PARTY -> shared(l, xs);
            case SEED -> throw new IllegalStateException("seed level has no blinded session");
        };
        Matrix y = new Matrix(n, l.outDim());
        for (int i = 0; i < n; i++) {
            int o = i * y.cols;
            for (int j = 0; j < y.cols; j++) {
                y.data[o + j] = (float) (sum.data[o + j] + (l.bias() == null ? 0 : l.bias()[j]));
            }
        }
        if (l.loraA() != null) {
            l.addAdapter(x, y);
            work.add("adapter", 2L * n * l.rank() * (l.inDim() + l.outDim()));
        }
        work.add("recombine", (long) n * l.outDim() * (l.bias() == null ? 1 : 2));
        return y;
    }

    /**
     * Strong: {@code (X + T)·W − T·W}, {@code T·W} from the pool, or computed here before the call, or (a remote
     * executor, no pool) while the call is in flight.
     */
    private DoubleMatrix padded(PlacedLinear l, Matrix x) {
        int n = x.rows;
        Executor party = parties.get(0);
        SessionId session = sessions.get(0);
        WeightId weight = l.ids()[0];
        DoubleMatrix y, tw;
        if (calls == null) {
            PadProduct p = pool != null ? pool.next(new PadKey(l, n)) : padProduct(l, n);
            y = party.linear64(session, weight, blind(x, p.pad()));
            tw = p.product();
        } else {
            DoubleMatrix t = pad(l, n);
            DoubleMatrix blinded = blind(x, t);
            Future<DoubleMatrix> call = calls.submit(() -> party.linear64(session, weight, blinded));
            try {
                tw = product(l, t);
            } catch (RuntimeException e) {
                awaitQuietly(call);
                throw e;
            }
            y = await(call);
        }
        WideKernels.axpy(-1, tw.data, 0, y.data, 0, y.data.length);
        return y;
    }

    /** {@code X + T} in float64: what the executor sees. */
    private DoubleMatrix blind(Matrix x, DoubleMatrix t) {
        DoubleMatrix blinded = DoubleMatrix.of(x);
        WideKernels.addInPlace(blinded, t);
        work.add("blinding", 2L * x.rows * x.cols);
        return blinded;
    }

    /** A fresh pad {@code T} and {@code T·W}: the trusted product the strong level pays for. */
    private PadProduct padProduct(PlacedLinear l, int rows) {
        DoubleMatrix t = pad(l, rows);
        return new PadProduct(t, product(l, t));
    }

    /** A fresh pad {@code T ~ N(0, σ²)} for {@code rows} inputs of {@code l}. */
    private DoubleMatrix pad(PlacedLinear l, int rows) {
        work.add("pads", TrustedWork.PER_GAUSSIAN * rows * l.inDim());
        return noise.gaussian64(rows, l.inDim(), l.padStd());
    }

    /** {@code T·W}. */
    private DoubleMatrix product(PlacedLinear l, DoubleMatrix t) {
        work.add("pad_products", 2L * t.rows * l.inDim() * l.outDim());
        return WideKernels.matmul(t, l.weight());
    }

    /** Two-party: {@code (X + R)·W} on one executor, {@code (−R)·W} on the other, concurrently. */
    private DoubleMatrix shared(PlacedLinear l, Matrix x) {
        DoubleMatrix r = pad(l, x.rows);
        DoubleMatrix a = blind(x, r);
        for (int i = 0; i < r.data.length; i++) {
            r.data[i] = -r.data[i];
        }
        Future<DoubleMatrix> other = calls.submit(() -> parties.get(1).linear64(sessions.get(1), l.ids()[1], r));
        DoubleMatrix ya;
        try {
            ya = parties.get(0).linear64(sessions.get(0), l.ids()[0], a);
        } catch (RuntimeException e) {
            awaitQuietly(other);
            throw e;
        }
        WideKernels.addInPlace(ya, await(other));
        return ya;
    }

    private static DoubleMatrix await(Future<DoubleMatrix> f) {
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException("executor call failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for an executor", e);
        }
    }

    private static void awaitQuietly(Future<?> f) {
        try {
            f.get();
        } catch (ExecutionException ignored) {
            // the first party's failure is the one reported
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Closes this session on every executor and stops the pool (the executors themselves stay open). */
    @Override
    public void close() {
        if (pool != null) {
            pool.close();
        }
        if (calls != null) {
            calls.shutdownNow();
        }
        for (int p = 0; p < sessions.size(); p++) {
            try {
                parties.get(p).closeSession(sessions.get(p));
            } catch (RuntimeException ignored) {
                // a dead executor has dropped the session already
            }
        }
    }

    @Override
    public String toString() {
        return "BlindedSession[" + config + "]";
    }
}
