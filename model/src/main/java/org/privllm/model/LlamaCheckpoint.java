package org.privllm.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.privllm.model.DecoderConfig.Biases;
import org.privllm.model.DecoderConfig.Llama3Scaling;
import org.privllm.model.DecoderConfig.Mlp;
import org.privllm.model.DecoderConfig.Norm;
import org.privllm.model.DecoderConfig.Rotary;
import org.privllm.model.DecoderConfig.ScoreScale;
import org.privllm.model.DecoderConfig.SpecialTokens;
import org.privllm.model.DecoderWeights.NormWeights;
import org.privllm.tensor.Matrix;

/**
 * Reads HuggingFace {@code LlamaForCausalLM}, {@code MistralForCausalLM}, {@code Qwen2ForCausalLM} and
 * {@code Qwen3ForCausalLM} checkpoints into a {@link DecoderConfig} and {@link DecoderWeights}.
 * Defaults are the transformers config classes' own; anything this engine cannot compute exactly
 * (another activation, another rope scaling, another architecture) is a one-line
 * {@link ModelFormatException} naming it.
 */
public final class LlamaCheckpoint {
    private LlamaCheckpoint() {}

    public static DecoderConfig config(Path dir) {
        ConfigJson cj = ConfigJson.read(dir, "a HuggingFace Llama-family directory");
        Architecture arch = architecture(cj);
        String act = cj.text("hidden_act", "silu");
        if (!act.equals("silu") && !act.equals("swish")) {
            throw cj.error("hidden_act '" + act + "' is not supported (the " + arch.modelType()
                    + " MLP is computed with silu only)");
        }
        int hidden = cj.integer("hidden_size"), heads = cj.integer("num_attention_heads");
        if (heads <= 0) {
            throw cj.error("num_attention_heads must be a positive integer, got " + heads);
        }
        int layers = cj.integer("num_hidden_layers");
        Integer headDim = cj.has("head_dim") ? (Integer) cj.integer("head_dim") : defaultHeadDim(cj, arch, hidden, heads);
        Biases biases = switch (arch) {
            case LLAMA -> new Biases(cj.bool("attention_bias", false), cj.bool("attention_bias", false),
                    cj.bool("mlp_bias", false));
            case QWEN2 -> new Biases(true, false, false); // Qwen2Attention: q/k/v with bias, o_proj without
            case QWEN3 -> new Biases(cj.bool("attention_bias", false), cj.bool("attention_bias", false), false);
            default -> Biases.NONE;
        };
        try {
            return new DecoderConfig(arch, layers, hidden, heads, cj.integer("num_key_value_heads", heads), headDim,
                    cj.integer("intermediate_size"), cj.integer("vocab_size"),
                    cj.integer("max_position_embeddings", arch == Architecture.LLAMA ? 2048
                            : arch == Architecture.MISTRAL ? 4096 * 32 : 32768),
                    new Norm(Norm.Kind.RMS_NORM, (float) cj.number("rms_norm_eps", 1e-6)), rotary(cj),
                    new Mlp(Activation.SILU, true), biases, arch == Architecture.QWEN3, ScoreScale.STANDARD,
                    cj.bool("tie_word_embeddings", false), slidingWindow(cj, arch, layers),
                    new SpecialTokens(tokenIds(cj, "bos_token_id").stream().findFirst().orElse(-1),
                            tokenIds(cj, "eos_token_id")));
        } catch (ModelFormatException e) {
            // the record names the key; the message should name the file as well
            throw new ModelFormatException(e.getMessage().replaceFirst("^config:", cj.file + ":"), e);
        }
    }

    private static Architecture architecture(ConfigJson cj) {
        Architecture arch = null;
        if (cj.has("model_type")) {
            String type = cj.text("model_type", "");
            arch = Architecture.byName(type);
            if (arch == null || !arch.isLlamaFamily()) {
                throw cj.error("model_type '" + type + "' is not supported (" + Architecture.llamaFamily(false) + ")");
            }
        }
        JsonNode classes = cj.get("architectures");
        if (classes != null) {
            if (!classes.isArray()) {
                throw cj.error("architectures must be a list, got " + classes);
            }
            for (JsonNode n : classes) {
                Architecture a = Architecture.byHfClass(n.asText());
                if (a == null || !a.isLlamaFamily() || (arch != null && a != arch)) {
                    throw cj.error("architecture '" + n.asText() + "' is not supported ("
                            + (arch != null ? "model_type " + arch.modelType() + " is " + arch.hfClass()
                            : Architecture.llamaFamily(true)) + ")");
                }
                arch = a;
            }
        }
        if (arch == null) {
            throw cj.error("names neither model_type nor architectures (" + Architecture.llamaFamily(false) + ")");
        }
        return arch;
    }

    /** transformers' Qwen3Config defaults head_dim to 128; the others to hidden_size / heads. */
    private static int defaultHeadDim(ConfigJson cj, Architecture arch, int hidden, int heads) {
        if (arch == Architecture.QWEN3) {
            return 128;
        }
        if (hidden % heads != 0) {
            throw cj.error("hidden_size " + hidden + " is not divisible by num_attention_heads " + heads
                    + " and there is no head_dim");
        }
        return hidden / heads;
    }

    /**
     * {@code rope_theta} and {@code rope_scaling} ({@code rope_type} or {@code type}: default or llama3);
     * transformers 5's {@code rope_parameters} holds both.
     */
    private static Rotary rotary(ConfigJson cj) {
        JsonNode params = cj.get("rope_parameters");
        JsonNode scaling = cj.get("rope_scaling") != null ? cj.get("rope_scaling") : params;
        double theta = cj.has("rope_theta") ? cj.number("rope_theta", 0)
                : params != null && params.hasNonNull("rope_theta") ? cj.numberValue("rope_theta", params.get("rope_theta"))
                : 10000.0;
        if (scaling == null) {
            return new Rotary(theta, null);
        }
        if (!scaling.isObject()) {
            throw cj.error("rope_scaling must be an object or null, got " + scaling);
        }
        String type = scaling.hasNonNull("rope_type") ? scaling.get("rope_type").asText()
                : scaling.hasNonNull("type") ? scaling.get("type").asText() : "default";
        return switch (type) {
            case "default" -> new Rotary(theta, null);
            case "llama3" -> new Rotary(theta, new Llama3Scaling(
                    scalingNumber(cj, scaling, "factor"), scalingNumber(cj, scaling, "low_freq_factor"),
                    scalingNumber(cj, scaling, "high_freq_factor"),
                    cj.integerValue("rope_scaling.original_max_position_embeddings",
                            required(cj, scaling, "original_max_position_embeddings"))));
            default -> throw cj.error("rope_scaling type '" + type + "' is not supported (only llama3)");
        };
    }

    private static double scalingNumber(ConfigJson cj, JsonNode scaling, String key) {
        return cj.numberValue("rope_scaling." + key, required(cj, scaling, key));
    }

    private static JsonNode required(ConfigJson cj, JsonNode scaling, String key) {
        if (!scaling.hasNonNull(key)) {
            throw cj.error("rope_scaling of type llama3 lacks " + key);
        }
        return scaling.get(key);
    }

    /**
     * The window of an active sliding-window attention, else 0. Mistral applies {@code sliding_window}
     * (default 4096, null: none) to every layer; Qwen2/3 only with {@code use_sliding_window}, to the
     * layers from {@code max_window_layers} on (or those {@code layer_types} names); Llama has none.
     */
    private static int slidingWindow(ConfigJson cj, Architecture arch, int layers) {
        boolean keyed = cj.root.has("sliding_window");
        Integer window = cj.has("sliding_window") ? (Integer) cj.integer("sliding_window")
                : keyed ? null : arch == Architecture.MISTRAL ? Integer.valueOf(4096) : null;
        boolean active = switch (arch) {
            case MISTRAL -> window != null;
            case QWEN2, QWEN3 -> window != null && cj.bool("use_sliding_window", false) && anySlidingLayer(cj, layers);
            default -> false;
        };
        if (active && window <= 0) {
            throw cj.error("sliding_window must be a positive integer, got " + window);
        }
        return active ? window : 0;
    }

    private static boolean anySlidingLayer(ConfigJson cj, int layers) {
        JsonNode types = cj.get("layer_types");
        if (types != null && types.isArray()) {
            for (JsonNode t : types) {
                if (t.asText().equals("sliding_attention")) {
                    return true;
                }
            }
            return false;
        }
        return cj.integer("max_window_layers", 28) < layers;
    }

    /** A token id key that may be an integer, a list of integers or null. */
    private static List<Integer> tokenIds(ConfigJson cj, String key) {
        JsonNode n = cj.get(key);
        List<Integer> ids = new ArrayList<>();
        if (n == null) {
            return ids;
        }
        if (n.isArray()) {
            for (JsonNode e : n) {
                ids.add(cj.integerValue(key, e));
            }
        } else {
            ids.add(cj.integerValue(key, n));
        }
        return ids;
    }

    /** The weights of a checkpoint whose config is {@code c}, transposed to {@code in×out} and fused. */
    public static DecoderWeights weights(Path dir, DecoderConfig c) {
        try (WeightReader r = reader(dir, c)) {
            return r.readAll();
        }
    }

    /** The weights of a checkpoint whose config is {@code c}, a piece at a time (linears transposed and fused). */
    static WeightReader reader(Path dir, DecoderConfig c) {
        return new CheckpointReader(dir) {
            @Override
            protected DecoderWeights readWithoutLinears() {
                SafeTensorShards s = tensors;
                int d = c.hidden(), hd = c.headDim();
                Biases b = c.biases();
                List<DecoderWeights.Layer> layers = new ArrayList<>();
                for (int i = 0; i < c.layers(); i++) {
                    String p = "model.layers." + i + ".", a = p + "self_attn.", m = p + "mlp.";
                    layers.add(new DecoderWeights.Layer(
                            rms(s, p + "input_layernorm.weight", d), null,
                            b.qkv() ? concat(s.vector(a + "q_proj.bias", c.qWidth()), s.vector(a + "k_proj.bias", c.kvWidth()),
                                    s.vector(a + "v_proj.bias", c.kvWidth())) : null,
                            c.qkNorm() ? s.vector(a + "q_norm.weight", hd) : null,
                            c.qkNorm() ? s.vector(a + "k_norm.weight", hd) : null,
                            null,
                            b.out() ? s.vector(a + "o_proj.bias", d) : null,
                            rms(s, p + "post_attention_layernorm.weight", d), null,
                            b.mlp() ? concat(s.vector(m + "gate_proj.bias", c.inner()), s.vector(m + "up_proj.bias", c.inner()))
                                    : null,
                            null,
                            b.mlp() ? s.vector(m + "down_proj.bias", d) : null));
                }
                return new DecoderWeights(s.matrix("model.embed_tokens.weight", c.vocab(), d), null, List.copyOf(layers),
                        rms(s, "model.norm.weight", d), null);
            }

            @Override
            public Matrix linear(int layer, DecoderWeights.Linear linear) {
                SafeTensorShards s = tensors;
                int d = c.hidden();
                String a = "model.layers." + layer + ".self_attn.", m = "model.layers." + layer + ".mlp.";
                return switch (linear) {
                    case QKV -> inOut(s.matrix(a + "q_proj.weight", c.qWidth(), d), s.matrix(a + "k_proj.weight", c.kvWidth(), d),
                            s.matrix(a + "v_proj.weight", c.kvWidth(), d));
                    case OUT -> inOut(s.matrix(a + "o_proj.weight", d, c.qWidth()));
                    case UP -> inOut(s.matrix(m + "gate_proj.weight", c.inner(), d), s.matrix(m + "up_proj.weight", c.inner(), d));
                    case DOWN -> inOut(s.matrix(m + "down_proj.weight", d, c.inner()));
                };
            }

            @Override
            public Matrix lmHead() {
                if (c.tiedHead()) {
                    return null;
                }
                if (!tensors.has("lm_head.weight")) {
                    throw new ModelFormatException(dir + ": checkpoint lacks tensor 'lm_head.weight' (tie_word_embeddings is false)");
                }
                return tensors.matrix("lm_head.weight", c.vocab(), c.hidden());
            }
        };
    }

    private static NormWeights rms(SafeTensorShards s, String name, int d) {
        return new NormWeights(s.vector(name, d), null);
    }

    /**
     * HuggingFace Linear weights ({@code out×in} each) as one {@code in × Σout} weight: transposed
     * and placed side by side, so fused projections are one product.
     */
    static Matrix inOut(Matrix... outByIn) {
        int in = outByIn[0].cols, cols = 0;
        for (Matrix w : outByIn) {
            cols += w.rows;
        }
        Matrix fused = new Matrix(in, cols);
        int c0 = 0;
        for (Matrix w : outByIn) {
            transposeInto(w, fused, c0);
            c0 += w.rows;
        }
        return fused;
    }

    /** {@code dst[c][col + r] = src[r][c]}, in 32×32 tiles so both sides stay in cache. */
    private static void transposeInto(Matrix src, Matrix dst, int col) {
        final int tile = 32;
        for (int r0 = 0; r0 < src.rows; r0 += tile) {
            for (int c0 = 0; c0 < src.cols; c0 += tile) {
                for (int r = r0; r < Math.min(src.rows, r0 + tile); r++) {
                    for (int c = c0; c < Math.min(src.cols, c0 + tile); c++) {
                        dst.data[c * dst.cols + col + r] = src.data[r * src.cols + c];
                    }
                }
            }
        }
    }

    private static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] out = new float[n];
        int o = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }
}
