package org.privllm.model;

import java.util.List;
import org.privllm.tensor.Matrix;

/**
 * A decoder's parameters in float32, laid out for the engine whatever the checkpoint format: every
 * linear weight is {@code in×out} (row vectors multiply on the right, as GPT-2's Conv1D), q/k/v are
 * fused into one {@code hidden × (heads + 2·kvHeads)·headDim} weight and a gated MLP's gate and up
 * into one {@code hidden × 2·inner} weight ({@code [gate | up]}), so each is one product. Absent
 * biases and norms are null.
 *
 * @param embeddings         token embeddings, {@code vocab × hidden}
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
                        float[] outBias, NormWeights mlpNorm, Matrix up, float[] upBias, Matrix down, float[] downBias) {}

    /** The LM head as {@code vocab × hidden}. */
    public Matrix head() {
        return lmHead == null ? embeddings : lmHead;
    }
}
