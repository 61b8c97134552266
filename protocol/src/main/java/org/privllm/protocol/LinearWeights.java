package org.privllm.protocol;

import org.privllm.tensor.Matrix;

/**
 * An obfuscated linear layer as uploaded: {@code W̃ (in×out)}, optional {@code b̃ (out)}, and an
 * optional masked adapter pair {@code Ã (in×r)}, {@code B̃ (r×out)} with the scale folded into B̃.
 *
 * @param attentionInput the weight is the fused q/k/v product of {@link Executor#attention} calls. A hint
 *                       for trusted-side decorators only (it is not sent over the wire): an integrity
 *                       checker must not widen such a weight with check columns, since the executor splits its
 *                       product into heads
 */
public record LinearWeights(Matrix weight, float[] bias, Matrix loraA, Matrix loraB, boolean attentionInput) {
    public LinearWeights {
        if (bias != null && bias.length != weight.cols) {
            throw new IllegalArgumentException("bias length " + bias.length + " != " + weight.cols);
        }
        if ((loraA == null) != (loraB == null)) {
            throw new IllegalArgumentException("adapter needs both A and B");
        }
        if (loraA != null && (loraA.rows != weight.rows || loraB.cols != weight.cols || loraA.cols != loraB.rows)) {
            throw new IllegalArgumentException("adapter shapes " + loraA.shape() + ", " + loraB.shape()
                    + " do not fit weight " + weight.shape());
        }
    }

    public LinearWeights(Matrix weight, float[] bias, Matrix loraA, Matrix loraB) {
        this(weight, bias, loraA, loraB, false);
    }

    public LinearWeights(Matrix weight, float[] bias) {
        this(weight, bias, null, null, false);
    }

    /** The same weights marked as an attention call's fused q/k/v product. */
    public LinearWeights asAttentionInput() {
        return new LinearWeights(weight, bias, loraA, loraB, true);
    }
}
