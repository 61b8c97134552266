package org.privllm.model;

import java.util.List;
import org.privllm.model.DecoderWeights.Linear;
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
 * width, so decode reads half the bytes — with products bit for bit those of the float32 weights. The packed
 * weights are the only copy the engine keeps: built from a {@link WeightReader} over a checkpoint, it never
 * holds more than one linear weight at float32, and that only while packing it.
 */
public final class PlainDecoderOps implements TransformerOps {
    /** How the linear weights are kept. */
    public enum Storage {
        /** At the narrowest exact precision (a BF16/F16 checkpoint's own; float32 otherwise). */
        NATIVE,
        /** Always float32. */
        F32
    }

    /** Norms and biases only: the linear weights are {@link #linears}, the one copy this engine keeps. */
    private final List<DecoderWeights.Layer> layers;
    private final AttentionCore core;
    /** {@code [layer][Linear.ordinal()]}. */
    private final PackedWeight[][] linears;
    private final PackedWeight head;
    /** Whether {@link #head} is the token embeddings (transposed): then they are looked up there. */
    private final boolean tiedHead;
    private KvCache cache;

    public PlainDecoderOps(DecoderConfig config, DecoderWeights weights) {
        this(config, weights, Storage.NATIVE);
    }

    public PlainDecoderOps(DecoderConfig config, DecoderWeights weights, Storage storage) {
        this(config, WeightReader.of(weights), storage);
    }

    /**
     * Packs the reader's linear weights one at a time, keeping no reference to any float32 copy: read from a
     * checkpoint, each is garbage before the next is read.
     */
    public PlainDecoderOps(DecoderConfig config, WeightReader weights, Storage storage) {
        DecoderWeights small = weights.withoutLinears();
        this.layers = small.layers();
        this.core = new AttentionCore(config, small);
        linears = new PackedWeight[config.layers()][];
        for (int l = 0; l < linears.length; l++) {
            linears[l] = new PackedWeight[Linear.values().length];
            for (Linear k : Linear.values()) {
                Matrix w = weights.linear(l, k);
                linears[l][k.ordinal()] = storage == Storage.F32 ? PackedWeight.pack(w) : PackedWeight.packNative(w);
            }
        }
        Matrix h = weights.lmHead();
        tiedHead = h == null;
        Matrix headT = tiedHead ? small.embeddings() : h;
        head = storage == Storage.F32 ? PackedWeight.packTransposed(headT) : PackedWeight.packTransposedNative(headT);
    }

    /**
     * The plaintext engine over the reader's weights: {@link DecoderForward} on these ops, both keeping only the
     * packed linear weights and {@link WeightReader#withoutLinears}. A tied LM head is the token embedding table
     * packed, with every value exact: tokens are then looked up there, and the float32 table is not kept either.
     */
    public static DecoderForward forward(DecoderConfig config, WeightReader weights, Storage storage) {
        PlainDecoderOps ops = new PlainDecoderOps(config, weights, storage);
        DecoderWeights small = weights.withoutLinears();
        if (!ops.tiedHead) {
            return new DecoderForward(config, small, ops);
        }
        DecoderWeights noTable = new DecoderWeights(null, small.positionEmbeddings(), small.layers(), small.finalNorm(), null);
        return new DecoderForward(config, noTable, ops, ops.head::copyColumn);
    }

    private PackedWeight linear(int layer, Linear k) {
        return linears[layer][k.ordinal()];
    }

    /**
     * The precisions the linear weights are kept at, e.g. {@code "bf16"}, or {@code "bf16+f32"} when they differ
     * (a checkpoint with float32 layers among half-width ones).
     */
    public String weightPrecision() {
        java.util.Set<String> p = new java.util.TreeSet<>();
        p.add(head.precision().label());
        for (PackedWeight[] ws : linears) {
            for (PackedWeight w : ws) {
                p.add(w.precision().label());
            }
        }
        return String.join("+", p);
    }

    /** Bytes of packed linear weights one decode step reads (every layer's and the LM head). */
    public long weightBytes() {
        long b = head.bytes();
        for (PackedWeight[] ws : linears) {
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
        Matrix a = core.attend(cache, layer, Kernels.matmul(x, linear(layer, Linear.QKV), w.qkvBias()), t);
        return Kernels.matmul(a, linear(layer, Linear.OUT), w.outBias());
    }

    /** {@code x·W_up + b}: for a gated MLP the fused {@code [gate | up]} product. */
    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        return Kernels.matmul(x, linear(layer, Linear.UP), layers.get(layer).upBias());
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        return Kernels.matmul(x, linear(layer, Linear.DOWN), layers.get(layer).downBias());
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
        Matrix a = core.attend(batch, layer, Kernels.matmul(x, linear(layer, Linear.QKV), w.qkvBias()));
        return Kernels.matmul(a, linear(layer, Linear.OUT), w.outBias());
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
