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
 *
 * <p>Weights are packed {@link Storage#NATIVE native} by default: each at the narrowest precision that holds
 * every one of its values exactly ({@link PackedWeight#lossless}) — a BF16 or F16 checkpoint's weights at half
 * width, so decode reads half the bytes — with products bit for bit those of the float32 weights.
 */
public final class PlainDecoderOps implements TransformerOps {
    /** How the linear weights are kept. */
    public enum Storage {
        /** At the narrowest exact precision (a BF16/F16 checkpoint's own; float32 otherwise). */
        NATIVE,
        /** Always float32. */
        F32
    }

    private final List<DecoderWeights.Layer> layers;
    private final AttentionCore core;
    private final PackedWeight[] qkv, out, up, down;
    private final PackedWeight head;
    private KvCache cache;

    public PlainDecoderOps(DecoderConfig config, DecoderWeights weights) {
        this(config, weights, Storage.NATIVE);
    }

    public PlainDecoderOps(DecoderConfig config, DecoderWeights weights, Storage storage) {
        this.layers = weights.layers();
        this.core = new AttentionCore(config, weights);
        int n = config.layers();
        qkv = new PackedWeight[n];
        out = new PackedWeight[n];
        up = new PackedWeight[n];
        down = new PackedWeight[n];
        for (int l = 0; l < n; l++) {
            DecoderWeights.Layer w = layers.get(l);
            qkv[l] = pack(w.qkv(), storage);
            out[l] = pack(w.out(), storage);
            up[l] = pack(w.up(), storage);
            down[l] = pack(w.down(), storage);
        }
        head = storage == Storage.F32 ? PackedWeight.packTransposed(weights.head())
                : PackedWeight.packTransposedNative(weights.head());
    }

    private static PackedWeight pack(org.privllm.tensor.Matrix w, Storage storage) {
        return storage == Storage.F32 ? PackedWeight.pack(w) : PackedWeight.packNative(w);
    }

    /**
     * The precisions the linear weights are kept at, e.g. {@code "bf16"}, or {@code "bf16+f32"} when they differ
     * (a checkpoint with float32 layers among half-width ones).
     */
    public String weightPrecision() {
        java.util.Set<String> p = new java.util.TreeSet<>();
        for (PackedWeight[] ws : List.of(qkv, out, up, down, new PackedWeight[] {head})) {
            for (PackedWeight w : ws) {
                p.add(w.precision().label());
            }
        }
        return String.join("+", p);
    }

    /** Bytes of packed linear weights one decode step reads (every layer's and the LM head). */
    public long weightBytes() {
        long b = head.bytes();
        for (PackedWeight[] ws : List.of(qkv, out, up, down)) {
            for (PackedWeight w : ws) {
                b += w.bytes();
            }
        }
        return b;
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
