package org.privllm.trusted.lora;

import org.ejml.data.DMatrixRMaj;
import org.privllm.trusted.linalg.Dense;

/**
 * A private LoRA delta {@code scale·A·B} for one linear layer, in the row-vector convention of the
 * algebra: {@code A: in×r}, {@code B: r×out}, {@code scale = α/r} (peft's {@code scaling}). Never merged
 * into the base weight on the executor.
 */
public record LowRankAdapter(DMatrixRMaj a, DMatrixRMaj b, double scale) {
    public LowRankAdapter {
        if (a.numCols != b.numRows) {
            throw new IllegalArgumentException("adapter shapes " + Dense.shape(a) + " · " + Dense.shape(b));
        }
        if (!Double.isFinite(scale)) {
            throw new IllegalArgumentException("adapter scale must be finite");
        }
    }

    public int rank() {
        return a.numCols;
    }

    /** {@code scale·(X·A)·B}. */
    public DMatrixRMaj delta(DMatrixRMaj x) {
        return Dense.scale(scale, Dense.mul(Dense.mul(x, a), b));
    }

    @Override
    public String toString() {
        return "LowRankAdapter[" + Dense.shape(a) + " · " + Dense.shape(b) + "]";
    }
}
