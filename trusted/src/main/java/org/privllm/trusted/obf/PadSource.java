package org.privllm.trusted.obf;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.privllm.trusted.linalg.Dense;

/** Where pads come from: computed online on the critical path, or drawn from a {@link PadPool}. */
public interface PadSource extends AutoCloseable {

    /** A fresh, unused pad for {@code rows} input rows of {@code layer} (its masks must be fixed). */
    Pad next(ObfuscatedLinear layer, int rows);

    @Override
    default void close() {}

    /**
     * Draws {@code T} with {@code N(0, std²)} entries and computes {@code C_T = (T·W')·N_out}: as costly as
     * the offloaded product itself, which is why a pool exists.
     */
    static Pad compute(ObfuscatedLinear layer, int rows, double std, Random rnd) {
        DMatrixRMaj t = Dense.gaussian(rows, layer.inDim(), std, rnd);
        if (layer.bound() && layer.wirePrecision()) {
            // Per-session layers cross the wire in float32: the compensation is computed at that precision
            // on the packed kernels (the float64 product made online pads cost 3x the offloaded matmul).
            org.privllm.tensor.Matrix c = layer.maskOut().apply(
                    org.privllm.tensor.Kernels.matmul(Dense.toFloat(t), layer.effectiveWeightPacked(), null));
            return new Pad(layer, t, Dense.of(c));
        }
        return new Pad(layer, t, layer.maskOut().apply(layer.plain().timesEffectiveWeight(t)));
    }

    /** Pads computed on demand (the reference prototype's behaviour). */
    static PadSource online(double std, Random rnd) {
        return (layer, rows) -> compute(layer, rows, std, rnd);
    }
}
