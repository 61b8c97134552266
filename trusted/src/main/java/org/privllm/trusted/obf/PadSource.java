package org.privllm.trusted.obf;

import java.util.Random;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.linalg.GaussianStream;

/** Where pads come from: computed online on the critical path, or drawn from a {@link PadPool}. */
public interface PadSource extends AutoCloseable {

    /** A fresh, unused pad for {@code rows} input rows of {@code layer} (its masks must be fixed). */
    Pad next(ObfuscatedLinear layer, int rows);

    @Override
    default void close() {}

    /**
     * Draws {@code T} with {@code N(0, std²)} entries and computes {@code C_T = (T·W')·N_out}: as costly as
     * the offloaded product itself, which is why a pool exists. Layers whose weights crossed as float32
     * get the compensation at that precision on the packed kernels (the float64 product made online pads
     * cost 3× the offloaded matmul); the exact channel keeps the float64 algebra.
     */
    static Pad compute(ObfuscatedLinear layer, int rows, double std, GaussianStream noise) {
        Matrix t = noise.gaussian(rows, layer.inDim(), std);
        if (layer.bound() && layer.wirePrecision()) {
            return Pad.wire(layer, t, layer.maskOut().apply(Kernels.matmul(t, layer.effectiveWeightPacked(), null)));
        }
        return Pad.exact(layer, t, layer.maskOut().apply(layer.plain().timesEffectiveWeight(Dense.of(t))));
    }

    /** Pads computed on demand (the reference prototype's behaviour), keyed from {@code seedSource}. */
    static PadSource online(double std, Random seedSource) {
        GaussianStream noise = new GaussianStream(seedSource);
        return (layer, rows) -> compute(layer, rows, std, noise);
    }
}
