package org.privllm.trusted.obf;

import org.ejml.data.DMatrixRMaj;

/**
 * An obfuscated layer ready for upload (float64; the channel rounds it for the wire):
 * {@code W̃ = N_in⁻¹·W·N_out}, {@code b̃ = b·N_out}, {@code Ã = N_in⁻¹·A·U}, {@code B̃ = U⁻¹·(α/r)·B·N_out}.
 */
public record MaskedWeights(DMatrixRMaj weight, double[] bias, DMatrixRMaj loraA, DMatrixRMaj loraB) {
    @Override
    public String toString() {
        return "MaskedWeights[" + weight.numRows + "x" + weight.numCols + "]";
    }
}
