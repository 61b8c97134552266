package org.privllm.trusted.obf;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.privllm.trusted.linalg.GaussianStream;

/**
 * Slalom-style precomputed pads: for every (layer, rows) in use, a queue of fresh pads with their
 * compensations, computed ahead of time so {@code C_T} leaves the critical path. A pad is removed
 * from its queue when handed out and can be claimed once ({@link Pad#claim()}), so no pad is ever
 * used twice. An empty queue never blocks and never recycles: the pad is computed on the spot
 * (counted in {@link #misses()}).
 *
 * <p>Each queue is kept at its <em>target</em>: as many pads as that (layer, rows) has used so far, at
 * most {@code capacity} — a prompt-sized key used once per generation keeps one pad ready, a decode
 * key grows to the capacity. Refill runs either on a background thread whenever a queue falls to
 * half its target (the default), or only when the owner calls {@link #replenish()} — between requests,
 * when the trusted side is idle. On a machine with few cores the background thread competes with the
 * critical path, so {@code bench} measures the deferred mode and reports the refill time separately.
 *
 * <p>Pads are bound to a layer's masks, so a pool only serves per-session masks.
 */
public final class PadPool implements PadSource {
    private record Key(ObfuscatedLinear layer, int rows) {}

    /** One queue and how many pads its key has used. Guarded by itself. */
    private static final class Slot {
        final ArrayDeque<Pad> ready = new ArrayDeque<>();
        long used;
        boolean refilling;
    }

    private final int capacity;
    private final double std;
    private final GaussianStream noise;
    private final Map<Key, Slot> slots = new ConcurrentHashMap<>();
    private final ExecutorService filler = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "privllm-pad-pool");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong produced = new AtomicLong();
    private final AtomicLong issued = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private volatile boolean background = true;
    private volatile boolean closed;

    /**
     * @param capacity   at most this many pads kept ready per (layer, rows)
     * @param std        standard deviation of the pad entries
     * @param seedSource keys the pool's own pad stream (seeded for experiments; SecureRandom otherwise)
     */
    public PadPool(int capacity, double std, Random seedSource) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("pad pool capacity must be positive, got " + capacity);
        }
        this.capacity = capacity;
        this.std = std;
        this.noise = new GaussianStream(seedSource);
    }

    /** Fills the queue for (layer, rows) to capacity now, on the calling thread (before a timed run). */
    public void prefill(ObfuscatedLinear layer, int rows) {
        checkLayer(layer);
        Key key = new Key(layer, rows);
        fill(key, slot(key), capacity);
    }

    /**
     * Background refill on (default) or off. Off, queues are refilled only by {@link #replenish()}, so
     * no pad work ever runs during a request.
     */
    public void backgroundRefill(boolean on) {
        background = on;
    }

    /** Tops every queue up to its target on the calling thread; returns the pads made. */
    public long replenish() {
        long before = produced.get();
        for (Map.Entry<Key, Slot> e : List.copyOf(slots.entrySet())) {
            fill(e.getKey(), e.getValue(), target(e.getValue()));
        }
        return produced.get() - before;
    }

    @Override
    public Pad next(ObfuscatedLinear layer, int rows) {
        checkLayer(layer);
        if (closed) {
            throw new IllegalStateException("pad pool is closed");
        }
        Key key = new Key(layer, rows);
        Slot slot = slot(key);
        Pad pad;
        boolean refill;
        synchronized (slot) {
            pad = slot.ready.pollFirst();
            slot.used++;
            refill = background && !slot.refilling && slot.ready.size() <= target(slot) / 2;
            slot.refilling |= refill;
        }
        if (pad == null) {
            misses.incrementAndGet();
            pad = make(key);
        }
        issued.incrementAndGet();
        if (refill) {
            filler.execute(() -> {
                try {
                    fill(key, slot, target(slot));
                } finally {
                    synchronized (slot) {
                        slot.refilling = false;
                    }
                }
            });
        }
        return pad;
    }

    private int target(Slot slot) {
        synchronized (slot) {
            return (int) Math.min(capacity, Math.max(1, slot.used));
        }
    }

    private void fill(Key key, Slot slot, int target) {
        while (!closed) {
            synchronized (slot) {
                if (slot.ready.size() >= target) {
                    return;
                }
            }
            Pad p = make(key);
            synchronized (slot) {
                slot.ready.addLast(p);
            }
        }
    }

    private Pad make(Key key) {
        Pad p = PadSource.compute(key.layer(), key.rows(), std, noise);
        produced.incrementAndGet();
        return p;
    }

    private Slot slot(Key key) {
        return slots.computeIfAbsent(key, k -> new Slot());
    }

    private static void checkLayer(ObfuscatedLinear layer) {
        if (layer.scope() != MaskScope.PER_SESSION) {
            throw new IllegalArgumentException("a pad pool needs per-session masks: compensations are bound to N_out");
        }
    }

    /** Pads ready now for (layer, rows). */
    public int ready(ObfuscatedLinear layer, int rows) {
        Slot slot = slots.get(new Key(layer, rows));
        if (slot == null) {
            return 0;
        }
        synchronized (slot) {
            return slot.ready.size();
        }
    }

    public long produced() {
        return produced.get();
    }

    public long issued() {
        return issued.get();
    }

    /** Pads that had to be computed on the critical path because the queue was empty. */
    public long misses() {
        return misses.get();
    }

    @Override
    public void close() {
        closed = true;
        filler.shutdownNow();
        slots.clear();
    }

    @Override
    public String toString() {
        return "PadPool[capacity=" + capacity + ", issued=" + issued + ", misses=" + misses + "]";
    }
}
