package org.privllm.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.privllm.tensor.Matrix;

/**
 * GPT-2's parameters in float32, as HuggingFace names and shapes them (Conv1D weights are
 * {@code in×out}). Loaded from {@code model.safetensors} or a sharded
 * {@code model.safetensors.index.json}; keys with or without the {@code transformer.} prefix.
 */
public record Gpt2Weights(Matrix wte, Matrix wpe, List<Layer> layers, float[] lnFGamma, float[] lnFBeta,
                          Matrix lmHead) {

    /** One transformer block. */
    public record Layer(float[] ln1Gamma, float[] ln1Beta, Matrix cAttn, float[] cAttnBias, Matrix cProj,
                        float[] cProjBias, float[] ln2Gamma, float[] ln2Beta, Matrix cFc, float[] cFcBias,
                        Matrix mlpProj, float[] mlpProjBias) {}

    /** The LM head as {@code V×D} (tied to {@code wte} unless the checkpoint has its own). */
    public Matrix head() {
        return lmHead == null ? wte : lmHead;
    }

    public static Gpt2Weights load(Path dir, Gpt2Config c) {
        try (SafeTensorShards s = SafeTensorShards.open(dir)) {
            int d = c.embd();
            List<Layer> layers = new ArrayList<>();
            for (int i = 0; i < c.layers(); i++) {
                String p = "h." + i + ".";
                layers.add(new Layer(
                        vector(s, p + "ln_1.weight", d), vector(s, p + "ln_1.bias", d),
                        matrix(s, p + "attn.c_attn.weight", d, 3 * d), vector(s, p + "attn.c_attn.bias", 3 * d),
                        matrix(s, p + "attn.c_proj.weight", d, d), vector(s, p + "attn.c_proj.bias", d),
                        vector(s, p + "ln_2.weight", d), vector(s, p + "ln_2.bias", d),
                        matrix(s, p + "mlp.c_fc.weight", d, c.inner()), vector(s, p + "mlp.c_fc.bias", c.inner()),
                        matrix(s, p + "mlp.c_proj.weight", c.inner(), d), vector(s, p + "mlp.c_proj.bias", d)));
            }
            Matrix wte = matrix(s, "wte.weight", c.vocab(), d);
            Matrix lmHead = null;
            if (s.has("lm_head.weight")) {
                Matrix h = s.matrix("lm_head.weight", c.vocab(), d);
                lmHead = java.util.Arrays.equals(h.data, wte.data) ? null : h;
            }
            return new Gpt2Weights(wte, matrix(s, "wpe.weight", c.positions(), d), List.copyOf(layers),
                    vector(s, "ln_f.weight", d), vector(s, "ln_f.bias", d), lmHead);
        }
    }

    /** A GPT-2 tensor name as stored: with the {@code transformer.} prefix or without. */
    private static String resolve(SafeTensorShards s, String name) {
        if (s.has("transformer." + name)) {
            return "transformer." + name;
        }
        if (s.has(name)) {
            return name;
        }
        throw new ModelFormatException(s.dir() + ": checkpoint lacks tensor '" + name + "' (or 'transformer." + name + "')");
    }

    private static Matrix matrix(SafeTensorShards s, String name, int rows, int cols) {
        return s.matrix(resolve(s, name), rows, cols);
    }

    private static float[] vector(SafeTensorShards s, String name, int n) {
        return s.vector(resolve(s, name), n);
    }
}
