package org.privllm.model;

import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.Norms;
import org.privllm.tensor.Parallel;

/**
 * One GPT-2 forward step over a batch: embeddings, then per block {@code h += attn(ln_1(h))} and
 * {@code h += mlp(ln_2(h))}, then {@code ln_f}. The linear algebra goes to {@link TransformerOps};
 * what stays here (embeddings, LayerNorm, activation, residuals) is exactly what the trusted
 * domain computes in the masked scheme.
 */
public final class Gpt2Forward implements ForwardPass {
    private final Gpt2Config config;
    private final Gpt2Weights weights;
    private final TransformerOps ops;

    public Gpt2Forward(Gpt2Config config, Gpt2Weights weights, TransformerOps ops) {
        this.config = config;
        this.weights = weights;
        this.ops = ops;
    }

    public Gpt2Config config() {
        return config;
    }

    public Gpt2Weights weights() {
        return weights;
    }

    @Override
    public TransformerOps ops() {
        return ops;
    }

    @Override
    public int vocab() {
        return config.vocab();
    }

    @Override
    public int positions() {
        return config.positions();
    }

    /**
     * Runs {@code t} new slots for each sequence; {@code ids} and {@code positions} hold
     * {@code batch·t} entries, sequence-major. Returns the final hidden states after {@code ln_f}.
     */
    @Override
    public Matrix step(int[] ids, int[] positions, int t) {
        Matrix h = embed(ids, positions);
        for (int layer = 0; layer < config.layers(); layer++) {
            Gpt2Weights.Layer l = weights.layers().get(layer);
            Matrix a = ops.attention(layer, layerNorm(h, l.ln1Gamma(), l.ln1Beta(), config.lnEpsilon()), t);
            Kernels.addInPlace(h, a);
            Matrix up = ops.mlpUp(layer, layerNorm(h, l.ln2Gamma(), l.ln2Beta(), config.lnEpsilon()));
            activate(up);
            Kernels.addInPlace(h, ops.mlpDown(layer, up));
        }
        ops.advance(t);
        return layerNorm(h, weights.lnFGamma(), weights.lnFBeta(), config.lnEpsilon());
    }

    /** {@code wte[id] + wpe[position]} per row. */
    public Matrix embed(int[] ids, int[] positions) {
        int d = config.embd();
        Matrix h = new Matrix(ids.length, d);
        for (int r = 0; r < ids.length; r++) {
            int id = ids[r], pos = positions[r];
            if (id < 0 || id >= config.vocab()) {
                throw new IllegalArgumentException("token id " + id + " is out of range [0, " + config.vocab() + ")");
            }
            if (pos < 0 || pos >= config.positions()) {
                throw new IllegalArgumentException("position " + pos + " is beyond n_positions " + config.positions());
            }
            System.arraycopy(weights.wte().data, id * d, h.data, r * d, d);
            Kernels.axpy(1f, weights.wpe().data, pos * d, h.data, r * d, d);
        }
        return h;
    }

    /** Applies the configured MLP activation in place. */
    public void activate(Matrix x) {
        Parallel.forRange(x.rows, 1, (from, to) -> config.activation().applyInPlace(x.data, from * x.cols, to * x.cols));
    }

    /** LayerNorm over each row (biased variance, as torch), into a new matrix. */
    public static Matrix layerNorm(Matrix x, float[] gamma, float[] beta, float eps) {
        return Norms.layerNorm(x, gamma, beta, eps);
    }
}
