package org.privllm.trusted.obf;

import java.util.Random;
import org.privllm.trusted.linalg.GaussianStream;

/**
 * Slalom-style precomputed pads: for every (layer, rows) in use, a queue of fresh pads with their
 * compensations ({@link ReadyQueues}), computed ahead of time so {@code C_T} leaves the critical path. A
 * pad is removed from its queue when handed out and can be claimed once ({@link Pad#claim()}), so no pad
 * is ever used twice; an empty queue computes the pad on the spot (counted in {@link #misses()}).
 *
 * <p>Pads are bound to a layer's masks, so a pool only serves per-session masks.
 */
public final class PadPool implements PadSource {
    private record Key(ObfuscatedLinear layer, int rows) {}

    private final ReadyQueues<Key, Pad> queues;

    /**
     * @param capacity   at most this many pads kept ready per (layer, rows)
     * @param std        standard deviation of the pad entries
     * @param seedSource keys the pool's own pad stream (seeded for experiments; SecureRandom otherwise)
     */
    public PadPool(int capacity, double std, Random seedSource) {
        GaussianStream noise = new GaussianStream(seedSource);
        this.queues = new ReadyQueues<>(capacity, k -> PadSource.compute(k.layer(), k.rows(), std, noise), "privllm-pad-pool");
    }

    /** Fills the queue for (layer, rows) to capacity now, on the calling thread (before a timed run). */
    public void prefill(ObfuscatedLinear layer, int rows) {
        queues.prefill(key(layer, rows));
    }

    /** Background refill on (default) or off: off, queues are refilled only by {@link #replenish()}. */
    public void backgroundRefill(boolean on) {
        queues.backgroundRefill(on);
    }

    /** Tops every queue up to its target on the calling thread; returns the pads made. */
    public long replenish() {
        return queues.replenish();
    }

    @Override
    public Pad next(ObfuscatedLinear layer, int rows) {
        return queues.next(key(layer, rows));
    }

    private static Key key(ObfuscatedLinear layer, int rows) {
        if (layer.scope() != MaskScope.PER_SESSION) {
            throw new IllegalArgumentException("a pad pool needs per-session masks: compensations are bound to N_out");
        }
        return new Key(layer, rows);
    }

    /** Pads ready now for (layer, rows). */
    public int ready(ObfuscatedLinear layer, int rows) {
        return queues.ready(new Key(layer, rows));
    }

    public long produced() {
        return queues.produced();
    }

    public long issued() {
        return queues.issued();
    }

    /** Pads that had to be computed on the critical path because the queue was empty. */
    public long misses() {
        return queues.misses();
    }

    @Override
    public void close() {
        queues.close();
    }

    @Override
    public String toString() {
        return "PadPool[" + queues + "]";
    }
}
