package org.privllm.model;

import java.util.ArrayList;
import java.util.List;
import org.privllm.tensor.Attention;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;

/** The plaintext engine: every operation local, weights packed once. */
public final class PlainOps implements TransformerOps {
    private final Gpt2Config config;
    private final Gpt2Weights weights;
    private final List<PackedWeight[]> packed = new ArrayList<>();
    private final PackedWeight head;
    private KvCache cache;

    public PlainOps(Gpt2Config config, Gpt2Weights weights) {
        this.config = config;
        this.weights = weights;
        for (Gpt2Weights.Layer l : weights.layers()) {
            packed.add(new PackedWeight[] {PackedWeight.pack(l.cAttn()), PackedWeight.pack(l.cProj()),
                    PackedWeight.pack(l.cFc()), PackedWeight.pack(l.mlpProj())});
        }
        head = PackedWeight.packTransposed(weights.head());
    }

    @Override
    public void startCache(int[] leftPad, int capacity) {
        cache = new KvCache(config.layers(), leftPad.length, capacity, config.embd(), leftPad);
    }

    public KvCache cache() {
        return cache;
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        Gpt2Weights.Layer l = weights.layers().get(layer);
        Matrix qkv = Kernels.matmul(x, packed.get(layer)[0], l.cAttnBias());
        Matrix a = Attention.attend(cache, layer, qkv, t, config.heads(), config.attentionScale(layer));
        return Kernels.matmul(a, packed.get(layer)[1], l.cProjBias());
    }

    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        return Kernels.matmul(x, packed.get(layer)[2], weights.layers().get(layer).cFcBias());
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        return Kernels.matmul(x, packed.get(layer)[3], weights.layers().get(layer).mlpProjBias());
    }

    @Override
    public void advance(int t) {
        cache.advance(t);
    }

    @Override
    public Matrix lmHead(Matrix h) {
        return Kernels.matmul(h, head, null);
    }
}
