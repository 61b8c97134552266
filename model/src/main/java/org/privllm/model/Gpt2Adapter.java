package org.privllm.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.privllm.model.DecoderWeights.Linear;
import org.privllm.model.DecoderWeights.NormWeights;
import org.privllm.tensor.Matrix;

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

    /**
     * GPT-2's config as a decoder config for the checkpoint in {@code dir}, read without its weights: the LM head
     * tied unless the checkpoint has an {@code lm_head.weight} whose values differ from {@code wte}'s.
     */
    public static DecoderConfig config(Gpt2Config c, Path dir) {
        try (SafeTensorShards s = SafeTensorShards.open(dir)) {
            return config(c, !s.has("lm_head.weight") || s.sameValues("lm_head.weight", resolve(s, "wte.weight")));
        }
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

    /** The inverse of {@link #weights(Gpt2Weights)}: a GPT-2 model's decoder weights under GPT-2's names (shared). */
    static Gpt2Weights gpt2Weights(DecoderWeights w) {
        List<Gpt2Weights.Layer> layers = w.layers().stream().map(l -> new Gpt2Weights.Layer(
                l.attnNorm().gamma(), l.attnNorm().beta(), l.qkv(), l.qkvBias(), l.out(), l.outBias(),
                l.mlpNorm().gamma(), l.mlpNorm().beta(), l.up(), l.upBias(), l.down(), l.downBias())).toList();
        return new Gpt2Weights(w.embeddings(), w.positionEmbeddings(), layers, w.finalNorm().gamma(), w.finalNorm().beta(),
                w.lmHead());
    }

    public static DecoderModel model(Gpt2Model m) {
        return new DecoderModel(m.dir(), config(m.config(), m.weights()), weights(m.weights()));
    }

    /**
     * The weights of the GPT-2 checkpoint in {@code dir} (config {@code c}), tensor names with or without the
     * {@code transformer.} prefix: GPT-2's module names are {@link Linear#key}'s.
     */
    static WeightReader reader(Path dir, DecoderConfig c) {
        return new CheckpointReader(dir) {
            @Override
            protected DecoderWeights readWithoutLinears() {
                int d = c.hidden();
                List<DecoderWeights.Layer> layers = new ArrayList<>();
                for (int i = 0; i < c.layers(); i++) {
                    String p = "h." + i + ".";
                    layers.add(new DecoderWeights.Layer(norm(p + "ln_1"), null, bias(i, Linear.QKV), null, null, null,
                            bias(i, Linear.OUT), norm(p + "ln_2"), null, bias(i, Linear.UP), null, bias(i, Linear.DOWN)));
                }
                return new DecoderWeights(matrix("wte.weight", c.vocab(), d), matrix("wpe.weight", c.positions(), d),
                        List.copyOf(layers), norm("ln_f"), null);
            }

            @Override
            public Matrix linear(int layer, Linear linear) {
                return matrix(linear.key(layer) + ".weight", linear.in(c), linear.out(c));
            }

            @Override
            public Matrix lmHead() {
                return c.tiedHead() ? null : tensors.matrix("lm_head.weight", c.vocab(), c.hidden());
            }

            private float[] bias(int layer, Linear linear) {
                return matrix(linear.key(layer) + ".bias", 1, linear.out(c)).data;
            }

            private NormWeights norm(String module) {
                return new NormWeights(matrix(module + ".weight", 1, c.hidden()).data,
                        matrix(module + ".bias", 1, c.hidden()).data);
            }

            private Matrix matrix(String name, int rows, int cols) {
                return tensors.matrix(resolve(tensors, name), rows, cols);
            }
        };
    }

    /** A GPT-2 tensor name as stored: with the {@code transformer.} prefix or without. */
    private static String resolve(SafeTensorShards s, String name) {
        if (s.has("transformer." + name)) {
            return "transformer." + name;
        }
        if (s.has(name)) {
            return name;
        }
        throw new ModelFormatException(s.dir() + ": checkpoint lacks tensor '" + name + "' (or 'transformer." + name + "')");
    }
}
