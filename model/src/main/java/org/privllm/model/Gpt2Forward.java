package org.privllm.model;

import org.privllm.tensor.Matrix;
import org.privllm.tensor.Norms;

/**
 * GPT-2's forward pass under its GPT-2 names: a thin facade over {@link DecoderForward} (the one block
 * loop) on {@link Gpt2Adapter}'s view of the weights, kept for code written against GPT-2's types. New
 * code uses {@link DecoderForward} directly.
 */
public final class Gpt2Forward implements ForwardPass {
    private final Gpt2Config config;
    private final Gpt2Weights weights;
    private final DecoderForward decoder;

    public Gpt2Forward(Gpt2Config config, Gpt2Weights weights, TransformerOps ops) {
        this.config = config;
        this.weights = weights;
        this.decoder = new DecoderForward(Gpt2Adapter.config(config, weights), Gpt2Adapter.weights(weights), ops);
    }

    public Gpt2Config config() {
        return config;
    }

    public Gpt2Weights weights() {
        return weights;
    }

    /** The decoder this facade delegates to. */
    public DecoderForward decoder() {
        return decoder;
    }

    @Override
    public TransformerOps ops() {
        return decoder.ops();
    }

    @Override
    public int vocab() {
        return decoder.vocab();
    }

    @Override
    public int positions() {
        return decoder.positions();
    }

    @Override
    public Matrix step(int[] ids, int[] positions, int t) {
        return decoder.step(ids, positions, t);
    }

    @Override
    public Matrix step(RaggedBatch batch, int[] ids) {
        return decoder.step(batch, ids);
    }

    /** {@code wte[id] + wpe[position]} per row. */
    public Matrix embed(int[] ids, int[] positions) {
        return decoder.embed(ids, positions);
    }

    /** Applies the configured MLP activation in place. */
    public void activate(Matrix x) {
        decoder.activate(x);
    }

    /** LayerNorm over each row (biased variance, as torch), into a new matrix. */
    public static Matrix layerNorm(Matrix x, float[] gamma, float[] beta, float eps) {
        return Norms.layerNorm(x, gamma, beta, eps);
    }
}
