package org.privllm.lab.workload;

import java.util.Map;
import java.util.function.Supplier;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;

/**
 * An {@link Executor} decorator that charges every call to a {@link Ledger} from the shapes it sees:
 * executor FLOPs (weights' shapes remembered at upload, the cache length tracked per session), round
 * trips and bytes each way, and the time spent inside the executor. It sees only what the executor sees.
 */
public final class CountingExecutor implements Executor {
    private final Executor inner;
    private final Ledger ledger;
    private final Map<String, Shape> weights = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, int[]> caches = new java.util.concurrent.ConcurrentHashMap<>(); // session → {batch, length}
    private final boolean timed;

    private record Shape(int in, int out, int rank, boolean bias) {}

    public CountingExecutor(Executor inner, Ledger ledger) {
        this(inner, ledger, true);
    }

    /**
     * @param timed whether time inside this executor's calls counts as executor time (false for two-party's second
     *              executor, which runs concurrently with the first: its time is not on the request's path)
     */
    public CountingExecutor(Executor inner, Ledger ledger, boolean timed) {
        this.inner = inner;
        this.ledger = ledger;
        this.timed = timed;
    }

    private <T> T timed(Supplier<T> call) {
        if (!timed) {
            return call.get();
        }
        long t0 = System.nanoTime();
        try {
            return call.get();
        } finally {
            ledger.executorNanos(System.nanoTime() - t0);
        }
    }

    private static String key(SessionId s, WeightId w) {
        return s.value() + "/" + w.value();
    }

    private Shape shape(SessionId s, WeightId w) {
        Shape sh = weights.get(key(s, w));
        if (sh == null) {
            throw new IllegalArgumentException("unknown weight id " + w.value() + " in this session");
        }
        return sh;
    }

    @Override
    public SessionId openSession() {
        ledger.controlCall(0);
        return timed(inner::openSession);
    }

    @Override
    public void closeSession(SessionId session) {
        ledger.controlCall(0);
        timed(() -> { inner.closeSession(session); return null; });
        weights.keySet().removeIf(k -> k.startsWith(session.value() + "/"));
        caches.remove(session.value());
    }

    @Override
    public WeightId uploadLinear(SessionId session, LinearWeights w) {
        int rank = w.loraA() == null ? 0 : w.loraA().cols;
        ledger.uploadCall(w.weight().rows, w.weight().cols, rank, w.bias() != null);
        WeightId id = timed(() -> inner.uploadLinear(session, w));
        weights.put(key(session, id), new Shape(w.weight().rows, w.weight().cols, rank, w.bias() != null));
        return id;
    }

    @Override
    public Matrix linear(SessionId session, WeightId weight, Matrix x, Matrix compensation) {
        Shape s = shape(session, weight);
        ledger.linearCall(x.rows, s.in(), s.out(), s.rank(), s.bias(), compensation != null);
        return timed(() -> inner.linear(session, weight, x, compensation));
    }

    @Override
    public DoubleMatrix linear64(SessionId session, WeightId weight, DoubleMatrix x) {
        Shape s = shape(session, weight);
        ledger.linear64Call(x.rows, s.in(), s.out());
        return timed(() -> inner.linear64(session, weight, x));
    }

    @Override
    public void startCache(SessionId session, int layers, int capacity, int width, int[] leftPad) {
        ledger.controlCall(4L * leftPad.length);
        timed(() -> { inner.startCache(session, layers, capacity, width, leftPad); return null; });
        caches.put(session.value(), new int[] {leftPad.length, 0});
    }

    @Override
    public Matrix attention(SessionId session, AttentionCall call) {
        int[] cache = caches.get(session.value());
        if (cache == null) {
            throw new IllegalStateException("attention before startCache in this session");
        }
        Shape qkv = call.qkv() == null ? null : shape(session, call.qkv()), proj = shape(session, call.proj());
        ledger.attentionCall(cache[0], call.t(), cache[1], new Ledger.AttentionShape(call.heads(), call.kvHeads(),
                call.headDim(), qkv == null ? 0 : qkv.in(), proj.out(), qkv != null && qkv.bias(), proj.bias(),
                call.rotation() != null), qkv == null ? 0 : qkv.rank(), proj.rank(), call.compensation() != null);
        return timed(() -> inner.attention(session, call));
    }

    @Override
    public void advanceCache(SessionId session, int t) {
        ledger.controlCall(0);
        timed(() -> { inner.advanceCache(session, t); return null; });
        int[] cache = caches.get(session.value());
        if (cache != null) {
            cache[1] += t;
        }
    }

    @Override
    public void close() {
        inner.close();
    }
}
