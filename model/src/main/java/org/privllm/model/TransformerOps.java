package org.privllm.model;

import org.privllm.tensor.Matrix;

/**
 * The heavy linear algebra of one decoder forward pass, wherever it runs: locally in plaintext
 * ({@link PlainDecoderOps}), blinded on untrusted executors with the attention core trusted, or masked
 * on one (the trusted module's implementations). {@link DecoderForward}, the one block loop, keeps
 * embeddings, norms, the activation and the residual adds.
 */
public interface TransformerOps {

    /** Starts an empty KV cache for a batch whose sequence b begins with {@code leftPad[b]} padding slots. */
    void startCache(int[] leftPad, int capacity);

    /**
     * Attention sublayer of {@code layer} on norm output {@code x} ({@code batch·t} rows): the fused q/k/v
     * product (GPT-2's c_attn), attention over the cache (with RoPE and q/k norms where the model has
     * them: {@link AttentionCore}), the output projection (c_proj, o_proj).
     */
    Matrix attention(int layer, Matrix x, int t);

    /** {@code x·W_fc + b_fc} of {@code layer}; for a gated MLP the fused {@code [gate | up]} product. */
    Matrix mlpUp(int layer, Matrix x);

    /** {@code x·W_proj + b_proj} of {@code layer}'s MLP. */
    Matrix mlpDown(int layer, Matrix x);

    /** Marks the {@code t} slots just written by every layer as part of the cache. */
    void advance(int t);

    /** Logits {@code h·W_headᵀ} for the given final hidden rows. */
    Matrix lmHead(Matrix h);

    // ---- ragged batches: sequences that join and leave a running batch, each with its own cache ----

    /**
     * Whether this placement runs ragged steps ({@link #openSequence}, {@link #attention(int, Matrix, RaggedBatch)},
     * {@link #advance(RaggedBatch)}): true where the attention core and the KV cache are in this process
     * (plaintext, the strong and two-party levels). False where the cache lives with a session that must serve
     * one user only (the seed level's masked cache on the executor).
     */
    default boolean ragged() {
        return false;
    }

    /**
     * A KV cache for one sequence of up to {@code capacity} slots, empty, to run in ragged steps. It leaves the
     * batch when its owner drops it. The batch's cache of {@link #startCache} is not touched.
     */
    default SequenceCache openSequence(int capacity) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not run ragged batches");
    }

    /**
     * The attention sublayer of {@code layer} for a ragged step: {@code x} holds {@code batch.rows()} norm
     * outputs, sequence after sequence; the linear products run over all rows at once, the attention core per
     * sequence over its own cache. Writes each sequence's new keys and values at its own length.
     */
    default Matrix attention(int layer, Matrix x, RaggedBatch batch) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not run ragged batches");
    }

    /** Marks each sequence's new slots of the step (every layer written) as part of its cache. */
    default void advance(RaggedBatch batch) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not run ragged batches");
    }
}
