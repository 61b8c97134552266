package org.privllm.lab.workload;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What one strategy costs, accumulated operation by operation: trusted and untrusted FLOPs, boundary round
 * trips and bytes each way (setup separately from inference), and trusted memory (resident state plus the
 * largest working set of one operation).
 *
 * <p>Every charge goes through {@link OpCosts}. A {@link #trustedView() trusted view} shares the counters
 * but ignores executor-side charges: a live run uses it where a {@link CountingExecutor} already counts
 * the real executor calls. The counters are guarded by one lock (two-party's second executor charges from its own
 * thread).
 */
public final class Ledger {
    private final Counters c;
    private final boolean executorSide;

    private static final class Counters {
        long trustedFlops, untrustedFlops, roundTrips, bytesTo, bytesFrom;
        long setupRoundTrips, setupBytesTo, peakWorkingBytes, executorNanos;
        final Map<String, Long> resident = new TreeMap<>();
        boolean setup = true;
        boolean closed;
        final Map<String, Long> trustedByOp = new TreeMap<>();
        final Map<String, Long> untrustedByOp = new TreeMap<>();
    }

    public Ledger() {
        this(new Counters(), true);
    }

    private Ledger(Counters c, boolean executorSide) {
        this.c = c;
        this.executorSide = executorSide;
    }

    /** The same counters, ignoring every executor-side charge (untrusted FLOPs, crossings, uploads). */
    public Ledger trustedView() {
        return new Ledger(c, false);
    }

    /** Ends the setup phase: later crossings count as inference. */
    public void beginInference() {
        c.setup = false;
    }

    /** Ends the counted request: later charges (session teardown) are ignored. */
    public void endInference() {
        c.closed = true;
    }

    /** Clears the inference counters (after a warm-up run), keeping setup and resident state. */
    public void resetInference() {
        c.trustedFlops = c.untrustedFlops = c.roundTrips = c.bytesTo = c.bytesFrom = 0;
        c.peakWorkingBytes = c.executorNanos = 0;
        c.trustedByOp.clear();
        c.untrustedByOp.clear();
    }

    // ---- trusted side ----

    public void trusted(String op, long flops) {
        synchronized (c) {
            if (c.closed) {
                return;
            }
            c.trustedFlops += flops;
            c.trustedByOp.merge(op, flops, Long::sum);
        }
    }

    /** State the trusted domain holds for the whole session, by name (a second charge of the same name replaces the first). */
    public void resident(String what, long bytes) {
        synchronized (c) {
            c.resident.put(what, bytes);
        }
    }

    /** Tensors the trusted domain holds during one operation; the peak is kept. */
    public void working(long bytes) {
        synchronized (c) {
            c.peakWorkingBytes = Math.max(c.peakWorkingBytes, bytes);
        }
    }

    // ---- executor side ----

    public void untrusted(String op, long flops) {
        synchronized (c) {
            if (executorSide && !c.closed) {
                c.untrustedFlops += flops;
                c.untrustedByOp.merge(op, flops, Long::sum);
            }
        }
    }

    /** {@code trips} request/reply pairs carrying {@code to} bytes to the executor and {@code from} bytes back. */
    public void crossing(long to, long from, int trips) {
        synchronized (c) {
            if (!executorSide || c.closed) {
                return;
            }
            if (c.setup) {
                c.setupRoundTrips += trips;
                c.setupBytesTo += to;
            } else {
                c.roundTrips += trips;
                c.bytesTo += to;
                c.bytesFrom += from;
            }
        }
    }

    /** An executor {@code linear} call: {@code n×in} in (plus an {@code n×out} compensation), {@code n×out} back. */
    public void linearCall(long n, long in, long out, long rank, boolean bias, boolean compensated) {
        untrusted("linear", OpCosts.linear(n, in, out, rank, bias) + (compensated ? OpCosts.elementwise(n, out) : 0));
        crossing(OpCosts.FLOAT_BYTES * n * (in + (compensated ? out : 0)), OpCosts.FLOAT_BYTES * n * out, 1);
    }

    /** An executor {@code linear64} call: {@code n×in} float64 rows in, {@code n×out} float64 back (no bias). */
    public void linear64Call(long n, long in, long out) {
        untrusted("linear64", OpCosts.linear(n, in, out, 0, false));
        crossing(2 * OpCosts.FLOAT_BYTES * n * in, 2 * OpCosts.FLOAT_BYTES * n * out, 1);
    }

    /**
     * The geometry of an executor attention call: {@code heads} query heads over {@code kvHeads} key/value heads of
     * {@code headDim}, the q/k/v product's input width {@code in} (0: the call carries the fused {@code [Q|K|V]}
     * rows, after a trusted step such as Qwen3's q/k norm), the projection's output width {@code out}, which products
     * carry a bias, and whether the executor applies RoPE (it then also receives a position per row and the
     * {@code headDim/2} float64 inverse frequencies).
     */
    public record AttentionShape(int heads, int kvHeads, int headDim, int in, int out, boolean qkvBias, boolean outBias,
                                 boolean rotary) {
        long qkvWidth() {
            return (long) (heads + 2L * kvHeads) * headDim;
        }

        long qWidth() {
            return (long) heads * headDim;
        }
    }

    /**
     * An executor {@code attention} call on {@code n = batch·t} rows: the fused q/k/v product (unless the rows are
     * given), RoPE on the queries and keys, the core over the cache, the output projection.
     */
    public void attentionCall(long batch, long t, long past, AttentionShape s, long qkvRank, long projRank,
                              boolean compensated) {
        long n = batch * t, qkv = s.qkvWidth();
        if (s.in() > 0) {
            untrusted("c_attn", OpCosts.linear(n, s.in(), qkv, qkvRank, s.qkvBias())
                    + (compensated ? OpCosts.elementwise(n, qkv) : 0));
        }
        if (s.rotary()) {
            untrusted("rope", OpCosts.rope(n * (s.heads() + s.kvHeads()) * (long) s.headDim()));
        }
        untrusted("attention_core", OpCosts.attentionCore(batch, t, past, s.heads(), s.headDim()));
        untrusted("c_proj", OpCosts.linear(n, s.qWidth(), s.out(), projRank, s.outBias()));
        long rows = s.in() > 0 ? s.in() : qkv;
        long rotation = s.rotary() ? OpCosts.FLOAT_BYTES * n + OpCosts.DOUBLE_BYTES * (s.headDim() / 2) : 0;
        crossing(OpCosts.FLOAT_BYTES * n * (rows + (compensated ? qkv : 0)) + rotation, OpCosts.FLOAT_BYTES * n * s.out(), 1);
    }

    /** An upload of a {@code in×out} layer (plus bias and adapter). */
    public void uploadCall(long in, long out, long rank, boolean bias) {
        crossing(OpCosts.FLOAT_BYTES * (in * out + (bias ? out : 0) + rank * (in + out)), 0, 1);
    }

    /** A call carrying only a few scalars (session, cache control). */
    public void controlCall(long bytesTo) {
        crossing(bytesTo, 0, 1);
    }

    public void executorNanos(long nanos) {
        synchronized (c) {
            c.executorNanos += nanos;
        }
    }

    // ---- results ----

    public long trustedFlops() { return c.trustedFlops; }
    public long untrustedFlops() { return c.untrustedFlops; }
    public long roundTrips() { return c.roundTrips; }
    public long bytesToExecutor() { return c.bytesTo; }
    public long bytesFromExecutor() { return c.bytesFrom; }
    public long setupRoundTrips() { return c.setupRoundTrips; }
    public long setupBytesToExecutor() { return c.setupBytesTo; }
    public long residentBytes() { return c.resident.values().stream().mapToLong(Long::longValue).sum(); }
    public long peakWorkingBytes() { return c.peakWorkingBytes; }
    /** Resident state plus the largest working set of one operation. */
    public long trustedPeakBytes() { return residentBytes() + c.peakWorkingBytes; }
    /** Time spent inside executor calls (live runs with a {@link CountingExecutor}). */
    public long executorNanos() { return c.executorNanos; }

    public Map<String, Long> trustedByOp() { return new LinkedHashMap<>(c.trustedByOp); }
    public Map<String, Long> untrustedByOp() { return new LinkedHashMap<>(c.untrustedByOp); }
    public Map<String, Long> residentByPart() { return new LinkedHashMap<>(c.resident); }
}
