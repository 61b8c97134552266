package org.privllm.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a randomly initialised Llama-family checkpoint in HuggingFace layout: {@code config.json}
 * with the family's {@code architectures} and {@code model_type}, and {@code model.safetensors} (or
 * shards with an index) with HuggingFace's tensor names, Linear weights {@code out×in}. Linear weights
 * are {@code N(0, 1/in)}, so activations stay of unit size and attention is far from uniform (every
 * position and rotation matters); embeddings {@code N(0, 1)}, norm gains {@code N(1, 0.1²)}, biases
 * {@code N(0, 0.1²)}. The same spec gives the same checkpoint.
 */
public final class LlamaFixture {
    private LlamaFixture() {}

    /**
     * The knobs of {@code privllm fixture --arch …}.
     *
     * @param ropeScaling   null, or Llama 3.1's {@code rope_scaling}
     * @param attentionBias biases on q/k/v and o (llama, qwen3: {@code attention_bias}); qwen2 always has
     *                      q/k/v biases, mistral none
     */
    public record Spec(Architecture arch, int layers, int hidden, int heads, int kvHeads, int headDim, int inner,
                       int vocab, int positions, boolean tied, SafeTensors.DType dtype, int shards, long seed,
                       double ropeTheta, DecoderConfig.Llama3Scaling ropeScaling, boolean attentionBias) {
        public Spec {
            if (arch == null || !arch.isLlamaFamily()) {
                throw new IllegalArgumentException("--arch must be one of " + Architecture.llamaFamily(false));
            }
            if (shards < 1) {
                throw new IllegalArgumentException("--shards must be >= 1, got " + shards);
            }
            if (attentionBias && (arch == Architecture.MISTRAL || arch == Architecture.QWEN2)) {
                throw new IllegalArgumentException(arch.modelType() + " has no attention_bias option (qwen2: always q/k/v"
                        + " biases, mistral: none)");
            }
        }

        /** A spec with the usual defaults: untied, F32, one file, seed 0, rope_theta 10000, no scaling, no extra biases. */
        public static Spec of(Architecture arch, int layers, int hidden, int heads, int kvHeads, int headDim, int inner,
                              int vocab, int positions) {
            return new Spec(arch, layers, hidden, heads, kvHeads, headDim, inner, vocab, positions, false,
                    SafeTensors.DType.F32, 1, 0, 10000.0, null, false);
        }

        /** {@code --preset llama-124m}: hidden 768, 12 layers, 12 heads, 4 KV heads, intermediate 2048, vocab 32000, untied, 2048 positions. */
        public static Spec llama124m(long seed) {
            return new Spec(Architecture.LLAMA, 12, 768, 12, 4, 64, 2048, 32000, 2048, false, SafeTensors.DType.F32,
                    1, seed, 10000.0, null, false);
        }

        /** {@code --preset NAME}: only {@code llama-124m}. */
        public static Spec preset(String name, long seed) {
            if (!name.equals("llama-124m")) {
                throw new IllegalArgumentException("unknown preset '" + name + "' (llama-124m)");
            }
            return llama124m(seed);
        }

        boolean qkvBias() {
            return arch == Architecture.QWEN2 || attentionBias;
        }
    }

    public static void write(Path out, Spec s) {
        try {
            Files.createDirectories(out);
            SplittableRandom root = new SplittableRandom(s.seed());
            int d = s.hidden(), q = s.heads() * s.headDim(), kv = s.kvHeads() * s.headDim(), f = s.inner();
            SafeTensorsWriter w = new SafeTensorsWriter(s.dtype());
            w.put("model.embed_tokens.weight", Fixture.normal(root.split(), (long) s.vocab() * d, 1, 0), s.vocab(), d);
            for (int i = 0; i < s.layers(); i++) {
                String p = "model.layers." + i + ".", a = p + "self_attn.", m = p + "mlp.";
                w.put(p + "input_layernorm.weight", Fixture.normal(root.split(), d, 0.1, 1), d);
                linear(w, root, a + "q_proj", q, d, s.qkvBias());
                linear(w, root, a + "k_proj", kv, d, s.qkvBias());
                linear(w, root, a + "v_proj", kv, d, s.qkvBias());
                linear(w, root, a + "o_proj", d, q, s.attentionBias());
                if (s.arch() == Architecture.QWEN3) {
                    w.put(a + "q_norm.weight", Fixture.normal(root.split(), s.headDim(), 0.1, 1), s.headDim());
                    w.put(a + "k_norm.weight", Fixture.normal(root.split(), s.headDim(), 0.1, 1), s.headDim());
                }
                w.put(p + "post_attention_layernorm.weight", Fixture.normal(root.split(), d, 0.1, 1), d);
                linear(w, root, m + "gate_proj", f, d, false);
                linear(w, root, m + "up_proj", f, d, false);
                linear(w, root, m + "down_proj", d, f, false);
            }
            w.put("model.norm.weight", Fixture.normal(root.split(), d, 0.1, 1), d);
            if (!s.tied()) {
                w.put("lm_head.weight", Fixture.normal(root.split(), (long) s.vocab() * d, 1 / Math.sqrt(d), 0), s.vocab(), d);
            }
            w.writeCheckpoint(out, s.shards());
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("config.json").toFile(),
                    configJson(s));
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": cannot write fixture (" + e.getMessage() + ")", e);
        }
    }

    /** HuggingFace's Linear: weight {@code out×in}, bias {@code out}. */
    private static void linear(SafeTensorsWriter w, SplittableRandom root, String name, int out, int in, boolean bias) {
        w.put(name + ".weight", Fixture.normal(root.split(), (long) out * in, 1 / Math.sqrt(in), 0), out, in);
        if (bias) {
            w.put(name + ".bias", Fixture.normal(root.split(), out, 0.1, 0), out);
        }
    }

    /** The config as transformers' {@code save_pretrained} writes it for the family. */
    static Map<String, Object> configJson(Spec s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architectures", List.of(s.arch().hfClass()));
        m.put("model_type", s.arch().modelType());
        m.put("hidden_act", "silu");
        m.put("hidden_size", s.hidden());
        m.put("intermediate_size", s.inner());
        m.put("num_hidden_layers", s.layers());
        m.put("num_attention_heads", s.heads());
        m.put("num_key_value_heads", s.kvHeads());
        m.put("head_dim", s.headDim());
        m.put("vocab_size", s.vocab());
        m.put("max_position_embeddings", s.positions());
        m.put("rms_norm_eps", 1e-6);
        m.put("rope_theta", s.ropeTheta());
        Map<String, Object> scaling = null;
        if (s.ropeScaling() != null) {
            scaling = new LinkedHashMap<>();
            scaling.put("rope_type", "llama3");
            scaling.put("factor", s.ropeScaling().factor());
            scaling.put("low_freq_factor", s.ropeScaling().lowFreqFactor());
            scaling.put("high_freq_factor", s.ropeScaling().highFreqFactor());
            scaling.put("original_max_position_embeddings", s.ropeScaling().originalMaxPositions());
        }
        m.put("rope_scaling", scaling);
        switch (s.arch()) {
            case LLAMA -> {
                m.put("attention_bias", s.attentionBias());
                m.put("mlp_bias", false);
            }
            case MISTRAL -> m.put("sliding_window", null);
            case QWEN2, QWEN3 -> {
                if (s.arch() == Architecture.QWEN3) {
                    m.put("attention_bias", s.attentionBias());
                }
                m.put("use_sliding_window", false);
                m.put("sliding_window", null);
                m.put("max_window_layers", s.layers());
            }
            default -> throw new IllegalStateException(s.arch().toString());
        }
        m.put("tie_word_embeddings", s.tied());
        m.put("bos_token_id", 1);
        m.put("eos_token_id", 2);
        m.put("torch_dtype", switch (s.dtype()) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
        });
        return m;
    }
}
