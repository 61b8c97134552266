package org.privllm.model.tokenizer;

import java.util.Arrays;

/**
 * A BPE merge table — (left id, right id) → (rank, merged id) — and the merge loop that GPT-2's and
 * the HuggingFace tokenizer share. Merges apply lowest rank first and, among equal ranks, leftmost
 * first, which is HuggingFace's {@code Word::merge_all} (a queue of (rank, position)).
 */
final class BpeMerges {
    private final PairRanks ranks;
    private int[] merged;
    private int count;

    BpeMerges(int capacityHint) {
        ranks = new PairRanks(capacityHint);
        merged = new int[Math.max(4, capacityHint)];
    }

    /**
     * Adds the merge of rank {@link #size()}. A pair that already had a merge takes the new rank and
     * result (as HuggingFace's merge map does); the return value is the pair's earlier rank, or -1.
     */
    int add(int left, int right, int mergedId) {
        if (count == merged.length) merged = Arrays.copyOf(merged, count * 2);
        merged[count] = mergedId;
        return ranks.put(left, right, count++);
    }

    int size() {
        return count;
    }

    /**
     * BPE of one word given as initial token ids. Tokens form a linked list over the positions (a
     * merge keeps the left node); candidate pairs sit in a heap keyed (rank, position). Each round takes
     * every candidate of the lowest rank in position order, merging those still valid; the pairs a
     * round creates enter the heap after it (a merge never recreates its own pair, so this is the same
     * order as one queue). O(n log n) per word.
     */
    int[] merge(int[] initial) {
        int n = initial.length;
        int[] tok = initial.clone();
        if (n < 2) return tok;
        int[] next = new int[n];
        int[] prev = new int[n];
        boolean[] gone = new boolean[n];
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
            if (i + 1 < n) offer(heap, tok[i], tok[i + 1], i);
        }
        LongHeap created = new LongHeap(4);
        int left = n;
        while (!heap.isEmpty()) {
            long rank = heap.peek() >>> 32;
            while (!heap.isEmpty() && heap.peek() >>> 32 == rank) {
                int p = (int) heap.poll();
                int q = next[p];
                if (gone[p] || q < 0 || ranks.rank(tok[p], tok[q]) != rank) continue; // stale
                tok[p] = merged[(int) rank];
                gone[q] = true;
                left--;
                next[p] = next[q];
                if (next[q] >= 0) prev[next[q]] = p;
                if (prev[p] >= 0) offer(created, tok[prev[p]], tok[p], prev[p]);
                if (next[p] >= 0) offer(created, tok[p], tok[next[p]], p);
            }
            while (!created.isEmpty()) heap.add(created.poll());
        }
        int[] out = new int[left];
        for (int i = 0, p = 0; p >= 0; p = next[p]) out[i++] = tok[p];
        return out;
    }

    private void offer(LongHeap heap, int left, int right, int position) {
        int rank = ranks.rank(left, right);
        if (rank >= 0) heap.add(((long) rank << 32) | position);
    }

    /** Binary min-heap of primitive longs. */
    private static final class LongHeap {
        private long[] a;
        private int size;

        LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        long peek() {
            return a[0];
        }

        void add(long v) {
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (a[parent] <= v) break;
                a[i] = a[parent];
                i = parent;
            }
            a[i] = v;
        }

        long poll() {
            long top = a[0];
            long last = a[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) break;
                if (child + 1 < size && a[child + 1] < a[child]) child++;
                if (a[child] >= last) break;
                a[i] = a[child];
                i = child;
            }
            a[i] = last;
            return top;
        }
    }
}
