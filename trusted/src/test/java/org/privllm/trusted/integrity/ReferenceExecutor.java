package org.privllm.trusted.integrity;

import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.SplittableRandom;
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

/**
 * A small honest executor for the trusted module's tests (the trusted module cannot see the untrusted
 * one), optionally dishonest: with probability {@code tamper} a linear or attention result gets one
 * element shifted or one row replaced by noise; {@link #tampered()} counts it.
 */
final class ReferenceExecutor implements Executor {
    private record Layer(PackedWeight w, float[] b, PackedWeight a, PackedWeight bb) {}

    private final Map<String, Map<Long, Layer>> weights = new HashMap<>();
    private final Map<String, KvCache> caches = new HashMap<>();
    private final double tamper;
    private final SplittableRandom random;
    private long next = 1;
    private int tampered;

    ReferenceExecutor(double tamper, long seed) {
        this.tamper = tamper;
        this.random = new SplittableRandom(seed);
    }

    synchronized int tampered() {
        return tampered;
    }

    @Override
    public synchronized SessionId openSession() {
        byte[] raw = new byte[16];
        new SecureRandom().nextBytes(raw);
        SessionId id = new SessionId(HexFormat.of().formatHex(raw));
        weights.put(id.value(), new HashMap<>());
        return id;
    }

    @Override
    public synchronized void closeSession(SessionId s) {
        weights.remove(s.value());
        caches.remove(s.value());
    }

    @Override
    public synchronized WeightId uploadLinear(SessionId s, LinearWeights w) {
        long id = next++;
        weights.get(s.value()).put(id, new Layer(PackedWeight.pack(w.weight()), w.bias() == null ? null : w.bias().clone(),
                w.loraA() == null ? null : PackedWeight.pack(w.loraA()), w.loraB() == null ? null : PackedWeight.pack(w.loraB())));
        return new WeightId(id);
    }

    private Matrix apply(SessionId s, WeightId id, Matrix x, Matrix c) {
        Layer l = weights.get(s.value()).get(id.value());
        Matrix y = Kernels.matmul(x, l.w, l.b);
        if (l.a != null) {
            Kernels.addInPlace(y, Kernels.matmul(Kernels.matmul(x, l.a, null), l.bb, null));
        }
        if (c != null) {
            Kernels.addInPlace(y, c);
        }
        return y;
    }

    @Override
    public synchronized Matrix linear(SessionId s, WeightId id, Matrix x, Matrix c) {
        return maybeTamper(apply(s, id, x, c));
    }

    @Override
    public synchronized DoubleMatrix linear64(SessionId s, WeightId id, DoubleMatrix x) {
        DoubleMatrix y = WideKernels.matmul(x, weights.get(s.value()).get(id.value()).w);
        if (random.nextDouble() < tamper) {
            tampered++;
            int i = random.nextInt(y.data.length);
            // a shift of about the signal's size: a millionth of a padded value
            y.data[i] += (random.nextBoolean() ? 1e-6 : 1.0) * (1 + Math.abs(y.data[i]));
        }
        return y;
    }

    @Override
    public synchronized void startCache(SessionId s, int layers, int capacity, int width, int[] leftPad) {
        caches.put(s.value(), new KvCache(layers, leftPad.length, capacity, width, leftPad));
    }

    @Override
    public synchronized Matrix attention(SessionId s, AttentionCall c) {
        Matrix qkv = c.qkv() == null ? c.x().copy() : apply(s, c.qkv(), c.x(), c.compensation());
        AttentionCall.Rotation r = c.rotation();
        Matrix a = Attention.attend(caches.get(s.value()), c.layer(), qkv, c.t(), c.heads(), c.kvHeads(), c.headDim(),
                c.scale(), r == null ? null : new Rope(c.headDim(), r.inverseFrequencies()), r == null ? null : r.positions());
        return maybeTamper(apply(s, c.proj(), a, null));
    }

    @Override
    public synchronized void advanceCache(SessionId s, int t) {
        caches.get(s.value()).advance(t);
    }

    @Override
    public void close() {}

    private Matrix maybeTamper(Matrix y) {
        if (random.nextDouble() >= tamper) {
            return y;
        }
        tampered++;
        int row = random.nextInt(y.rows);
        if (random.nextBoolean()) {
            int i = row * y.cols + random.nextInt(y.cols);
            y.data[i] += Math.copySign(1f + Math.abs(y.data[i]), random.nextBoolean() ? 1 : -1);
        } else {
            for (int c = 0; c < y.cols; c++) {
                y.set(row, c, (float) (random.nextDouble() * 2 - 1) * 10);
            }
        }
        return y;
    }
}
