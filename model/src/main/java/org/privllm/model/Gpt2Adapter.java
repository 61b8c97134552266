package org.privllm.model;

import java.util.List;
import org.privllm.model.DecoderWeights.NormWeights;

/**
 * GPT-2 as a {@link DecoderConfig} instance: LayerNorm, learned positions, a plain MLP with GPT-2's
 * activation, biases everywhere, one key/value head per query head. The weights are shared, not
 * copied (GPT-2's Conv1D weights are already {@code in×out} and its {@code c_attn} already fused).
 */
public final class Gpt2Adapter {
    private Gpt2Adapter() {}

    /** GPT-2's config as a decoder config, the LM head tied unless {@code w} has its own. */
    public static DecoderConfig config(Gpt2Config c, Gpt2Weights w) {
        return config(c, w.lmHead() == null);
    }

    /** GPT-2's config as a decoder config with a tied LM head (for shape-only uses: costs, counts). */
    public static DecoderConfig config(Gpt2Config c) {
        return config(c, true);
    }

    private static DecoderConfig config(Gpt2Config c, boolean tied) {
        return new DecoderConfig(Architecture.GPT2, c.layers(), c.embd(), c.heads(), c.heads(), c.headDim(), c.inner(),
                c.vocab(), c.positions(), new DecoderConfig.Norm(DecoderConfig.Norm.Kind.LAYER_NORM, c.lnEpsilon()),
                new DecoderConfig.Learned(), new DecoderConfig.Mlp(c.activation(), false),
                new DecoderConfig.Biases(true, true, true), false,
                new DecoderConfig.ScoreScale(c.scaleAttnWeights(), c.scaleAttnByInverseLayerIdx()), tied,
                0, new DecoderConfig.SpecialTokens(c.eosTokenId(), List.of(c.eosTokenId())));
    }

    public static DecoderWeights weights(Gpt2Weights w) {
        List<DecoderWeights.Layer> layers = w.layers().stream().map(l -> new DecoderWeights.Layer(
                new NormWeights(l.ln1Gamma(), l.ln1Beta()), l.cAttn(), l.cAttnBias(), null, null, l.cProj(), l.cProjBias(),
                new NormWeights(l.ln2Gamma(), l.ln2Beta()), l.cFc(), l.cFcBias(), l.mlpProj(), l.mlpProjBias())).toList();
        return new DecoderWeights(w.wte(), w.wpe(), layers, new NormWeights(w.lnFGamma(), w.lnFBeta()), w.lmHead());
    }

    public static DecoderModel model(Gpt2Model m) {
        return new DecoderModel(m.dir(), config(m.config(), m.weights()), weights(m.weights()));
    }
}
