package org.privllm.model;

import java.nio.file.Path;
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
        try (WeightReader r = Gpt2Adapter.reader(dir, Gpt2Adapter.config(c, dir))) {
            return Gpt2Adapter.gpt2Weights(r.readAll());
        }
    }
}
