package org.privllm.trusted.lora;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.privllm.model.DecoderWeights;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;

/**
 * The plaintext reference with an adapter: {@code W' = W + s·A·B} merged in the trusted domain into each
 * fused linear it adapts (the executor never gets a merged weight; this is what protected runs are checked
 * against). Works for every family: adapters are keyed by {@link DecoderWeights.Linear#key}.
 */
public final class LoraMerge {
    private LoraMerge() {}

    public static DecoderWeights merged(DecoderWeights w, Map<String, LowRankAdapter> adapters) {
        if (adapters.isEmpty()) {
            return w;
        }
        List<DecoderWeights.Layer> layers = new ArrayList<>();
        int used = 0;
        for (int i = 0; i < w.layers().size(); i++) {
            DecoderWeights.Layer l = w.layers().get(i);
            for (DecoderWeights.Linear k : DecoderWeights.Linear.values()) {
                LowRankAdapter a = adapters.get(k.key(i));
                if (a != null) {
                    l = l.with(k, merge(k.weight(l), a));
                    used++;
                }
            }
            layers.add(l);
        }
        if (used != adapters.size()) {
            throw new IllegalArgumentException("adapter keys " + adapters.keySet() + " name layers this model does not have");
        }
        return new DecoderWeights(w.embeddings(), w.positionEmbeddings(), List.copyOf(layers), w.finalNorm(), w.lmHead());
    }

    private static Matrix merge(Matrix w, LowRankAdapter a) {
        return Dense.toFloat(Dense.add(Dense.of(w), Dense.scale(a.scale(), Dense.mul(a.a(), a.b()))));
    }
}
