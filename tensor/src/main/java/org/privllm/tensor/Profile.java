package org.privllm.tensor;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where a forward pass's wall time goes, by kind of work: each timed region adds the caller's wall time
 * (a parallel region counts once, as the time its caller waited). Off by default; while off a region costs
 * one field read. {@code bench --profile} switches it on around the measured runs.
 *
 * <p>Regions do not nest: a region started inside another on the same thread is not timed on its own (its time
 * is the outer region's), so on one thread the kinds add up to at most the wall time; the rest is reported as
 * {@code other} by the caller. Two threads in timed regions at once (two-party's concurrent executor calls)
 * both count.
 */
public final class Profile {
    /** The kinds of work timed. */
    public enum Kind {
        /** {@code X·W} with more than four rows (prefill). */
        GEMM("gemm"),
        /** {@code X·W} with one to four rows (decode). */
        GEMV("gemv"),
        /** Scores, softmax and {@code P·V} over the KV cache, cache append included. */
        ATTENTION("attention"),
        /** LayerNorm and RMSNorm over rows. */
        NORM("norm"),
        /** The MLP's nonlinearity (GELU, SiLU gating). */
        ACTIVATION("activation"),
        /** Residual adds. */
        RESIDUAL("residual"),
        /** Rotary position encoding (outside the attention kernel; inside it, the attention's time). */
        ROPE("rope"),
        /** Float64 products with float32 weights (the blinded levels' executor products and pad products). */
        WIDE_GEMM("wide_gemm");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    private static volatile boolean on;
    private static final LongAdder[] NANOS = new LongAdder[Kind.values().length];
    private static final LongAdder[] CALLS = new LongAdder[Kind.values().length];

    static {
        for (int i = 0; i < NANOS.length; i++) {
            NANOS[i] = new LongAdder();
            CALLS[i] = new LongAdder();
        }
    }

    private Profile() {}

    /** Switches timing on or off (the totals are kept). */
    public static void enable(boolean enabled) {
        on = enabled;
    }

    public static boolean enabled() {
        return on;
    }

    /** Clears the totals. */
    public static void reset() {
        for (int i = 0; i < NANOS.length; i++) {
            NANOS[i].reset();
            CALLS[i].reset();
        }
    }

    /** Whether this thread is inside a timed region (only consulted while on). */
    private static final ThreadLocal<boolean[]> INSIDE = ThreadLocal.withInitial(() -> new boolean[1]);

    /**
     * Start of a region: {@code System.nanoTime()} while on and outside any other region of this thread, else 0
     * (not timed).
     */
    public static long start() {
        if (!on) {
            return 0;
        }
        boolean[] inside = INSIDE.get();
        if (inside[0]) {
            return 0;
        }
        inside[0] = true;
        return System.nanoTime();
    }

    /** End of a region started by {@link #start()} (nothing if that region was not timed). */
    public static void stop(Kind kind, long start) {
        if (start != 0) {
            NANOS[kind.ordinal()].add(System.nanoTime() - start);
            CALLS[kind.ordinal()].increment();
            INSIDE.get()[0] = false;
        }
    }

    /** Nanoseconds timed for {@code kind} so far. */
    public static long nanos(Kind kind) {
        return NANOS[kind.ordinal()].sum();
    }

    /** Regions timed for {@code kind} so far. */
    public static long calls(Kind kind) {
        return CALLS[kind.ordinal()].sum();
    }

    /** Nanoseconds by kind label, kinds with no time left out. */
    public static Map<String, Long> snapshot() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (Kind k : Kind.values()) {
            long n = nanos(k);
            if (n > 0) {
                m.put(k.label(), n);
            }
        }
        return m;
    }
}
