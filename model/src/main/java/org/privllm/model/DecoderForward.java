package org.privllm.model;

import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.Norms;
import org.privllm.tensor.Parallel;
import org.privllm.tensor.Profile;

/**
 * The decoder block loop, for every {@link DecoderConfig}: embeddings (plus learned positions), then
 * per block {@code h += attention(norm₁(h))} and {@code h += down(act(up(norm₂(h))))}, then the final
 * norm. The norm (LayerNorm or RMSNorm), the position encoding (learned here, or rotary inside the
 * attention) and the MLP (plain, or gated with {@code [gate | up]} from one product) are the config's.
 * The linear algebra goes to {@link TransformerOps}; what stays here (embeddings, norms, activation,
 * residuals) is what a trusted domain computes in the masked scheme.
 */
public final class DecoderForward implements ForwardPass {
    /** Where a token's embedding comes from. */
    @FunctionalInterface
    public interface TokenEmbeddings {
        /** Copies token {@code id}'s {@code hidden} values into {@code dst[off..]}. */
        void copy(int id, float[] dst, int off);
    }

    private final DecoderConfig config;
    private final DecoderWeights weights;
    private final TransformerOps ops;
    private final TokenEmbeddings tokens;

    /** The loop over {@code weights}, token embeddings from its table. */
    public DecoderForward(DecoderConfig config, DecoderWeights weights, TransformerOps ops) {
        this(config, weights, ops, (id, dst, off) -> System.arraycopy(weights.embeddings().data, id * config.hidden(), dst,
                off, config.hidden()));
    }

    /**
     * The loop over {@code weights} with token embeddings from {@code tokens} (e.g. a packed LM head tied to
     * them), so {@code weights} need not hold the table: its {@link DecoderWeights#embeddings} may be null.
     */
    public DecoderForward(DecoderConfig config, DecoderWeights weights, TransformerOps ops, TokenEmbeddings tokens) {
        this.config = config;
        this.weights = weights;
        this.ops = ops;
        this.tokens = tokens;
    }

    public DecoderConfig config() {
        return config;
    }

    public DecoderWeights weights() {
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

    @Override
    public void checkContext(int tokens) {
        int w = config.slidingWindow();
        if (w > 0 && tokens > w) {
            throw new IllegalArgumentException("a sequence of " + tokens + " tokens (prompt + new) exceeds the "
                    + config.architecture().modelType() + " sliding window of " + w
                    + ", which this engine does not implement (it computes full attention)");
        }
    }

    @Override
    public Matrix step(int[] ids, int[] positions, int t) {
        Matrix h = embed(ids, positions);
        for (int layer = 0; layer < config.layers(); layer++) {
            block(layer, h, t);
        }
        ops.advance(t);
        return norm(h, weights.finalNorm());
    }

    /**
     * The ragged step: embeddings at each sequence's own positions, the blocks with every linear product over
     * all rows and the attention core per sequence ({@link TransformerOps#attention(int, Matrix, RaggedBatch)}),
     * then every sequence's cache advances by its rows. Everything this loop does itself is row by row, so a
     * row's result is the one the sequence gets alone wherever the placement's products are too.
     */
    @Override
    public Matrix step(RaggedBatch batch, int[] ids) {
        if (!ops.ragged()) {
            throw new UnsupportedOperationException(ops.getClass().getSimpleName() + " does not run ragged batches");
        }
        if (ids.length != batch.rows()) {
            throw new IllegalArgumentException(ids.length + " token ids for a ragged step of " + batch.rows() + " rows");
        }
        Matrix h = embed(ids, batch.positions());
        for (int layer = 0; layer < config.layers(); layer++) {
            DecoderWeights.Layer l = weights.layers().get(layer);
            Kernels.addInPlace(h, ops.attention(layer, norm(h, l.attnNorm()), batch));
            mlp(l, layer, h);
        }
        ops.advance(batch);
        return norm(h, weights.finalNorm());
    }

    /**
     * One block on the residual stream {@code h} ({@code batch·t} rows), in place: attention and MLP
     * sublayers with their norms and residual adds (for checks that compare a block at a time).
     */
    public void block(int layer, Matrix h, int t) {
        DecoderWeights.Layer l = weights.layers().get(layer);
        Kernels.addInPlace(h, ops.attention(layer, norm(h, l.attnNorm()), t));
        mlp(l, layer, h);
    }

    private void mlp(DecoderWeights.Layer l, int layer, Matrix h) {
        Matrix up = ops.mlpUp(layer, norm(h, l.mlpNorm()));
        Kernels.addInPlace(h, ops.mlpDown(layer, activate(up)));
    }

    /**
     * Token embeddings, plus the learned position embeddings when the model has them. Rows are copied in parallel:
     * a tied head's packed table gives a token's 768 values 128 bytes apart, and GPT-2 124M's 128-token prefill spent
     * 1.0–1.2 ms on them on one thread (0.65–0.75 ms on two).
     */
    public Matrix embed(int[] ids, int[] positions) {
        int d = config.hidden();
        for (int r = 0; r < ids.length; r++) {
            int id = ids[r], pos = positions[r];
            if (id < 0 || id >= config.vocab()) {
                throw new IllegalArgumentException("token id " + id + " is out of range [0, " + config.vocab() + ")");
            }
            if (pos < 0 || pos >= config.positions()) {
                throw new IllegalArgumentException("position " + pos + " is beyond the model's " + config.positions()
                        + " positions");
            }
        }
        Matrix h = new Matrix(ids.length, d);
        Matrix wpe = weights.positionEmbeddings();
        Parallel.forRange(ids.length, EMBED_GRAIN, (from, to) -> {
            for (int r = from; r < to; r++) {
                tokens.copy(ids[r], h.data, r * d);
                if (wpe != null) {
                    Kernels.axpy(1f, wpe.data, positions[r] * d, h.data, r * d, d);
                }
            }
        });
        return h;
    }

    /** Rows per parallel chunk of {@link #embed}: a handful of tokens is worth a hand-off. */
    private static final int EMBED_GRAIN = 4;

    /**
     * The MLP's nonlinearity on the first product: in place for a plain MLP; for a gated one a new
     * {@code rows × inner} matrix {@code silu(gate)·up} from the fused {@code [gate | up]} rows.
     */
    public Matrix activate(Matrix up) {
        int inner = config.inner();
        long t0 = Profile.start();
        if (!config.mlp().gated()) {
            // row by row: a vectorised kernel's tail must fall at the same place whatever the other rows
            Parallel.forRange(up.rows, 1, (from, to) -> {
                for (int r = from; r < to; r++) {
                    config.mlp().activation().applyInPlace(up.data, r * up.cols, (r + 1) * up.cols);
                }
            });
            Profile.stop(Profile.Kind.ACTIVATION, t0);
            return up;
        }
        Matrix gated = new Matrix(up.rows, inner);
        Parallel.forRange(up.rows, 1, (from, to) -> {
            for (int r = from; r < to; r++) {
                Kernels.siluGate(up.data, r * up.cols, up.data, r * up.cols + inner, gated.data, r * inner, inner);
            }
        });
        Profile.stop(Profile.Kind.ACTIVATION, t0);
        return gated;
    }

    /** The configured norm over each row, into a new matrix. */
    public Matrix norm(Matrix x, DecoderWeights.NormWeights w) {
        float eps = config.norm().eps();
        return switch (config.norm().kind()) {
            case LAYER_NORM -> Norms.layerNorm(x, w.gamma(), w.beta(), eps);
            case RMS_NORM -> Norms.rmsNorm(x, w.gamma(), eps);
        };
    }
}
