package org.privllm.trusted.obf;

import org.ejml.data.DMatrixRMaj;

/** What goes to the executor for one call: {@code X̃} and, in pad mode, the compensation {@code C_T}. */
public record MaskedInput(DMatrixRMaj x, DMatrixRMaj compensation) {
    @Override
    public String toString() {
        return "MaskedInput[" + x.numRows + "x" + x.numCols + (compensation != null ? ", compensated" : "") + "]";
    }
}
