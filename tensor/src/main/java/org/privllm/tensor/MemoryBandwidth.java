package org.privllm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Sustained read bandwidth of this machine as the kernels see it: a vectorised sum over a buffer far
 * larger than the last-level cache, split over {@link Parallel} like a GEMV. Decode is bound by it
 * (every weight is read once per token), so {@code privllm bench} reports it next to decode speed.
 */
public final class MemoryBandwidth {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** 256 MiB: eight times a large last-level cache, so every pass comes from DRAM. */
    private static final int FLOATS = 64 << 20;
    /** Contiguous block per parallel chunk (1 MiB), like a GEMV's weight panels. */
    private static final int BLOCK = 1 << 18;

    private MemoryBandwidth() {}

    /** Best read rate in GB/s (10⁹ bytes/s) over passes lasting about {@code 0.3 s} in total. */
    public static double measureReadGbps() {
        return measureReadGbps(FLOATS, 300_000_000L);
    }

    /** Best read rate over passes of {@code floats} floats for about {@code nanos} (at least 3 passes). */
    static double measureReadGbps(int floats, long nanos) {
        float[] data = new float[floats];
        // touch every page so the first pass does not measure page faults
        Parallel.forRange(floats / BLOCK + 1, 1, (from, to) -> java.util.Arrays.fill(data,
                Math.min(floats, from * BLOCK), Math.min(floats, to * BLOCK), 1f));
        float[] sink = new float[1];
        double best = 0;
        long start = System.nanoTime();
        for (int pass = 0; pass < 3 || System.nanoTime() - start < nanos; pass++) {
            long t0 = System.nanoTime();
            sink[0] += sum(data);
            long dt = System.nanoTime() - t0;
            best = Math.max(best, 4.0 * floats / dt);
        }
        if (sink[0] != (float) sink[0]) {
            throw new AssertionError(); // keeps the sums alive
        }
        return best;
    }

    private static float sum(float[] data) {
        int blocks = (data.length + BLOCK - 1) / BLOCK;
        float[] partial = new float[blocks];
        Parallel.forRange(blocks, 1, (from, to) -> {
            for (int blk = from; blk < to; blk++) {
                int lo = blk * BLOCK, hi = Math.min(data.length, lo + BLOCK);
                FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
                int i = lo, step = 4 * S.length();
                for (; i + step <= hi; i += step) {
                    s0 = s0.add(FloatVector.fromArray(S, data, i));
                    s1 = s1.add(FloatVector.fromArray(S, data, i + S.length()));
                    s2 = s2.add(FloatVector.fromArray(S, data, i + 2 * S.length()));
                    s3 = s3.add(FloatVector.fromArray(S, data, i + 3 * S.length()));
                }
                float s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
                for (; i < hi; i++) {
                    s += data[i];
                }
                partial[blk] = s;
            }
        });
        float total = 0;
        for (float p : partial) {
            total += p;
        }
        return total;
    }
}
