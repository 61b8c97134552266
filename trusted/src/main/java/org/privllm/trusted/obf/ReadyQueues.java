package org.privllm.trusted.obf;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Values made ahead of time, one queue per key, each value handed out once (Slalom's precomputed blinding
 * factors: {@link PadPool}'s pads and the blinded levels' pad products). A value leaves its queue when
 * taken; an empty queue never blocks and never recycles: the value is made on the spot (a miss).
 *
 * <p>Each queue is kept at its <em>target</em>: as many values as its key has used so far, at most
 * {@code capacity} — a prompt-sized key used once per generation keeps one ready, a decode key grows to the
 * capacity. Refill runs on a background thread whenever a queue falls to half its target (the default), or
 * only when the owner calls {@link #replenish()} — between requests, when the trusted side is idle. On a
 * machine with few cores the background thread competes with the critical path, so {@code bench} measures
 * the deferred mode and reports the refill time separately.
 */
public final class ReadyQueues<K, V> implements AutoCloseable {
    /** One queue and how many values its key has used. Guarded by itself. */
    private static final class Slot<V> {
        final ArrayDeque<V> ready = new ArrayDeque<>();
        long used;
        boolean refilling;
    }

    private final int capacity;
    private final Function<K, V> maker;
    private final Map<K, Slot<V>> slots = new ConcurrentHashMap<>();
    private final ExecutorService filler;
    private final AtomicLong produced = new AtomicLong();
    private final AtomicLong issued = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private volatile boolean background = true;
    private volatile boolean closed;

    /**
     * @param capacity at most this many values kept ready per key
     * @param maker    makes one fresh value for a key (called on the refill thread or the caller's)
     * @param thread   name of the refill thread
     */
    public ReadyQueues(int capacity, Function<K, V> maker, String thread) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("pool capacity must be positive, got " + capacity);
        }
        this.capacity = capacity;
        this.maker = maker;
        this.filler = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, thread);
            t.setDaemon(true);
            return t;
        });
    }

    /** Fills the queue of {@code key} to capacity now, on the calling thread (before a timed run). */
    public void prefill(K key) {
        fill(key, slot(key), capacity);
    }

    /** Background refill on (default) or off: off, queues are refilled only by {@link #replenish()}. */
    public void backgroundRefill(boolean on) {
        background = on;
    }

    /** Tops every queue up to its target on the calling thread; returns the values made. */
    public long replenish() {
        long before = produced.get();
        for (Map.Entry<K, Slot<V>> e : List.copyOf(slots.entrySet())) {
            fill(e.getKey(), e.getValue(), target(e.getValue()));
        }
        return produced.get() - before;
    }

    /** A fresh value for {@code key}: from its queue, or made now (a miss). */
    public V next(K key) {
        if (closed) {
            throw new IllegalStateException("pool is closed");
        }
        Slot<V> slot = slot(key);
        V value;
        boolean refill;
        synchronized (slot) {
            value = slot.ready.pollFirst();
            slot.used++;
            refill = background && !slot.refilling && slot.ready.size() <= target(slot) / 2;
            slot.refilling |= refill;
        }
        if (value == null) {
            misses.incrementAndGet();
            value = make(key);
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
        return value;
    }

    private int target(Slot<V> slot) {
        synchronized (slot) {
            return (int) Math.min(capacity, Math.max(1, slot.used));
        }
    }

    private void fill(K key, Slot<V> slot, int target) {
        while (!closed) {
            synchronized (slot) {
                if (slot.ready.size() >= target) {
                    return;
                }
            }
            V v = make(key);
            synchronized (slot) {
                slot.ready.addLast(v);
            }
        }
    }

    private V make(K key) {
        V v = maker.apply(key);
        produced.incrementAndGet();
        return v;
    }

    private Slot<V> slot(K key) {
        return slots.computeIfAbsent(key, k -> new Slot<>());
    }

    /** Values ready now for {@code key}. */
    public int ready(K key) {
        Slot<V> slot = slots.get(key);
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

    /** Values that had to be made on the critical path because the queue was empty. */
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
        return "ReadyQueues[capacity=" + capacity + ", issued=" + issued + ", misses=" + misses + "]";
    }
}
