package org.privllm.lab.workload;

import org.privllm.model.DecoderConfig;
import org.privllm.model.Gpt2Config;

/**
 * {@code trusted_nonlinear} (TSLP-style partition, {@link org.privllm.trusted.privacy.TrustedAttentionDecoder#plaintextLinears}):
 * every linear layer runs in plaintext on the executor; the attention core (q/k norms, RoPE, scores, softmax, P·V)
 * with its KV cache, the norms, the activation (or SiLU gating) and the residuals run trusted. Four executor calls
 * per layer and step (q/k/v, output, the first MLP product, down) plus the LM head; the executor sees every
 * activation it multiplies.
 */
public final class TrustedNonlinearPlacement extends Placement {
    public TrustedNonlinearPlacement(Gpt2Config config) {
        super(config);
    }

    public TrustedNonlinearPlacement(DecoderConfig config) {
        super(config);
    }

    @Override public String strategy() { return "trusted_nonlinear"; }
    @Override public boolean live() { return true; }

    @Override
    public void setup(Ledger l) {
        l.resident("embeddings_and_norms", embeddingAndNormBytes());
        uploadModel(l);
    }

    @Override
    public void startCache(Ledger l, int batch, int capacity) {
        l.resident("kv_cache", 2L * OpCosts.FLOAT_BYTES * layers * batch * capacity * kvWidth); // the cache is trusted here
    }

    @Override
    public void attention(Ledger l, int layer, int batch, int t, int past) {
        long n = (long) batch * t;
        DecoderConfig.Biases b = config.biases();
        blockInput(l, true, layer, n);
        l.linearCall(n, d, qkvWidth, 0, b.qkv(), false);
        queryKeyWork(l, true, n);
        l.trusted("attention_core", OpCosts.attentionCore(batch, t, past, heads, headDim));
        l.linearCall(n, qWidth, d, 0, b.out(), false);
        residual(l, true, n);
        l.working(OpCosts.FLOAT_BYTES * (n * (d + qkvWidth + qWidth) + past + t)); // h, qkv, attended rows, one score row
    }

    @Override
    public void mlpUp(Ledger l, int n) {
        l.trusted(norm, OpCosts.layerNorm(n, d));
        l.linearCall(n, d, upWidth, 0, config.biases().mlp(), false);
        l.trusted(activation, OpCosts.activation(n, inner));
        l.working(OpCosts.FLOAT_BYTES * (long) n * (2L * d + upWidth + (config.mlp().gated() ? inner : 0)));
    }

    @Override
    public void mlpDown(Ledger l, int n) {
        l.linearCall(n, inner, d, 0, config.biases().mlp(), false);
        residual(l, true, n);
    }

    @Override
    public void advance(Ledger l, int n) {
        l.trusted(norm, OpCosts.layerNorm(n, d));
    }

    @Override
    public void lmHead(Ledger l, int rows) {
        l.linearCall(rows, d, vocab, 0, false, false);
        l.working(OpCosts.FLOAT_BYTES * (long) rows * (d + vocab));
    }
}
