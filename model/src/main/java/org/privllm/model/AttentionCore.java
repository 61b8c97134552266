package org.privllm.model;

import org.privllm.tensor.Attention;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.Norms;
import org.privllm.tensor.Rope;

/**
 * Everything of an attention sublayer between its two linear products: split the fused
 * {@code [Q | K | V]} rows, RMSNorm each query and key head (Qwen3), rotate queries and keys by
 * their positions (RoPE), append keys and values to the KV cache and attend, grouped-query and
 * causal. It holds no linear weights, so it can run wherever the cache lives (here, or in a trusted
 * domain while the products run elsewhere).
 *
 * <p>A slot's position is its index in the cache minus its sequence's left padding: the position
 * ids the {@link org.privllm.model.generate.Generator} counts from each prompt's first real token.
 */
public final class AttentionCore {
    private final int layers, heads, kvHeads, headDim;
    private final float[] scales;
    /** null: positions are learned and already in the embeddings (GPT-2). */
    private final Rope rope;
    /** per-layer per-head query and key RMSNorm gains, or null. */
    private final float[][] qNorm, kNorm;
    private final float eps;

    public AttentionCore(DecoderConfig c, DecoderWeights w) {
        this.layers = c.layers();
        this.heads = c.heads();
        this.kvHeads = c.kvHeads();
        this.headDim = c.headDim();
        this.scales = new float[layers];
        for (int l = 0; l < layers; l++) {
            scales[l] = c.attentionScale(l);
        }
        this.rope = c.positionEncoding() instanceof DecoderConfig.Rotary r
                ? new Rope(headDim, r.inverseFrequencies(headDim)) : null;
        this.qNorm = c.qkNorm() ? w.layers().stream().map(DecoderWeights.Layer::qNorm).toArray(float[][]::new) : null;
        this.kNorm = c.qkNorm() ? w.layers().stream().map(DecoderWeights.Layer::kNorm).toArray(float[][]::new) : null;
        this.eps = c.norm().eps();
    }

    /** An empty cache for every layer: {@code kvHeads·headDim} floats per slot. */
    public KvCache newCache(int[] leftPad, int capacity) {
        return new KvCache(layers, leftPad.length, capacity, kvHeads * headDim, leftPad);
    }

    /**
     * Attention of {@code layer} for {@code t} new slots per sequence.
     *
     * @param qkv {@code batch·t × (heads + 2·kvHeads)·headDim}, the fused q/k/v product (biases
     *            included); its query and key columns are normalised and rotated in place
     * @return {@code batch·t × heads·headDim}, the input of the output projection
     */
    public Matrix attend(KvCache cache, int layer, Matrix qkv, int t) {
        int q = heads * headDim;
        if (qNorm != null) {
            normalizeHeads(qkv, 0, heads, qNorm[layer]);
            normalizeHeads(qkv, q, kvHeads, kNorm[layer]);
        }
        if (rope != null) {
            int[] positions = positions(cache, t);
            rope.rotate(qkv, 0, heads, positions);
            rope.rotate(qkv, q, kvHeads, positions);
        }
        return Attention.attend(cache, layer, qkv, t, heads, kvHeads, headDim, scales[layer]);
    }

    /** A one-sequence cache in this process, to run in ragged steps. */
    public Local openSequence(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("a sequence cache needs at least one slot, got " + capacity);
        }
        return new Local(newCache(new int[] {0}, capacity));
    }

    /**
     * A sequence's keys and values in this process (plaintext, or the trusted domain): a one-sequence
     * {@link KvCache} of its own capacity, no left padding.
     */
    public static final class Local implements SequenceCache {
        private final KvCache cache;

        Local(KvCache cache) {
            this.cache = cache;
        }

        /** The keys and values (for checks). */
        public KvCache cache() {
            return cache;
        }

        @Override
        public int length() {
            return cache.length();
        }

        @Override
        public int capacity() {
            return cache.capacity();
        }

        @Override
        public String toString() {
            return "SequenceCache[" + cache.length() + "/" + cache.capacity() + "]"; // never its contents
        }
    }

    /**
     * Attention of {@code layer} for a ragged step: q/k norms and RoPE on every row at its sequence's own
     * positions, then {@link Attention#attendRagged} over each sequence's {@link Local} cache.
     *
     * @param qkv {@code batch.rows() × (heads + 2·kvHeads)·headDim} (modified in place)
     * @return {@code batch.rows() × heads·headDim}
     */
    public Matrix attend(RaggedBatch batch, int layer, Matrix qkv) {
        KvCache[] caches = caches(batch);
        int q = heads * headDim;
        if (qNorm != null) {
            normalizeHeads(qkv, 0, heads, qNorm[layer]);
            normalizeHeads(qkv, q, kvHeads, kNorm[layer]);
        }
        if (rope != null) {
            int[] positions = batch.positions();
            rope.rotate(qkv, 0, heads, positions);
            rope.rotate(qkv, q, kvHeads, positions);
        }
        return Attention.attendRagged(caches, batch.counts(), layer, qkv, heads, kvHeads, headDim, scales[layer]);
    }

    /** Advances every sequence of the step by its rows. */
    public static void advance(RaggedBatch batch) {
        KvCache[] caches = caches(batch);
        for (int i = 0; i < caches.length; i++) {
            caches[i].advance(batch.count(i));
        }
    }

    private static KvCache[] caches(RaggedBatch batch) {
        KvCache[] caches = new KvCache[batch.size()];
        for (int i = 0; i < caches.length; i++) {
            if (!(batch.sequences().get(i) instanceof Local l)) {
                throw new IllegalArgumentException("sequence " + i + " of the batch is not a cache of this process: "
                        + batch.sequences().get(i).getClass().getSimpleName());
            }
            caches[i] = l.cache;
        }
        return caches;
    }

    /** Position of each new row: slot index minus left padding (padding slots: 0, their output is unused). */
    private static int[] positions(KvCache cache, int t) {
        int[] pos = new int[cache.batch() * t];
        for (int b = 0; b < cache.batch(); b++) {
            for (int i = 0; i < t; i++) {
                pos[b * t + i] = Math.max(0, cache.length() + i - cache.leftPad(b));
            }
        }
        return pos;
    }

    /** RMSNorm over each of {@code n} head vectors from column {@code col} of every row, in place. */
    private void normalizeHeads(Matrix x, int col, int n, float[] gamma) {
        for (int r = 0; r < x.rows; r++) {
            for (int h = 0, o = r * x.cols + col; h < n; h++, o += headDim) {
                Norms.rmsNorm(x.data, o, headDim, gamma, eps, x.data, o);
            }
        }
    }
}
