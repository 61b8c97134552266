package org.privllm.untrusted.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;

/** Writes every request to a {@link DiskTranscript} before passing it on; results are not recorded. */
public final class RecordingExecutor implements Executor {
    private final Executor inner;
    private final DiskTranscript sink;
    private final Map<String, String> labels = new java.util.concurrent.ConcurrentHashMap<>();

    public RecordingExecutor(Executor inner, DiskTranscript sink) {
        this.inner = inner;
        this.sink = sink;
    }

    private String label(SessionId s) {
        return labels.computeIfAbsent(s.value(), k -> sink.newSession());
    }

    private static DiskTranscript.Item item(String name, Matrix m) {
        return m == null ? new DiskTranscript.Item(name, 0, 0, null) : new DiskTranscript.Item(name, m.rows, m.cols, m.data);
    }

    private static Map<String, Object> args(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Override
    public SessionId openSession() {
        SessionId s = inner.openSession();
        sink.record(label(s), "open_session", -1, args(), List.of());
        return s;
    }

    @Override
    public void closeSession(SessionId session) {
        sink.record(label(session), "close_session", -1, args(), List.of());
        inner.closeSession(session);
        labels.remove(session.value());
    }

    @Override
    public WeightId uploadLinear(SessionId session, LinearWeights w) {
        WeightId id = inner.uploadLinear(session, w);
        List<DiskTranscript.Item> items = new ArrayList<>(List.of(item("weight", w.weight())));
        if (w.bias() != null) {
            items.add(new DiskTranscript.Item("bias", -1, w.bias().length, w.bias()));
        }
        items.add(item("loraA", w.loraA()));
        items.add(item("loraB", w.loraB()));
        sink.record(label(session), "upload_linear", -1, args("weight", id.value()), items);
        return id;
    }

    @Override
    public Matrix linear(SessionId session, WeightId weight, Matrix x, Matrix compensation) {
        sink.record(label(session), "linear", -1, args("weight", weight.value()),
                List.of(item("x", x), item("compensation", compensation)));
        return inner.linear(session, weight, x, compensation);
    }

    @Override
    public DoubleMatrix linear64(SessionId session, WeightId weight, DoubleMatrix x) {
        sink.record(label(session), "linear64", -1, args("weight", weight.value()),
                List.of(new DiskTranscript.Item("x", x.rows, x.cols, null, x.data)));
        return inner.linear64(session, weight, x);
    }

    @Override
    public void startCache(SessionId session, int layers, int capacity, int width, int[] leftPad) {
        sink.record(label(session), "start_cache", -1,
                args("layers", layers, "capacity", capacity, "width", width, "left_pad", leftPad), List.of());
        inner.startCache(session, layers, capacity, width, leftPad);
    }

    @Override
    public Matrix attention(SessionId session, AttentionCall c) {
        Map<String, Object> a = args("qkv", c.qkv() == null ? -1 : c.qkv().value(), "proj", c.proj().value(), "t", c.t(),
                "heads", c.heads(), "scale", c.scale(), "kv_heads", c.kvHeads(), "head_dim", c.headDim());
        List<DiskTranscript.Item> items = new ArrayList<>(List.of(item("x", c.x()), item("compensation", c.compensation())));
        if (c.rotation() != null) {
            a.put("positions", c.rotation().positions());
            double[] f = c.rotation().inverseFrequencies();
            items.add(new DiskTranscript.Item("rope_inverse_frequencies", -1, f.length, null, f));
        }
        sink.record(label(session), "attention", c.layer(), a, items);
        return inner.attention(session, c);
    }

    @Override
    public void advanceCache(SessionId session, int t) {
        sink.record(label(session), "advance_cache", -1, args("t", t), List.of());
        inner.advanceCache(session, t);
    }

    @Override
    public void close() {
        inner.close();
    }
}
