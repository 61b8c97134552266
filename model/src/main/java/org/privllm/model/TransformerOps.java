package org.privllm.model;

import org.privllm.tensor.Matrix;

/**
 * The heavy linear algebra of one GPT-2 forward pass, wherever it runs: locally in plaintext
 * ({@link PlainOps}) or on an untrusted executor behind masks (the trusted module's implementation).
 * {@link Gpt2Forward} keeps embeddings, LayerNorm, the activation and the residual adds.
 */
public interface TransformerOps {

    /** Starts an empty KV cache for a batch whose sequence b begins with {@code leftPad[b]} padding slots. */
    void startCache(int[] leftPad, int capacity);

    /** Attention sublayer of {@code layer} on LayerNorm output {@code x} ({@code batch·t} rows): c_attn, attention over the cache, c_proj. */
    Matrix attention(int layer, Matrix x, int t);

    /** {@code x·W_fc + b_fc} of {@code layer}. */
    Matrix mlpUp(int layer, Matrix x);

    /** {@code x·W_proj + b_proj} of {@code layer}'s MLP. */
    Matrix mlpDown(int layer, Matrix x);

    /** Marks the {@code t} slots just written by every layer as part of the cache. */
    void advance(int t);

    /** Logits {@code h·W_headᵀ} for the given final hidden rows. */
    Matrix lmHead(Matrix h);
}
