package org.privllm.model;

import org.privllm.tensor.Matrix;

/**
 * One forward step of a decoder-only language model over a batch, and the {@link TransformerOps} that
 * place its linear algebra: what the {@link org.privllm.model.generate.Generator} drives.
 */
public interface ForwardPass {
    int vocab();

    /** Longest sequence the model runs (generation stops there). */
    int positions();

    /**
     * Refuses (one-line {@link IllegalArgumentException}) a sequence of {@code tokens} tokens that this
     * engine would not compute exactly, e.g. one longer than an active sliding window.
     */
    default void checkContext(int tokens) {}

    /**
     * Runs {@code t} new slots for each sequence; {@code ids} and {@code positions} hold {@code batch·t}
     * entries, sequence-major. Returns the final hidden states (after the last norm).
     */
    Matrix step(int[] ids, int[] positions, int t);

    /**
     * One ragged step: sequence {@code i} of {@code batch} runs the next {@code batch.count(i)} of {@code ids}
     * (sequences one after another) at the positions its own cache is at; every sequence's cache advances by its
     * rows. Returns the final hidden states of every row (after the last norm). Only where
     * {@link TransformerOps#ragged()}; a row's result equals what the same sequence gets run alone.
     */
    default Matrix step(RaggedBatch batch, int[] ids) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not run ragged batches");
    }

    TransformerOps ops();
}
