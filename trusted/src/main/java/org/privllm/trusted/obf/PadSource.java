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
        return new Pad(layer, t, layer.maskOut().apply(layer.plain().timesEffectiveWeight(t)));
    }

    /** Pads computed on demand (the reference prototype's behaviour). */
    static PadSource online(double std, Random rnd) {
        return (layer, rows) -> compute(layer, rows, std, rnd);
    }
}
