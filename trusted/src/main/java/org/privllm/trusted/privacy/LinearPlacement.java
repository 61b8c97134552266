package org.privllm.trusted.privacy;

import org.privllm.tensor.Matrix;

/**
 * Where the linear layers of a model whose attention runs in the trusted domain ({@link TrustedAttentionDecoder})
 * are computed: blinded on untrusted executors ({@link BlindedSession}), in plaintext on one
 * ({@link PlaintextPlacement}, the TSLP baseline), or locally (the calibration run).
 */
public interface LinearPlacement extends AutoCloseable {

    /** Prepares a layer (uploads its weight); {@code inputRms} is its input's RMS on public calibration text. */
    PlacedLinear bind(PlacedLinear local, double inputRms);

    /** {@code X·W + b + s·(X·A)·B} for a bound layer. */
    Matrix forward(PlacedLinear layer, Matrix x);

    /** Whether {@link #bind} needs the calibrated input RMS (a calibration run precedes binding). */
    default boolean calibrated() {
        return false;
    }

    @Override
    default void close() {}
}
