package org.privllm.model;

import java.util.List;

/**
 * The shape and the component choices of a decoder-only transformer: what {@link DecoderForward},
 * {@link AttentionCore} and the ops need, whichever checkpoint format it came from. GPT-2 is the
 * instance with LayerNorm, learned positions and a plain MLP ({@link Gpt2Adapter}); the Llama family
 * ({@link LlamaCheckpoint}) has RMSNorm, rotary positions, SwiGLU and possibly grouped key/value heads.
 *
 * @param heads         query heads
 * @param kvHeads       key/value heads; {@code heads} is a multiple of it (query head h reads kv head h / (heads/kvHeads))
 * @param headDim       width of one head (need not be {@code hidden/heads})
 * @param inner         MLP width (of the gate and of the up projection each, when gated)
 * @param positions     longest sequence the model is run on ({@code n_positions}, {@code max_position_embeddings})
 * @param qkNorm        RMSNorm over each head's query and key before the rotation (Qwen3)
 * @param tiedHead      the LM head is the token embedding matrix
 * @param slidingWindow 0, or the window of an active sliding-window attention (this engine computes full
 *                      attention, which equals it as long as a sequence is no longer than the window)
 */
public record DecoderConfig(Architecture architecture, int layers, int hidden, int heads, int kvHeads, int headDim,
                            int inner, int vocab, int positions, Norm norm, PositionEncoding positionEncoding, Mlp mlp,
                            Biases biases, boolean qkNorm, ScoreScale scoreScale, boolean tiedHead, int slidingWindow,
                            SpecialTokens specialTokens) {

    /** LayerNorm (mean and variance) or RMSNorm (root mean square), with its epsilon. */
    public record Norm(Kind kind, float eps) {
        public enum Kind { LAYER_NORM, RMS_NORM }

        public Norm {
            if (!(eps > 0) || !Float.isFinite(eps)) {
                throw new ModelFormatException("config: norm epsilon must be a positive number, got " + eps);
            }
        }
    }

    /** How positions enter: learned vectors added to the embeddings (GPT-2) or a rotation of q and k (RoPE). */
    public sealed interface PositionEncoding permits Learned, Rotary {}

    /** GPT-2's {@code wpe}: one learned vector per position, added to the token embedding. */
    public record Learned() implements PositionEncoding {}

    /**
     * Rotary embedding with base {@code theta}; {@code scaling} is null or Llama 3.1's frequency
     * scaling.
     */
    public record Rotary(double theta, Llama3Scaling scaling) implements PositionEncoding {
        public Rotary {
            if (!(theta > 0) || !Double.isFinite(theta)) {
                throw new ModelFormatException("config: rope_theta must be a positive number, got " + theta);
            }
        }

        /** {@code theta^(−2i/headDim)} for {@code i < headDim/2}, in double, then scaled as configured. */
        public double[] inverseFrequencies(int headDim) {
            double[] inv = new double[headDim / 2];
            for (int i = 0; i < inv.length; i++) {
                inv[i] = Math.pow(theta, -(2.0 * i) / headDim);
            }
            return scaling == null ? inv : scaling.apply(inv);
        }
    }

    /**
     * {@code rope_scaling} of type {@code llama3} (Llama 3.1/3.2): long wavelengths slowed down by
     * {@code factor}, short ones kept, the band between interpolated.
     */
    public record Llama3Scaling(double factor, double lowFreqFactor, double highFreqFactor,
                                int originalMaxPositions) {
        public Llama3Scaling {
            if (!(factor > 0) || !(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || originalMaxPositions <= 0
                    || !Double.isFinite(factor) || !Double.isFinite(highFreqFactor)) {
                throw new ModelFormatException("config: rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < "
                        + "high_freq_factor and original_max_position_embeddings > 0, got " + factor + ", "
                        + lowFreqFactor + ", " + highFreqFactor + ", " + originalMaxPositions);
            }
        }

        /** transformers' {@code _compute_llama3_parameters}, elementwise in double. */
        double[] apply(double[] inv) {
            double lowFreqWavelen = originalMaxPositions / lowFreqFactor;
            double highFreqWavelen = originalMaxPositions / highFreqFactor;
            double[] out = new double[inv.length];
            for (int i = 0; i < inv.length; i++) {
                double wavelen = 2 * Math.PI / inv[i];
                double f = wavelen > lowFreqWavelen ? inv[i] / factor : inv[i];
                boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
                if (medium) {
                    double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                    f = (1 - smooth) * f / factor + smooth * f;
                }
                out[i] = f;
            }
            return out;
        }
    }

    /** The MLP: {@code down(act(up(x)))}, or gated {@code down(act(gate(x))·up(x))} with gate and up fused. */
    public record Mlp(Activation activation, boolean gated) {}

    /** Which linear layers carry a bias: q/k/v, the attention output, the MLP. */
    public record Biases(boolean qkv, boolean out, boolean mlp) {
        public static final Biases NONE = new Biases(false, false, false);
    }

    /** Attention score scale: {@code 1/√headDim} unless turned off, further divided by layer+1 if asked (GPT-2's options). */
    public record ScoreScale(boolean byHeadDim, boolean byInverseLayer) {
        public static final ScoreScale STANDARD = new ScoreScale(true, false);
    }

    /** {@code bos_token_id} (−1: none) and every {@code eos_token_id} (generation stops on any). */
    public record SpecialTokens(int bos, List<Integer> eos) {
        public SpecialTokens {
            eos = List.copyOf(eos);
        }

        public int[] eosArray() {
            return eos.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    public DecoderConfig {
        positive("num_hidden_layers", layers);
        positive("hidden_size", hidden);
        positive("num_attention_heads", heads);
        positive("num_key_value_heads", kvHeads);
        positive("head_dim", headDim);
        positive("intermediate_size", inner);
        positive("vocab_size", vocab);
        positive("max_position_embeddings", positions);
        if (heads % kvHeads != 0) {
            throw new ModelFormatException("config: num_attention_heads " + heads
                    + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        if (positionEncoding instanceof Rotary && headDim % 2 != 0) {
            throw new ModelFormatException("config: rotary embedding needs an even head_dim, got " + headDim);
        }
        if (positionEncoding instanceof Learned && (kvHeads != heads || heads * headDim != hidden)) {
            throw new ModelFormatException("config: learned positions are GPT-2's, which has " + hidden / heads
                    + "-wide heads and no key/value grouping");
        }
        if (mlp.gated() && mlp.activation() != Activation.SILU) {
            throw new ModelFormatException("config: a gated MLP is computed with silu only, got "
                    + mlp.activation().configName());
        }
        if (slidingWindow < 0) {
            throw new ModelFormatException("config: sliding_window must be a positive integer, got " + slidingWindow);
        }
        for (int id : specialTokens.eos()) {
            if (id < 0 || id >= vocab) {
                throw new ModelFormatException("config: eos_token_id " + id + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (specialTokens.bos() >= vocab) {
            throw new ModelFormatException("config: bos_token_id " + specialTokens.bos() + " is outside the vocabulary [0, "
                    + vocab + ")");
        }
        long qkvCols = (long) (heads + 2L * kvHeads) * headDim;
        if (qkvCols > Integer.MAX_VALUE / 8 || (long) vocab * hidden > Integer.MAX_VALUE - 8) {
            throw new ModelFormatException("config: shape too large (" + heads + " heads of " + headDim + ", vocab "
                    + vocab + " x " + hidden + ")");
        }
    }

    private static void positive(String key, int v) {
        if (v <= 0) {
            throw new ModelFormatException("config: " + key + " must be a positive integer, got " + v);
        }
    }

    /** Query columns of the fused q/k/v product ({@code heads·headDim}). */
    public int qWidth() {
        return heads * headDim;
    }

    /** Key (or value) columns of the fused product, and floats per KV-cache slot ({@code kvHeads·headDim}). */
    public int kvWidth() {
        return kvHeads * headDim;
    }

    /** Columns of the fused q/k/v product. */
    public int qkvWidth() {
        return qWidth() + 2 * kvWidth();
    }

    /** Columns of the MLP's first product: {@code [gate | up]} when gated. */
    public int upWidth() {
        return mlp.gated() ? 2 * inner : inner;
    }

    /** Score scale of layer {@code layer} (0-based). */
    public float attentionScale(int layer) {
        double s = scoreScale.byHeadDim() ? 1.0 / Math.sqrt(headDim) : 1.0;
        if (scoreScale.byInverseLayer()) {
            s /= (layer + 1);
        }
        return (float) s;
    }
}
