package org.privllm.lab.verify;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.privllm.model.Gpt2Weights;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.obf.PlainLinear;

/**
 * The plaintext reference for a model with private LoRA adapters: {@code W' = W + scale·A·B} merged into
 * a copy of the weights, so the plaintext engine computes what the obfuscated pipeline computes unmerged.
 * Trusted-domain only (the merged weights reveal the adapter).
 */
public final class LoraMerge {
    private LoraMerge() {}

    /** Weights with every adapter in {@code adapters} (keyed {@code h.N.attn.c_attn} etc.) merged. */
    public static Gpt2Weights merge(Gpt2Weights w, Map<String, LowRankAdapter> adapters) {
        if (adapters.isEmpty()) {
            return w;
        }
        List<Gpt2Weights.Layer> layers = new ArrayList<>();
        for (int i = 0; i < w.layers().size(); i++) {
            Gpt2Weights.Layer l = w.layers().get(i);
            String p = "h." + i + ".";
            layers.add(new Gpt2Weights.Layer(l.ln1Gamma(), l.ln1Beta(),
                    merged(l.cAttn(), adapters.get(p + "attn.c_attn")), l.cAttnBias(),
                    merged(l.cProj(), adapters.get(p + "attn.c_proj")), l.cProjBias(), l.ln2Gamma(), l.ln2Beta(),
                    merged(l.cFc(), adapters.get(p + "mlp.c_fc")), l.cFcBias(),
                    merged(l.mlpProj(), adapters.get(p + "mlp.c_proj")), l.mlpProjBias()));
        }
        return new Gpt2Weights(w.wte(), w.wpe(), layers, w.lnFGamma(), w.lnFBeta(), w.lmHead());
    }

    private static Matrix merged(Matrix weight, LowRankAdapter a) {
        if (a == null) {
            return weight;
        }
        DMatrixRMaj delta = Dense.scale(a.scale(), Dense.mul(a.a(), a.b()));
        return Dense.toFloat(Dense.add(Dense.of(weight), delta));
    }

    /** The plaintext layer named like an adapter key ({@code h.N.attn.c_attn}, {@code h.N.mlp.c_fc}, ...). */
    public static PlainLinear linear(Gpt2Weights w, String key) {
        String[] parts = key.split("\\.", 3);
        if (parts.length != 3 || !parts[0].equals("h")) {
            throw new IllegalArgumentException("not a GPT-2 module key: " + key);
        }
        Gpt2Weights.Layer l = w.layers().get(Integer.parseInt(parts[1]));
        return switch (parts[2]) {
            case "attn.c_attn" -> PlainLinear.of(l.cAttn(), l.cAttnBias());
            case "attn.c_proj" -> PlainLinear.of(l.cProj(), l.cProjBias());
            case "mlp.c_fc" -> PlainLinear.of(l.cFc(), l.cFcBias());
            case "mlp.c_proj" -> PlainLinear.of(l.mlpProj(), l.mlpProjBias());
            default -> throw new IllegalArgumentException("not a GPT-2 module key: " + key);
        };
    }
}
