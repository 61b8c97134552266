package org.privllm.trusted.lora;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.privllm.model.DecoderWeights;
import org.privllm.model.WeightReader;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;

/**
 * The plaintext reference with an adapter: {@code W' = W + s·A·B} merged in the trusted domain into each
 * fused linear it adapts (the executor never gets a merged weight; this is what protected runs are checked
 * against). Works for every family: adapters are keyed by {@link DecoderWeights.Linear#key}.
 */
public final class LoraMerge {
    private LoraMerge() {}

    /** Every weight of {@code w}, the adapted linears merged (new matrices; the others shared). */
    public static DecoderWeights merged(DecoderWeights w, Map<String, LowRankAdapter> adapters) {
        if (adapters.isEmpty()) {
            return w;
        }
        return merging(WeightReader.of(w), adapters).readAll();
    }

    /**
     * {@code weights} with each adapted linear merged as it is read, so an engine that packs them a piece at a
     * time holds no merged float32 weight either. It reads from {@code weights}, which stays the caller's to close.
     */
    public static WeightReader merging(WeightReader weights, Map<String, LowRankAdapter> adapters) {
        if (adapters.isEmpty()) {
            return weights;
        }
        Set<String> keys = new HashSet<>();
        for (int i = 0; i < weights.withoutLinears().layers().size(); i++) {
            for (DecoderWeights.Linear k : DecoderWeights.Linear.values()) {
                keys.add(k.key(i));
            }
        }
        if (!keys.containsAll(adapters.keySet())) {
            throw new IllegalArgumentException("adapter keys " + adapters.keySet() + " name layers this model does not have");
        }
        return new WeightReader() {
            @Override
            public DecoderWeights withoutLinears() {
                return weights.withoutLinears();
            }

            @Override
            public Matrix linear(int layer, DecoderWeights.Linear linear) {
                LowRankAdapter a = adapters.get(linear.key(layer));
                Matrix w = weights.linear(layer, linear);
                return a == null ? w : merge(w, a);
            }

            @Override
            public Matrix lmHead() {
                return weights.lmHead();
            }

            @Override
            public void close() {} // the caller closes weights
        };
    }

    private static Matrix merge(Matrix w, LowRankAdapter a) {
        return Dense.toFloat(Dense.add(Dense.of(w), Dense.scale(a.scale(), Dense.mul(a.a(), a.b()))));
    }
}
