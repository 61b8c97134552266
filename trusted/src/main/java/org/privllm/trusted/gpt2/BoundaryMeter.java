package org.privllm.trusted.gpt2;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;

/**
 * Counts what crosses the trust boundary: calls per kind and tensor bytes each way (float32 on the
 * wire, float64 for {@code linear64}). A transparent decorator: it sees only what the executor sees.
 */
public final class BoundaryMeter implements Executor {
    /** The calls of the executor interface. */
    public enum Call { OPEN_SESSION, CLOSE_SESSION, UPLOAD_LINEAR, LINEAR, LINEAR64, START_CACHE, ATTENTION, ADVANCE_CACHE }

    private final Executor inner;
    private final Map<Call, AtomicLong> calls = new EnumMap<>(Call.class);
    private final AtomicLong bytesToExecutor = new AtomicLong();
    private final AtomicLong bytesFromExecutor = new AtomicLong();
    private final AtomicLong executorNanos = new AtomicLong();

    public BoundaryMeter(Executor inner) {
        this.inner = inner;
        for (Call c : Call.values()) {
            calls.put(c, new AtomicLong());
        }
    }

    private static long bytes(Matrix m) {
        return m == null ? 0 : 4L * m.data.length;
    }

    /** A rotary call's public extras: an int32 position per row and {@code headDim/2} float64 frequencies. */
    public static long rotationBytes(AttentionCall call) {
        return call.rotation() == null ? 0 : 4L * call.x().rows + 8L * (call.headDim() / 2);
    }

    private void count(Call c, long sent) {
        calls.get(c).incrementAndGet();
        bytesToExecutor.addAndGet(sent);
    }

    private Matrix received(Matrix m) {
        bytesFromExecutor.addAndGet(bytes(m));
        return m;
    }

    /** Runs an executor call, adding its wall time to the executor's share. */
    private <T> T timed(java.util.function.Supplier<T> call) {
        long t0 = System.nanoTime();
        try {
            return call.get();
        } finally {
            executorNanos.addAndGet(System.nanoTime() - t0);
        }
    }

    /** Wall time spent inside executor calls (compute, and transfer when remote). */
    public long executorNanos() {
        return executorNanos.get();
    }

    public long calls(Call c) {
        return calls.get(c).get();
    }

    /** Round trips: every call is one request and one reply. */
    public long roundTrips() {
        return calls.values().stream().mapToLong(AtomicLong::get).sum();
    }

    public long bytesToExecutor() {
        return bytesToExecutor.get();
    }

    public long bytesFromExecutor() {
        return bytesFromExecutor.get();
    }

    /** A snapshot for reports: counts per call kind and bytes each way. */
    public Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        Map<String, Long> c = new LinkedHashMap<>();
        calls.forEach((k, v) -> c.put(k.name().toLowerCase(), v.get()));
        m.put("calls", c);
        m.put("round_trips", roundTrips());
        m.put("bytes_to_executor", bytesToExecutor());
        m.put("bytes_from_executor", bytesFromExecutor());
        return m;
    }

    public void reset() {
        calls.values().forEach(a -> a.set(0));
        bytesToExecutor.set(0);
        bytesFromExecutor.set(0);
        executorNanos.set(0);
    }

    @Override
    public SessionId openSession() {
        count(Call.OPEN_SESSION, 0);
        return inner.openSession();
    }

    @Override
    public void closeSession(SessionId session) {
        count(Call.CLOSE_SESSION, 0);
        inner.closeSession(session);
    }

    @Override
    public WeightId uploadLinear(SessionId session, LinearWeights w) {
        count(Call.UPLOAD_LINEAR, bytes(w.weight()) + (w.bias() == null ? 0 : 4L * w.bias().length)
                + bytes(w.loraA()) + bytes(w.loraB()));
        return inner.uploadLinear(session, w);
    }

    @Override
    public Matrix linear(SessionId session, WeightId weight, Matrix x, Matrix compensation) {
        count(Call.LINEAR, bytes(x) + bytes(compensation));
        return received(timed(() -> inner.linear(session, weight, x, compensation)));
    }

    @Override
    public DoubleMatrix linear64(SessionId session, WeightId weight, DoubleMatrix x) {
        count(Call.LINEAR64, 8L * x.data.length);
        DoubleMatrix y = timed(() -> inner.linear64(session, weight, x));
        bytesFromExecutor.addAndGet(8L * y.data.length);
        return y;
    }

    @Override
    public void startCache(SessionId session, int layers, int capacity, int width, int[] leftPad) {
        count(Call.START_CACHE, 4L * leftPad.length);
        inner.startCache(session, layers, capacity, width, leftPad);
    }

    @Override
    public Matrix attention(SessionId session, AttentionCall call) {
        count(Call.ATTENTION, bytes(call.x()) + bytes(call.compensation()) + rotationBytes(call));
        return received(timed(() -> inner.attention(session, call)));
    }

    @Override
    public void advanceCache(SessionId session, int t) {
        count(Call.ADVANCE_CACHE, 0);
        timed(() -> {
            inner.advanceCache(session, t);
            return null;
        });
    }

    @Override
    public void close() {
        inner.close();
    }
}
