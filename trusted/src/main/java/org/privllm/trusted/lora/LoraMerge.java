package org.privllm.trusted.lora;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.privllm.model.Gpt2Weights;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;

/**
 * The plaintext reference with an adapter: {@code W' = W + (α/r)·A·B} merged in the trusted domain
 * (the executor never gets a merged weight; this is what obfuscated runs are checked against).
 */
public final class LoraMerge {
    private LoraMerge() {}

    public static Gpt2Weights merged(Gpt2Weights w, Map<String, LowRankAdapter> adapters) {
        if (adapters.isEmpty()) {
            return w;
        }
        List<Gpt2Weights.Layer> layers = new ArrayList<>();
        for (int i = 0; i < w.layers().size(); i++) {
            Gpt2Weights.Layer l = w.layers().get(i);
            String p = "h." + i + ".";
            layers.add(new Gpt2Weights.Layer(l.ln1Gamma(), l.ln1Beta(),
                    merge(l.cAttn(), adapters.get(p + "attn.c_attn")), l.cAttnBias(),
                    merge(l.cProj(), adapters.get(p + "attn.c_proj")), l.cProjBias(),
                    l.ln2Gamma(), l.ln2Beta(),
                    merge(l.cFc(), adapters.get(p + "mlp.c_fc")), l.cFcBias(),
                    merge(l.mlpProj(), adapters.get(p + "mlp.c_proj")), l.mlpProjBias()));
        }
        return new Gpt2Weights(w.wte(), w.wpe(), List.copyOf(layers), w.lnFGamma(), w.lnFBeta(), w.lmHead());
    }

    private static Matrix merge(Matrix w, LowRankAdapter a) {
        if (a == null) {
            return w;
        }
        return Dense.toFloat(Dense.add(Dense.of(w), Dense.scale(a.scale(), Dense.mul(a.a(), a.b()))));
    }
}
