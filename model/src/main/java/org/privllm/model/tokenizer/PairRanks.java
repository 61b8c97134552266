package org.privllm.model.tokenizer;

/**
 * Open-addressing map from a token pair (left id, right id) to its merge rank — the hot lookup of
 * BPE, kept free of boxing.
 */
final class PairRanks {
    private final long[] keys;
    private final int[] ranks;
    private final int mask;

    PairRanks(int capacityHint) {
        int cap = Integer.highestOneBit(Math.max(4, capacityHint) * 2 - 1) << 1; // load factor <= 0.5
        keys = new long[cap];
        ranks = new int[cap];
        java.util.Arrays.fill(ranks, -1);
        mask = cap - 1;
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32) & mask;
    }

    /** Stores the pair's rank, replacing any earlier one; returns the earlier rank, or -1 for a new pair. */
    int put(int left, int right, int rank) {
        long k = key(left, right);
        for (int s = slot(k); ; s = (s + 1) & mask) {
            if (ranks[s] < 0) {
                keys[s] = k;
                ranks[s] = rank;
                return -1;
            }
            if (keys[s] == k) {
                int earlier = ranks[s];
                ranks[s] = rank;
                return earlier;
            }
        }
    }

    /** The merge rank of the pair, or -1 when the pair never merges. */
    int rank(int left, int right) {
        long k = key(left, right);
        for (int s = slot(k); ; s = (s + 1) & mask) {
            if (ranks[s] < 0) return -1;
            if (keys[s] == k) return ranks[s];
        }
    }
}
