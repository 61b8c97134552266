package org.privllm.model;

import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;

/**
 * GPT-2's plaintext engine under its GPT-2 types: a thin facade over {@link PlainDecoderOps} on
 * {@link Gpt2Adapter}'s view of the weights, kept for code written against GPT-2's types. New code uses
 * {@link PlainDecoderOps} directly.
 */
public final class PlainOps implements TransformerOps {
    private final PlainDecoderOps ops;

    public PlainOps(Gpt2Config config, Gpt2Weights weights) {
        this.ops = new PlainDecoderOps(Gpt2Adapter.config(config, weights), Gpt2Adapter.weights(weights));
    }

    public KvCache cache() {
        return ops.cache();
    }

    @Override
    public void startCache(int[] leftPad, int capacity) {
        ops.startCache(leftPad, capacity);
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        return ops.attention(layer, x, t);
    }

    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        return ops.mlpUp(layer, x);
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        return ops.mlpDown(layer, x);
    }

    @Override
    public void advance(int t) {
        ops.advance(t);
    }

    @Override
    public Matrix lmHead(Matrix h) {
        return ops.lmHead(h);
    }
}
