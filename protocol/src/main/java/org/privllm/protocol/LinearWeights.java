package org.privllm.protocol;

import org.privllm.tensor.Matrix;

/**
 * An obfuscated linear layer as uploaded: {@code W̃ (in×out)}, optional {@code b̃ (out)}, and an
 * optional masked adapter pair {@code Ã (in×r)}, {@code B̃ (r×out)} with the scale folded into B̃.
 */
public record LinearWeights(Matrix weight, float[] bias, Matrix loraA, Matrix loraB) {
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

    public LinearWeights(Matrix weight, float[] bias) {
        this(weight, bias, null, null);
    }
}
