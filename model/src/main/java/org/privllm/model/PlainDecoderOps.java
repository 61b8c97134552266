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
    /**
     * Whether each linear's output matrix is reused from call to call ({@link #forward}'s engine): a 124M
     * prefill otherwise allocates, and the JVM zeroes, ~50 MB of fresh product outputs on the calling thread
     * while the other core waits. A returned matrix is then valid until the next call of the same kind.
     */
    private boolean reuseOutputs;
    /** {@code [Linear.ordinal()]}: the last output of each linear, for {@link #reuseOutputs}. */
    private final Matrix[] outputs = new Matrix[Linear.values().length];

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
        ops.reuseOutputs = true; // only DecoderForward sees the outputs, and it consumes each before the next call
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

    /** {@code x·W_k + bias} of {@code layer}, into the reused output matrix when {@link #reuseOutputs}. */
    private Matrix product(int layer, Linear k, Matrix x, float[] bias) {
        PackedWeight w = linear(layer, k);
        if (!reuseOutputs) {
            return Kernels.matmul(x, w, bias);
        }
        Matrix y = outputs[k.ordinal()];
        if (y == null || y.rows != x.rows || y.cols != w.outDim()) {
            y = new Matrix(x.rows, w.outDim());
            outputs[k.ordinal()] = y;
        }
        Kernels.matmul(x, w, bias, y);
        return y;
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
        Matrix a = core.attend(cache, layer, product(layer, Linear.QKV, x, w.qkvBias()), t);
        return product(layer, Linear.OUT, a, w.outBias());
    }

    /** {@code x·W_up + b}: for a gated MLP the fused {@code [gate | up]} product. */
    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        return product(layer, Linear.UP, x, layers.get(layer).upBias());
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        return product(layer, Linear.DOWN, x, layers.get(layer).downBias());
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
        Matrix a = core.attend(batch, layer, product(layer, Linear.QKV, x, w.qkvBias()));
        return product(layer, Linear.OUT, a, w.outBias());
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
