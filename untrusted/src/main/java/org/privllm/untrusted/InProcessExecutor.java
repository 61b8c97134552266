package org.privllm.untrusted;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.Attention;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.WideKernels;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.tensor.Rope;
import org.privllm.untrusted.Transcript.Kind;
import org.privllm.untrusted.Transcript.Tensor;

/**
 * The untrusted executor in the same process: it holds obfuscated weights and a masked KV cache per
 * session and computes exactly what the {@link Executor} contract says, on whatever tensors it is
 * given. It never learns what they mean; it is compiled without any trusted type (see the lab's
 * architecture test). Thread-safe: sessions are independent, calls within one session serialise.
 */
public final class InProcessExecutor implements Executor {
    private static final SecureRandom IDS = new SecureRandom();

    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    private final Transcript transcript;

    /** An executor that records nothing. */
    public InProcessExecutor() {
        this(null);
    }

    /** An executor that records every request into {@code transcript} (null: no recording). */
    public InProcessExecutor(Transcript transcript) {
        this.transcript = transcript;
    }

    /** The transcript this executor records into, or null. */
    public Transcript transcript() {
        return transcript;
    }

    /** A stored layer: packed for repeated products; the adapter kept unmerged. */
    private record Linear(PackedWeight weight, float[] bias, PackedWeight loraA, PackedWeight loraB) {
        int in() { return weight.inDim(); }
        int out() { return weight.outDim(); }
    }

    private static final class Session {
        final Map<Long, Linear> weights = new ConcurrentHashMap<>();
        long nextWeight = 1;
        KvCache cache;
        /** The rotary tables of the last frequencies asked for (a session's model has one table). */
        Rope rope;
        double[] ropeFrequencies;

        Rope rope(int headDim, double[] frequencies) {
            if (rope == null || rope.headDim() != headDim || !java.util.Arrays.equals(ropeFrequencies, frequencies)) {
                rope = new Rope(headDim, frequencies);
                ropeFrequencies = frequencies.clone();
            }
            return rope;
        }
    }

    @Override
    public SessionId openSession() {
        byte[] raw = new byte[16]; // 128 bits: unguessable by another client of the same executor
        IDS.nextBytes(raw);
        SessionId id = new SessionId(HexFormat.of().formatHex(raw));
        sessions.put(id.value(), new Session());
        record(Kind.OPEN_SESSION, id, -1, -1, List.of(), List.of());
        return id;
    }

    @Override
    public void closeSession(SessionId session) {
        record(Kind.CLOSE_SESSION, session, -1, -1, List.of(), List.of());
        sessions.remove(session.value());
    }

    @Override
    public WeightId uploadLinear(SessionId session, LinearWeights w) {
        Session s = session(session);
        // PackedWeight.pack copies (transposes), so later changes by the caller cannot reach us.
        Linear linear = new Linear(PackedWeight.pack(w.weight()), w.bias() == null ? null : w.bias().clone(),
                w.loraA() == null ? null : PackedWeight.pack(w.loraA()),
                w.loraB() == null ? null : PackedWeight.pack(w.loraB()));
        synchronized (s) {
            long id = s.nextWeight++;
            s.weights.put(id, linear);
            if (transcript != null) {
                List<Tensor> ts = new ArrayList<>();
                Transcript.add(ts, "weight", w.weight());
                Transcript.add(ts, "bias", w.bias());
                Transcript.add(ts, "loraA", w.loraA());
                Transcript.add(ts, "loraB", w.loraB());
                record(Kind.UPLOAD_LINEAR, session, -1, id, ts, List.of());
            }
            return new WeightId(id);
        }
    }

    @Override
    public Matrix linear(SessionId session, WeightId weight, Matrix x, Matrix compensation) {
        Session s = session(session);
        synchronized (s) {
            if (transcript != null) {
                List<Tensor> ts = new ArrayList<>();
                Transcript.add(ts, "x", x);
                Transcript.add(ts, "compensation", compensation);
                record(Kind.LINEAR, session, -1, weight.value(), ts, List.of());
            }
            return apply(weight(s, weight), x, compensation, "linear");
        }
    }

    @Override
    public DoubleMatrix linear64(SessionId session, WeightId weight, DoubleMatrix x) {
        Session s = session(session);
        synchronized (s) {
            if (transcript != null) {
                List<Tensor> ts = new ArrayList<>();
                Transcript.add(ts, "x", x);
                record(Kind.LINEAR64, session, -1, weight.value(), ts, List.of());
            }
            Linear w = weight(s, weight);
            if (w.bias != null || w.loraA != null) {
                throw new IllegalArgumentException("linear64 needs a weight uploaded without bias or adapter");
            }
            if (x.cols != w.in()) {
                throw new IllegalArgumentException("linear64 input " + x.shape() + " does not fit weight " + w.in() + "x" + w.out());
            }
            return WideKernels.matmul(x, w.weight);
        }
    }

    /** {@code X̃·W̃ + (X̃·Ã)·B̃ + b̃ + C}. */
    private static Matrix apply(Linear w, Matrix x, Matrix compensation, String what) {
        if (x.cols != w.in()) {
            throw new IllegalArgumentException(what + " input " + x.shape() + " does not fit weight "
                    + w.in() + "x" + w.out());
        }
        if (compensation != null && (compensation.rows != x.rows || compensation.cols != w.out())) {
            throw new IllegalArgumentException(what + " compensation " + compensation.shape() + " != "
                    + x.rows + "x" + w.out());
        }
        Matrix y = Kernels.matmul(x, w.weight, w.bias);
        if (w.loraA != null) {
            Kernels.addInPlace(y, Kernels.matmul(Kernels.matmul(x, w.loraA, null), w.loraB, null));
        }
        if (compensation != null) {
            Kernels.addInPlace(y, compensation);
        }
        return y;
    }

    @Override
    public void startCache(SessionId session, int layers, int capacity, int width, int[] leftPad) {
        Session s = session(session);
        if (layers <= 0 || capacity <= 0 || width <= 0 || leftPad == null || leftPad.length == 0) {
            throw new IllegalArgumentException("bad cache shape: layers " + layers + ", capacity " + capacity
                    + ", width " + width + ", batch " + (leftPad == null ? 0 : leftPad.length));
        }
        for (int p : leftPad) {
            if (p < 0 || p >= capacity) {
                throw new IllegalArgumentException("left padding " + p + " outside cache capacity " + capacity);
            }
        }
        synchronized (s) {
            List<Number> args = new ArrayList<>(List.of(layers, capacity, width));
            for (int p : leftPad) {
                args.add(p);
            }
            record(Kind.START_CACHE, session, -1, -1, List.of(), args);
            s.cache = new KvCache(layers, leftPad.length, capacity, width, leftPad);
        }
    }

    @Override
    public Matrix attention(SessionId session, AttentionCall call) {
        Session s = session(session);
        synchronized (s) {
            if (transcript != null) {
                List<Tensor> ts = new ArrayList<>();
                Transcript.add(ts, "x", call.x());
                Transcript.add(ts, "compensation", call.compensation());
                AttentionCall.Rotation rot = call.rotation();
                if (rot != null) {
                    ts.add(new Tensor("rope_inverse_frequencies", null,
                            new DoubleMatrix(1, call.headDim() / 2, rot.inverseFrequencies())));
                }
                List<Number> args = new ArrayList<>(List.of(call.proj().value(), call.t(), call.heads(), call.scale(),
                        call.kvHeads(), call.headDim()));
                if (rot != null) {
                    for (int p : rot.positions()) {
                        args.add(p);
                    }
                }
                record(Kind.ATTENTION, session, call.layer(), call.qkv() == null ? -1 : call.qkv().value(), ts, args);
            }
            KvCache cache = s.cache;
            if (cache == null) {
                throw new IllegalStateException("attention before startCache in this session");
            }
            if (call.layer() < 0 || call.layer() >= cache.layers()) {
                throw new IllegalArgumentException("attention layer " + call.layer() + " outside 0.." + (cache.layers() - 1));
            }
            Linear qkvW = call.qkv() == null ? null : weight(s, call.qkv()), projW = weight(s, call.proj());
            if ((qkvW != null && qkvW.out() != call.qkvWidth()) || projW.in() != call.qWidth()
                    || cache.width() != call.kvWidth()) {
                throw new IllegalArgumentException("attention weights " + (qkvW == null ? "" : qkvW.in() + "x" + qkvW.out()
                        + " and ") + projW.in() + "x" + projW.out() + " do not fit " + call.heads() + " query and "
                        + call.kvHeads() + " key/value heads of " + call.headDim() + " over a cache " + cache.width()
                        + " wide");
            }
            Matrix qkv = qkvW == null ? call.x().copy() : apply(qkvW, call.x(), call.compensation(), "attention");
            AttentionCall.Rotation rot = call.rotation();
            Matrix attended = Attention.attend(cache, call.layer(), qkv, call.t(), call.heads(), call.kvHeads(),
                    call.headDim(), call.scale(), rot == null ? null : s.rope(call.headDim(), rot.inverseFrequencies()),
                    rot == null ? null : rot.positions());
            return apply(projW, attended, null, "attention projection");
        }
    }

    @Override
    public void advanceCache(SessionId session, int t) {
        Session s = session(session);
        synchronized (s) {
            record(Kind.ADVANCE_CACHE, session, -1, -1, List.of(), List.of(t));
            if (s.cache == null) {
                throw new IllegalStateException("advanceCache before startCache in this session");
            }
            s.cache.advance(t);
        }
    }

    /** Bytes held by a session's cache (0 without one); for measurements. */
    public long cacheBytes(SessionId session) {
        KvCache c = session(session).cache;
        return c == null ? 0 : c.bytes();
    }

    /** Sessions currently open. */
    public int openSessions() {
        return sessions.size();
    }

    @Override
    public void close() {
        sessions.clear();
    }

    private Session session(SessionId id) {
        if (id == null) {
            throw new IllegalArgumentException("missing session id");
        }
        Session s = sessions.get(id.value());
        if (s == null) {
            throw new IllegalArgumentException("unknown session"); // the id itself is a capability: not echoed
        }
        return s;
    }

    private static Linear weight(Session s, WeightId id) {
        Linear w = id == null ? null : s.weights.get(id.value());
        if (w == null) {
            throw new IllegalArgumentException("unknown weight id " + (id == null ? "null" : id.value()) + " in this session");
        }
        return w;
    }

    private void record(Kind kind, SessionId session, int layer, long weight, List<Tensor> tensors, List<Number> args) {
        if (transcript != null) {
            transcript.record(kind, session, layer, weight, tensors, args);
        }
    }
}
