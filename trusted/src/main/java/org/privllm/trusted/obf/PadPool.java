package org.privllm.trusted.obf;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Slalom-style precomputed pads: for every (layer, rows) in use, a queue of fresh pads with their
 * compensations is kept filled ahead of time by one background thread, so {@code C_T} leaves the
 * critical path. A pad is removed from its queue when handed out and can be claimed once
 * ({@link Pad#claim()}), so no pad is ever used twice. An empty queue never blocks and never recycles:
 * the pad is computed on the spot (counted in {@link #misses()}).
 *
 * <p>Pads are bound to a layer's masks, so a pool only serves per-session masks.
 */
public final class PadPool implements PadSource {
    private record Key(ObfuscatedLinear layer, int rows) {}

    private final int capacity;
    private final double std;
    private final Random random;
    private final Map<Key, ArrayDeque<Pad>> queues = new ConcurrentHashMap<>();
    private final Map<Key, Boolean> refilling = new ConcurrentHashMap<>();
    private final ExecutorService filler = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "privllm-pad-pool");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong produced = new AtomicLong();
    private final AtomicLong issued = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private volatile boolean closed;

    /**
     * @param capacity pads kept ready per (layer, rows); refilled when half are gone
     * @param std      standard deviation of the pad entries
     * @param random   the pool's own randomness (seeded for experiments; only its threads use it)
     */
    public PadPool(int capacity, double std, Random random) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("pad pool capacity must be positive, got " + capacity);
        }
        this.capacity = capacity;
        this.std = std;
        this.random = random;
    }

    /** Fills the queue for (layer, rows) to capacity now, on the calling thread (before a timed run). */
    public void prefill(ObfuscatedLinear layer, int rows) {
        checkLayer(layer);
        fill(new Key(layer, rows));
    }

    @Override
    public Pad next(ObfuscatedLinear layer, int rows) {
        checkLayer(layer);
        if (closed) {
            throw new IllegalStateException("pad pool is closed");
        }
        Key key = new Key(layer, rows);
        ArrayDeque<Pad> q = queue(key);
        Pad pad;
        int left;
        synchronized (q) {
            pad = q.pollFirst();
            left = q.size();
        }
        if (pad == null) {
            misses.incrementAndGet();
            pad = make(key);
        }
        issued.incrementAndGet();
        if (left <= capacity / 2 && refilling.putIfAbsent(key, Boolean.TRUE) == null) {
            filler.execute(() -> {
                try {
                    fill(key);
                } finally {
                    refilling.remove(key);
                }
            });
        }
        return pad;
    }

    private void fill(Key key) {
        ArrayDeque<Pad> q = queue(key);
        while (!closed) {
            synchronized (q) {
                if (q.size() >= capacity) {
                    return;
                }
            }
            Pad p = make(key);
            synchronized (q) {
                q.addLast(p);
            }
        }
    }

    private Pad make(Key key) {
        Pad p;
        synchronized (random) { // one consumer of the pool's randomness at a time
            p = PadSource.compute(key.layer(), key.rows(), std, random);
        }
        produced.incrementAndGet();
        return p;
    }

    private ArrayDeque<Pad> queue(Key key) {
        return queues.computeIfAbsent(key, k -> new ArrayDeque<>());
    }

    private static void checkLayer(ObfuscatedLinear layer) {
        if (layer.scope() != MaskScope.PER_SESSION) {
            throw new IllegalArgumentException("a pad pool needs per-session masks: compensations are bound to N_out");
        }
    }

    /** Pads ready now for (layer, rows). */
    public int ready(ObfuscatedLinear layer, int rows) {
        ArrayDeque<Pad> q = queues.get(new Key(layer, rows));
        if (q == null) {
            return 0;
        }
        synchronized (q) {
            return q.size();
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
        queues.clear();
    }

    @Override
    public String toString() {
        return "PadPool[capacity=" + capacity + ", issued=" + issued + ", misses=" + misses + "]";
    }
}
