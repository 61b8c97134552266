package org.privllm.protocol;

import java.util.Arrays;
import org.privllm.tensor.Matrix;

/**
 * One attention sublayer request (see {@link Executor#attention}), for any decoder: multi-head or grouped-query
 * ({@code kvHeads} key/value heads shared by {@code heads / kvHeads} query heads each), heads of any width, and
 * optionally a rotary position embedding the executor applies to the queries and keys before attending.
 *
 * @param layer        which layer's cache slot to append to
 * @param qkv          the fused q/k/v weight ({@code in × (heads + 2·kvHeads)·headDim}); null when {@code x}
 *                     already holds the fused {@code [Q̃ | K̃ | Ṽ]} rows (a trusted step ran between the product
 *                     and the attention core, e.g. Qwen3's q/k norm)
 * @param proj         the output projection weight ({@code heads·headDim × out}; absorbs the value masks on its
 *                     input side)
 * @param x            input rows, {@code batch·t × in} — or, without {@code qkv}, {@code batch·t ×
 *                     (heads + 2·kvHeads)·headDim}
 * @param compensation padding-mode compensation for the q/k/v product, or null (always null without {@code qkv})
 * @param t            new slots per sequence
 * @param heads        query heads
 * @param kvHeads      key/value heads (a divisor of {@code heads}); the cache holds {@code kvHeads·headDim} per slot
 * @param headDim      width of one head
 * @param scale        score scale
 * @param rotation     the rotary embedding to apply to queries and keys, or null (positions are elsewhere, GPT-2)
 */
public record AttentionCall(int layer, WeightId qkv, WeightId proj, Matrix x, Matrix compensation, int t,
                            int heads, int kvHeads, int headDim, float scale, Rotation rotation) {

    /**
     * Rotary position embedding in {@code rotate_half} layout: within each query and key head the pair
     * {@code (i, i + headDim/2)} of row {@code r} is rotated by {@code positions[r]·inverseFrequencies[i]}.
     * Both are public: the frequencies are the model's, a position is the row's cache slot minus its
     * sequence's left padding.
     *
     * @param inverseFrequencies {@code headDim/2} angular frequencies (radians per position)
     * @param positions          one non-negative position per row of {@code x}
     */
    public record Rotation(double[] inverseFrequencies, int[] positions) {
        public Rotation {
            inverseFrequencies = inverseFrequencies.clone();
            positions = positions.clone();
            for (double f : inverseFrequencies) {
                if (!Double.isFinite(f)) {
                    throw new IllegalArgumentException("rotary frequencies must be finite");
                }
            }
            for (int p : positions) {
                if (p < 0) {
                    throw new IllegalArgumentException("negative rotary position " + p);
                }
            }
        }

        @Override
        public double[] inverseFrequencies() {
            return inverseFrequencies.clone();
        }

        @Override
        public int[] positions() {
            return positions.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Rotation r && Arrays.equals(inverseFrequencies, r.inverseFrequencies)
                    && Arrays.equals(positions, r.positions);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(inverseFrequencies) + Arrays.hashCode(positions);
        }

        @Override
        public String toString() {
            return "Rotation[" + inverseFrequencies.length + " frequencies, " + positions.length + " positions]";
        }
    }

    public AttentionCall {
        if (proj == null || x == null) {
            throw new IllegalArgumentException("attention needs a projection weight and input rows");
        }
        if (t <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("attention needs t > 0 and " + heads + " query heads sharing " + kvHeads
                    + " key/value heads of width " + headDim + " > 0, t " + t);
        }
        if (qkv == null && compensation != null) {
            throw new IllegalArgumentException("attention on given q/k/v rows takes no compensation");
        }
        if (qkv == null && (long) x.cols != (long) (heads + 2L * kvHeads) * headDim) {
            throw new IllegalArgumentException("attention rows " + x.shape() + " are not [Q | K | V] of " + heads + " + 2x"
                    + kvHeads + " heads of " + headDim);
        }
        if (rotation != null) {
            if (headDim % 2 != 0 || rotation.inverseFrequencies.length != headDim / 2) {
                throw new IllegalArgumentException("rotary embedding needs an even head width and headDim/2 frequencies, got "
                        + headDim + " and " + rotation.inverseFrequencies.length);
            }
            if (rotation.positions.length != x.rows) {
                throw new IllegalArgumentException("rotary embedding needs one position per row: " + rotation.positions.length
                        + " for " + x.rows + " rows");
            }
        }
    }

    /**
     * GPT-2's call: multi-head attention whose input rows are as wide as the model ({@code x: n×d}), heads of
     * {@code d/heads}, no rotation, the q/k/v product on the executor.
     */
    public AttentionCall(int layer, WeightId qkv, WeightId proj, Matrix x, Matrix compensation, int t, int heads,
                         float scale) {
        this(layer, qkv, proj, x, compensation, t, heads, heads, gpt2HeadDim(x, heads), scale, null);
    }

    private static int gpt2HeadDim(Matrix x, int heads) {
        if (x == null || heads <= 0 || x.cols % heads != 0) {
            throw new IllegalArgumentException("multi-head attention input " + (x == null ? "null" : x.shape())
                    + " is not " + heads + " heads wide");
        }
        return x.cols / heads;
    }

    /** Columns of the fused {@code [Q | K | V]} rows: {@code (heads + 2·kvHeads)·headDim}. */
    public int qkvWidth() {
        return (heads + 2 * kvHeads) * headDim;
    }

    /** Query columns ({@code heads·headDim}): the projection's input width. */
    public int qWidth() {
        return heads * headDim;
    }

    /** Key (or value) columns, and floats per cache slot ({@code kvHeads·headDim}). */
    public int kvWidth() {
        return kvHeads * headDim;
    }
}
