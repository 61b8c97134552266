package org.privllm.trusted.privacy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Floating-point operations the trusted domain performs, by kind, counted from the shapes of every call
 * (a multiply-add is two; a Gaussian draw counts {@link #PER_GAUSSIAN}, a LayerNorm or RMSNorm element
 * {@link #PER_NORM}, a tanh-GELU or SiLU-gating element {@link #PER_GELU}, a rotated query or key element
 * {@link #PER_ROPE}). The same constants count the plaintext
 * engine's work for {@code bench}'s ratio, so the ratio compares like with like.
 */
public final class TrustedWork {
    /** Box–Muller per value: a log, a square root and a sine or cosine (vectorised), and a few products. */
    public static final long PER_GAUSSIAN = 20;
    /** LayerNorm/RMSNorm per element: mean, variance, normalise, scale, shift. */
    public static final long PER_NORM = 8;
    /** tanh-GELU (or SiLU gating) per element: a cubic, a tanh, three products. */
    public static final long PER_GELU = 14;

    /** RoPE per rotated element: {@code x·cos + rotate_half(x)·sin} (the tables are precomputed). */
    public static final long PER_ROPE = 3;

    private final Map<String, LongAdder> flops = new ConcurrentHashMap<>();

    public void add(String kind, long n) {
        flops.computeIfAbsent(kind, k -> new LongAdder()).add(n);
    }

    public long total() {
        return flops.values().stream().mapToLong(LongAdder::sum).sum();
    }

    /** A snapshot by kind, in a stable order. */
    public Map<String, Long> byKind() {
        Map<String, Long> m = new LinkedHashMap<>();
        flops.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> m.put(e.getKey(), e.getValue().sum()));
        return m;
    }

    public void reset() {
        flops.clear();
    }
}
