package org.privllm.model;

import java.util.Arrays;
import java.util.List;

/**
 * The rows of one ragged step: sequence {@code i} runs {@code counts[i]} new tokens over its own cache
 * {@code sequences[i]}, at positions {@code length, length + 1, …} of that cache, and the rows of all sequences
 * are stacked one sequence after another. A newly joined sequence's prefill (its whole prompt) and the single
 * decode rows of running ones share one step: every linear product of the step is one call over all rows, the
 * attention core runs per sequence over its own cache.
 */
public record RaggedBatch(List<SequenceCache> sequences, int[] counts) {
    public RaggedBatch {
        sequences = List.copyOf(sequences);
        counts = counts.clone();
        if (sequences.size() != counts.length || counts.length == 0) {
            throw new IllegalArgumentException(sequences.size() + " sequences for " + counts.length + " row counts");
        }
        for (int i = 0; i < counts.length; i++) {
            SequenceCache s = sequences.get(i);
            if (counts[i] < 1) {
                throw new IllegalArgumentException("sequence " + i + " of the batch has " + counts[i] + " new rows");
            }
            if (s.length() + counts[i] > s.capacity()) {
                throw new IllegalArgumentException("sequence " + i + " of the batch is full: " + s.length() + " + "
                        + counts[i] + " > " + s.capacity() + " slots");
            }
        }
        if (sequences.stream().distinct().count() != sequences.size()) {
            throw new IllegalArgumentException("a sequence appears twice in one ragged step");
        }
    }

    @Override
    public int[] counts() {
        return counts.clone();
    }

    /** Number of sequences. */
    public int size() {
        return counts.length;
    }

    /** New rows of sequence {@code i}. */
    public int count(int i) {
        return counts[i];
    }

    /** Rows of the whole step. */
    public int rows() {
        return Arrays.stream(counts).sum();
    }

    /** First row of sequence {@code i} in the stacked rows. */
    public int offset(int i) {
        int o = 0;
        for (int j = 0; j < i; j++) {
            o += counts[j];
        }
        return o;
    }

    /** The position of every row: its cache slot (each sequence's own length plus its row index). */
    public int[] positions() {
        int[] pos = new int[rows()];
        for (int i = 0, r = 0; i < counts.length; i++) {
            int base = sequences.get(i).length();
            for (int j = 0; j < counts[i]; j++) {
                pos[r++] = base + j;
            }
        }
        return pos;
    }

    /** The last row of each sequence (the rows whose logits choose its next token). */
    public int[] lastRows() {
        int[] last = new int[counts.length];
        for (int i = 0, r = 0; i < counts.length; i++) {
            r += counts[i];
            last[i] = r - 1;
        }
        return last;
    }
}
