package org.privllm.trusted.obf;

import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.lora.LowRankAdapter;

/**
 * A linear layer as the trusted domain holds it in plaintext: {@code Y = X·W + b (+ scale·X·A·B)}.
 *
 * @param weight {@code W: in×out} (GPT-2 Conv1D layout)
 * @param bias   {@code b (out)}, or null
 * @param lora   private adapter, or null
 */
public record PlainLinear(DMatrixRMaj weight, double[] bias, LowRankAdapter lora) {
    public PlainLinear {
        if (bias != null && bias.length != weight.numCols) {
            throw new IllegalArgumentException("bias length " + bias.length + " != " + weight.numCols);
        }
        if (lora != null && (lora.a().numRows != weight.numRows || lora.b().numCols != weight.numCols)) {
            throw new IllegalArgumentException("adapter " + lora + " does not fit weight " + Dense.shape(weight));
        }
    }

    public static PlainLinear of(Matrix weight, float[] bias) {
        return new PlainLinear(Dense.of(weight), bias == null ? null : Dense.toDouble(bias), null);
    }

    public PlainLinear withLora(LowRankAdapter adapter) {
        return new PlainLinear(weight, bias, adapter);
    }

    public int inDim() {
        return weight.numRows;
    }

    public int outDim() {
        return weight.numCols;
    }

    /** {@code T·W'} with {@code W' = W + scale·A·B}, without the bias (the pad term of the compensation). */
    public DMatrixRMaj timesEffectiveWeight(DMatrixRMaj t) {
        DMatrixRMaj y = Dense.mul(t, weight);
        return lora == null ? y : Dense.add(y, lora.delta(t));
    }

    /** The plaintext reference {@code X·W + b (+ scale·X·A·B)}. */
    public DMatrixRMaj forward(DMatrixRMaj x) {
        DMatrixRMaj y = timesEffectiveWeight(x);
        if (bias != null) {
            Dense.addRowInPlace(y, bias);
        }
        return y;
    }

    @Override
    public String toString() {
        return "PlainLinear[" + Dense.shape(weight) + (bias != null ? ", bias" : "") + (lora != null ? ", lora r=" + lora.rank() : "") + "]";
    }
}
