package org.privllm.model;

import java.util.List;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;

/**
 * The plaintext engine for any {@link DecoderConfig}: the linear products local on packed weights
 * (fused q/k/v, output projection, fused {@code [gate | up]} or up, down, LM head), the rest of the
 * attention in an {@link AttentionCore} over a local KV cache.
 */
public final class PlainDecoderOps implements TransformerOps {
    private final List<DecoderWeights.Layer> layers;
    private final AttentionCore core;
    private final PackedWeight[] qkv, out, up, down;
    private final PackedWeight head;
    private KvCache cache;

    public PlainDecoderOps(DecoderConfig config, DecoderWeights weights) {
        this.layers = weights.layers();
        this.core = new AttentionCore(config, weights);
        int n = config.layers();
        qkv = new PackedWeight[n];
        out = new PackedWeight[n];
        up = new PackedWeight[n];
        down = new PackedWeight[n];
        for (int l = 0; l < n; l++) {
            DecoderWeights.Layer w = layers.get(l);
            qkv[l] = PackedWeight.pack(w.qkv());
            out[l] = PackedWeight.pack(w.out());
            up[l] = PackedWeight.pack(w.up());
            down[l] = PackedWeight.pack(w.down());
        }
        head = PackedWeight.packTransposed(weights.head());
    }

    @Override
    public void startCache(int[] leftPad, int capacity) {
        cache = core.newCache(leftPad, capacity);
    }

    public KvCache cache() {
        return cache;
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        DecoderWeights.Layer w = layers.get(layer);
        Matrix a = core.attend(cache, layer, Kernels.matmul(x, qkv[layer], w.qkvBias()), t);
        return Kernels.matmul(a, out[layer], w.outBias());
    }

    /** {@code x·W_up + b}: for a gated MLP the fused {@code [gate | up]} product. */
    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        return Kernels.matmul(x, up[layer], layers.get(layer).upBias());
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        return Kernels.matmul(x, down[layer], layers.get(layer).downBias());
    }

    @Override
    public void advance(int t) {
        cache.advance(t);
    }

    @Override
    public boolean ragged() {
        return true;
    }

    @Override
    public SequenceCache openSequence(int capacity) {
        return core.openSequence(capacity);
    }

    @Override
    public Matrix attention(int layer, Matrix x, RaggedBatch batch) {
        DecoderWeights.Layer w = layers.get(layer);
        Matrix a = core.attend(batch, layer, Kernels.matmul(x, qkv[layer], w.qkvBias()));
        return Kernels.matmul(a, out[layer], w.outBias());
    }

    @Override
    public void advance(RaggedBatch batch) {
        AttentionCore.advance(batch);
    }

    @Override
    public Matrix lmHead(Matrix h) {
        return Kernels.matmul(h, head, null);
    }
}
