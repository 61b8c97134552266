package org.privllm.model;

import java.util.List;
import org.privllm.tensor.Matrix;

/**
 * A decoder's parameters in float32, laid out for the engine whatever the checkpoint format: every
 * linear weight is {@code in×out} (row vectors multiply on the right, as GPT-2's Conv1D), q/k/v are
 * fused into one {@code hidden × (heads + 2·kvHeads)·headDim} weight and a gated MLP's gate and up
 * into one {@code hidden × 2·inner} weight ({@code [gate | up]}), so each is one product. Absent
 * biases and norms are null; so are every linear weight and the LM head in {@link #withoutLinears}, the part
 * an engine that packs the linear weights keeps.
 *
 * @param embeddings         token embeddings, {@code vocab × hidden} (null in the copy an engine keeps when it
 *                           looks them up elsewhere, e.g. in its packed tied LM head)
 * @param positionEmbeddings learned positions, {@code positions × hidden} (GPT-2), or null (rotary)
 * @param lmHead             the LM head as {@code vocab × hidden}, or null when tied to the embeddings
 */
public record DecoderWeights(Matrix embeddings, Matrix positionEmbeddings, List<Layer> layers, NormWeights finalNorm,
                             Matrix lmHead) {

    /** A norm's gain and, for LayerNorm, its bias (null for RMSNorm). */
    public record NormWeights(float[] gamma, float[] beta) {}

    /**
     * One block.
     *
     * @param qNorm per-head query RMSNorm gain ({@code headDim}), or null
     * @param kNorm per-head key RMSNorm gain ({@code headDim}), or null
     * @param out   attention output projection, {@code heads·headDim × hidden}
     * @param up    {@code hidden × inner}, or {@code hidden × 2·inner} as {@code [gate | up]} when gated
     * @param down  {@code inner × hidden}
     */
    public record Layer(NormWeights attnNorm, Matrix qkv, float[] qkvBias, float[] qNorm, float[] kNorm, Matrix out,
                        float[] outBias, NormWeights mlpNorm, Matrix up, float[] upBias, Matrix down, float[] downBias) {

        /** This layer with its norms and biases only: every linear weight null. */
        public Layer withoutLinears() {
            return new Layer(attnNorm, null, qkvBias, qNorm, kNorm, null, outBias, mlpNorm, null, upBias, null, downBias);
        }

        /** This layer with {@code linear}'s weight replaced (e.g. by a merged adapter). */
        public Layer with(Linear linear, Matrix w) {
            return new Layer(attnNorm, linear == Linear.QKV ? w : qkv, qkvBias, qNorm, kNorm, linear == Linear.OUT ? w : out,
                    outBias, mlpNorm, linear == Linear.UP ? w : up, upBias, linear == Linear.DOWN ? w : down, downBias);
        }
    }

    /**
     * The four linear layers of a block as the engine computes them, fused: q/k/v, the attention output, the
     * MLP's first product ({@code [gate | up]} when gated) and down. {@link #key} names them wherever a layer
     * is named (private adapters, placed layers, reports): GPT-2's module names, which are fused already
     * ({@code h.N.attn.c_attn}, {@code h.N.attn.c_proj}, {@code h.N.mlp.c_fc}, {@code h.N.mlp.c_proj}), for
     * every family.
     */
    public enum Linear {
        QKV("attn.c_attn"), OUT("attn.c_proj"), UP("mlp.c_fc"), DOWN("mlp.c_proj");

        private final String module;

        Linear(String module) {
            this.module = module;
        }

        /** {@code attn.c_attn}, {@code attn.c_proj}, {@code mlp.c_fc} or {@code mlp.c_proj}. */
        public String module() {
            return module;
        }

        /** The layer's name, e.g. {@code h.3.attn.c_attn}. */
        public String key(int layer) {
            return "h." + layer + "." + module;
        }

        /** The {@code in×out} weight of this linear in {@code l}. */
        public Matrix weight(Layer l) {
            return switch (this) {
                case QKV -> l.qkv();
                case OUT -> l.out();
                case UP -> l.up();
                case DOWN -> l.down();
            };
        }

        /** Its bias in {@code l}, or null. */
        public float[] bias(Layer l) {
            return switch (this) {
                case QKV -> l.qkvBias();
                case OUT -> l.outBias();
                case UP -> l.upBias();
                case DOWN -> l.downBias();
            };
        }

        /** Input width under {@code c}. */
        public int in(DecoderConfig c) {
            return switch (this) {
                case QKV, UP -> c.hidden();
                case OUT -> c.qWidth();
                case DOWN -> c.inner();
            };
        }

        /** Output width under {@code c}. */
        public int out(DecoderConfig c) {
            return switch (this) {
                case QKV -> c.qkvWidth();
                case OUT, DOWN -> c.hidden();
                case UP -> c.upWidth();
            };
        }
    }

    /** The LM head as {@code vocab × hidden}. */
    public Matrix head() {
        if (lmHead == null && !layers.isEmpty() && layers.get(0).qkv() == null) {
            // without its linears an untied model's head is gone too: the embeddings would be the wrong matrix
            throw new IllegalStateException("these weights are without their linear weights and LM head");
        }
        return lmHead == null ? embeddings : lmHead;
    }

    /**
     * These weights without the linear weights and the LM head (null in the copy): the embeddings, norms and
     * biases, which an engine that keeps its linear weights packed still needs.
     */
    public DecoderWeights withoutLinears() {
        return new DecoderWeights(embeddings, positionEmbeddings, layers.stream().map(Layer::withoutLinears).toList(),
                finalNorm, null);
    }
}
