package org.privllm.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The parts of a HuggingFace GPT-2 {@code config.json} the engine uses. Anything it cannot honour
 * exactly is refused with a one-line {@link ModelFormatException}.
 */
public record Gpt2Config(int layers, int embd, int heads, int inner, int vocab, int positions, float lnEpsilon,
                         Activation activation, boolean scaleAttnWeights, boolean scaleAttnByInverseLayerIdx,
                         int eosTokenId) {

    public Gpt2Config {
        positive("n_layer", layers);
        positive("n_embd", embd);
        positive("n_head", heads);
        positive("n_inner", inner);
        positive("vocab_size", vocab);
        positive("n_positions", positions);
        if (embd % heads != 0) {
            throw new ModelFormatException("config: n_embd " + embd + " is not divisible by n_head " + heads);
        }
        if (!(lnEpsilon > 0) || !Float.isFinite(lnEpsilon)) {
            throw new ModelFormatException("config: layer_norm_epsilon must be a positive number");
        }
    }

    private static void positive(String key, int v) {
        if (v <= 0) {
            throw new ModelFormatException("config: " + key + " must be a positive integer, got " + v);
        }
    }

    /** A config with GPT-2 defaults for everything but the shape. */
    public static Gpt2Config of(int layers, int embd, int heads, int vocab, int positions) {
        return new Gpt2Config(layers, embd, heads, 4 * embd, vocab, positions, 1e-5f, Activation.GELU_NEW, true,
                false, vocab - 1);
    }

    public int headDim() {
        return embd / heads;
    }

    /** Score scale of layer {@code layer} (0-based), as HuggingFace's GPT2Attention computes it. */
    public float attentionScale(int layer) {
        double s = scaleAttnWeights ? 1.0 / Math.sqrt(headDim()) : 1.0;
        if (scaleAttnByInverseLayerIdx) {
            s /= (layer + 1);
        }
        return (float) s;
    }

    public static Gpt2Config load(Path dir) {
        ConfigJson cj = ConfigJson.read(dir, "a HuggingFace GPT-2 directory");
        Path file = cj.file;
        JsonNode root = cj.root;
        String type = cj.text("model_type", "gpt2");
        if (!type.equals("gpt2")) {
            throw new ModelFormatException(file + ": model_type '" + type + "' is not supported (only gpt2)");
        }
        int embd = cj.integer("n_embd");
        Integer inner = cj.has("n_inner") ? cj.integer("n_inner") : 4 * embd;
        int vocab = cj.integer("vocab_size");
        Activation act = Activation.parse(cj.text("activation_function", "gelu_new"), file);
        // reorder_and_upcast_attn only changes precision, which we already compute in float32: accepted.
        if (root.has("add_cross_attention") && root.get("add_cross_attention").asBoolean(false)) {
            throw new ModelFormatException(file + ": add_cross_attention is not supported");
        }
        int eos = root.hasNonNull("eos_token_id") && root.get("eos_token_id").isInt()
                ? root.get("eos_token_id").asInt() : vocab - 1;
        return new Gpt2Config(
                cj.integer("n_layer"), embd, cj.integer("n_head"), inner, vocab,
                cj.integer("n_positions", root.has("n_ctx") ? root.get("n_ctx").asInt() : null),
                (float) cj.number("layer_norm_epsilon", 1e-5), act,
                cj.bool("scale_attn_weights", true), cj.bool("scale_attn_by_inverse_layer_idx", false),
                eos);
    }

    /** The config as HuggingFace writes it (for the fixture generator). */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architectures", java.util.List.of("GPT2LMHeadModel"));
        m.put("model_type", "gpt2");
        m.put("activation_function", activation.configName);
        m.put("n_layer", layers);
        m.put("n_embd", embd);
        m.put("n_head", heads);
        m.put("n_inner", inner == 4 * embd ? null : inner);
        m.put("vocab_size", vocab);
        m.put("n_positions", positions);
        m.put("n_ctx", positions);
        m.put("layer_norm_epsilon", (double) lnEpsilon);
        m.put("scale_attn_weights", scaleAttnWeights);
        m.put("scale_attn_by_inverse_layer_idx", scaleAttnByInverseLayerIdx);
        m.put("bos_token_id", eosTokenId);
        m.put("eos_token_id", eosTokenId);
        m.put("tie_word_embeddings", true);
        return m;
    }
}
