package org.privllm.trusted.privacy;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.privllm.model.AttentionCore;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderWeights;
import org.privllm.model.RaggedBatch;
import org.privllm.model.SequenceCache;
import org.privllm.model.TransformerOps;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.trusted.lora.LowRankAdapter;

/**
 * Any decoder ({@link DecoderConfig}: GPT-2, the Llama family) with the attention core and the KV cache in
 * the trusted domain — an {@link AttentionCore}: q/k norms, RoPE, scores, softmax, {@code P·V}, grouped
 * key/value heads — and every linear layer — the fused q/k/v, the output projection, the fused
 * {@code [gate | up]} (or up), down, the LM head — placed by a {@link LinearPlacement}: blinded on untrusted
 * executors (the strong and two-party levels), or in plaintext on one (the TSLP baseline). Nothing an
 * executor computes is a function of {@code Q·Kᵀ} in plaintext score space: it only ever multiplies
 * (blinded) rows by public weights.
 *
 * <p>Trusted cost per token and layer beyond the plaintext engine's nonlinear work: the attention core,
 * O(t·H·hd) FLOPs for a context of t, and a cache of {@code 2·t·KV·hd} floats. {@link #trustedWork()} counts
 * every trusted FLOP from the shapes of the calls; {@link #plaintextWork()} counts what the plaintext
 * engine does for the same calls, for {@code bench}'s ratio.
 *
 * <p>Blinded placements scale each layer's pads to its input RMS on fixed public calibration text (a
 * 16-token run of this model in the trusted domain at construction), never to the user's rows: a pad
 * scaled to its row would reveal the row's norm.
 */
public final class TrustedAttentionDecoder implements TransformerOps, AutoCloseable {
    /** Length of the calibration run. */
    static final int CALIBRATION_TOKENS = 16;

    private final DecoderConfig config;
    private final AttentionCore core;
    private final PlacedLinear[][] layers;
    private final String normKind, activationKind;
    private PlacedLinear head;
    private LinearPlacement placement;
    private final TrustedWork trusted;
    private final TrustedWork plaintext = new TrustedWork();
    private KvCache cache;

    /**
     * @param adapters  private LoRA adapters on the fused linears, keyed by {@link DecoderWeights.Linear#key}
     *                  ({@code h.N.attn.c_attn}, {@code h.N.attn.c_proj}, {@code h.N.mlp.c_fc},
     *                  {@code h.N.mlp.c_proj}; empty for none); they stay trusted
     * @param placement where the linear products run (closed with this model)
     * @param trusted   where trusted FLOPs are counted (the placement's blinding work goes there too)
     */
    public TrustedAttentionDecoder(DecoderConfig config, DecoderWeights weights, Map<String, LowRankAdapter> adapters,
                                   LinearPlacement placement, TrustedWork trusted) {
        this.config = config;
        this.core = new AttentionCore(config, weights);
        this.trusted = trusted;
        this.normKind = config.norm().kind() == DecoderConfig.Norm.Kind.RMS_NORM ? "rms_norm" : "layer_norm";
        this.activationKind = config.mlp().gated() ? "silu_gating" : "activation";
        this.layers = new PlacedLinear[config.layers()][];
        for (int i = 0; i < config.layers(); i++) {
            DecoderWeights.Layer l = weights.layers().get(i);
            DecoderWeights.Linear[] kinds = DecoderWeights.Linear.values();
            layers[i] = new PlacedLinear[kinds.length];
            for (DecoderWeights.Linear k : kinds) {
                layers[i][k.ordinal()] = local(k.key(i), PackedWeight.pack(k.weight(l)), k.bias(l), adapters);
            }
        }
        head = local("lm_head", PackedWeight.packTransposed(weights.head()), null, adapters);
        Map<String, Double> rms = placement.calibrated() ? calibrate(weights) : Map.of();
        try {
            for (PlacedLinear[] l : layers) {
                for (int k = 0; k < l.length; k++) {
                    l[k] = placement.bind(l[k], rms.getOrDefault(l[k].name(), 0.0));
                }
            }
            head = placement.bind(head, rms.getOrDefault(head.name(), 0.0));
        } catch (RuntimeException e) {
            placement.close();
            throw e;
        }
        this.placement = placement;
        trusted.reset();
        plaintext.reset();
    }

    private static PlacedLinear local(String name, PackedWeight w, float[] bias, Map<String, LowRankAdapter> adapters) {
        return PlacedLinear.of(name, w, bias, adapters.get(name));
    }

    /** The blinded levels on their executors (one for strong, two for two-party), pads from {@code blinding}. */
    public static TrustedAttentionDecoder blinded(DecoderConfig config, DecoderWeights weights,
                                                  Map<String, LowRankAdapter> adapters,
                                                  List<org.privllm.protocol.Executor> parties, BlindingConfig blinding) {
        TrustedWork work = new TrustedWork();
        return new TrustedAttentionDecoder(config, weights, adapters, new BlindedSession(parties, blinding, work), work);
    }

    /** The TSLP baseline: linear layers in plaintext on {@code executor}. */
    public static TrustedAttentionDecoder plaintextLinears(DecoderConfig config, DecoderWeights weights,
                                                           org.privllm.protocol.Executor executor) {
        return new TrustedAttentionDecoder(config, weights, Map.of(), new PlaintextPlacement(executor), new TrustedWork());
    }

    /**
     * Each layer's largest input-row RMS on a fixed public token sequence, computed by this very forward
     * pass with the linear products done locally on the public weights alone: a private adapter takes no part,
     * since the executors see the pad scale (a row's size) and it must not depend on anything private.
     */
    private Map<String, Double> calibrate(DecoderWeights weights) {
        Map<String, Double> rms = new HashMap<>();
        placement = new LinearPlacement() {
            @Override
            public PlacedLinear bind(PlacedLinear local, double inputRms) {
                return local;
            }

            @Override
            public Matrix forward(PlacedLinear layer, Matrix x) {
                for (int r = 0; r < x.rows; r++) {
                    double s = 0;
                    for (int c = 0; c < x.cols; c++) {
                        double v = x.data[r * x.cols + c];
                        s += v * v;
                    }
                    rms.merge(layer.name(), Math.sqrt(s / x.cols), Math::max);
                }
                return layer.base(x);
            }
        };
        int[] ids = calibrationIds(config.vocab(), Math.min(CALIBRATION_TOKENS, config.positions()));
        int[] pos = new int[ids.length];
        for (int i = 0; i < pos.length; i++) {
            pos[i] = i;
        }
        startCache(new int[] {0}, ids.length);
        lmHead(new DecoderForward(config, weights, this).step(ids, pos, ids.length));
        cache = null;
        return rms;
    }

    /** A fixed, public token sequence spread over the vocabulary (no user data). */
    static int[] calibrationIds(int vocab, int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = (int) Long.remainderUnsigned((i + 1) * 0x9E3779B97F4A7C15L, vocab);
        }
        return ids;
    }

    public DecoderConfig config() {
        return config;
    }

    /** FLOPs the trusted domain performed (attention core, nonlinear work, blinding, pad products, adapters). */
    public TrustedWork trustedWork() {
        return trusted;
    }

    /** FLOPs the plaintext engine performs for the same calls. */
    public TrustedWork plaintextWork() {
        return plaintext;
    }

    /** The trusted KV cache (plaintext keys and values; null before the first generation). */
    public KvCache cache() {
        return cache;
    }

    /** Where the linear products run. */
    public LinearPlacement placement() {
        return placement;
    }

    /** The model's linear layers in order (q/k/v, output, up, down per layer, then the head): for verification. */
    public List<PlacedLinear> linears() {
        List<PlacedLinear> all = new java.util.ArrayList<>();
        for (PlacedLinear[] l : layers) {
            all.addAll(List.of(l));
        }
        all.add(head);
        return all;
    }

    /** The placed {@code linear} of {@code layer} (for verification in the trusted domain). */
    public PlacedLinear linear(int layer, DecoderWeights.Linear linear) {
        return layers[layer][linear.ordinal()];
    }

    /**
     * Trusted attention-core FLOPs per new token of one layer at a context of {@code context} keys: {@code Q·Kᵀ}
     * and {@code P·V} over every query head ({@code 4·ctx·H·hd}) and the softmax ({@code 5·ctx·H}).
     */
    public static long attentionCoreFlops(DecoderConfig c, long context) {
        return 4L * context * c.qWidth() + 5L * context * c.heads();
    }

    @Override
    public void startCache(int[] leftPad, int capacity) {
        cache = core.newCache(leftPad, capacity);
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        if (cache == null) {
            throw new IllegalStateException("attention before startCache");
        }
        nonlinear(normKind, TrustedWork.PER_NORM * x.rows * x.cols);
        nonlinear("residual", (long) x.rows * x.cols);
        Matrix qkv = linear(layers[layer][0], x);
        long past = cache.length();
        long rotated = (long) x.rows * (config.heads() + config.kvHeads()) * config.headDim();
        if (config.qkNorm()) {
            nonlinear("qk_norm", TrustedWork.PER_NORM * rotated);
        }
        if (config.positionEncoding() instanceof DecoderConfig.Rotary) {
            nonlinear("rope", TrustedWork.PER_ROPE * rotated);
        }
        Matrix attended = core.attend(cache, layer, qkv, t);
        // Q·Kᵀ and P·V over the keys so far, plus the softmax: all trusted
        nonlinear("attention_core", x.rows * attentionCoreFlops(config, past + t));
        return linear(layers[layer][1], attended);
    }

    /** Ragged steps run here: the attention core and every sequence's cache are trusted. */
    @Override
    public boolean ragged() {
        return true;
    }

    /** A trusted cache for one sequence (it never leaves the trusted domain). */
    @Override
    public SequenceCache openSequence(int capacity) {
        return core.openSequence(capacity);
    }

    /**
     * The ragged attention sublayer: the q/k/v product and the output product each one placed call over the rows
     * of every sequence of the step (rows of different users share a call: each row gets its own fresh pad or
     * share), the attention core per sequence over its own trusted cache.
     */
    @Override
    public Matrix attention(int layer, Matrix x, RaggedBatch batch) {
        nonlinear(normKind, TrustedWork.PER_NORM * x.rows * x.cols);
        nonlinear("residual", (long) x.rows * x.cols);
        Matrix qkv = linear(layers[layer][0], x);
        long rotated = (long) x.rows * (config.heads() + config.kvHeads()) * config.headDim();
        if (config.qkNorm()) {
            nonlinear("qk_norm", TrustedWork.PER_NORM * rotated);
        }
        if (config.positionEncoding() instanceof DecoderConfig.Rotary) {
            nonlinear("rope", TrustedWork.PER_ROPE * rotated);
        }
        long core = 0;
        for (int i = 0; i < batch.size(); i++) {
            long context = batch.sequences().get(i).length() + batch.count(i);
            core += batch.count(i) * attentionCoreFlops(config, context);
        }
        Matrix attended = this.core.attend(batch, layer, qkv);
        nonlinear("attention_core", core);
        return linear(layers[layer][1], attended);
    }

    @Override
    public void advance(RaggedBatch batch) {
        long rows = batch.rows();
        nonlinear("embedding", rows * config.hidden());
        nonlinear(normKind, TrustedWork.PER_NORM * rows * config.hidden());
        AttentionCore.advance(batch);
    }

    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        nonlinear(normKind, TrustedWork.PER_NORM * x.rows * x.cols);
        return linear(layers[layer][2], x);
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        nonlinear(activationKind, TrustedWork.PER_GELU * x.rows * x.cols);
        nonlinear("residual", (long) x.rows * config.hidden());
        return linear(layers[layer][3], x);
    }

    @Override
    public void advance(int t) {
        long rows = (long) cache.batch() * t;
        nonlinear("embedding", rows * config.hidden());
        nonlinear(normKind, TrustedWork.PER_NORM * rows * config.hidden());
        cache.advance(t);
    }

    @Override
    public Matrix lmHead(Matrix h) {
        nonlinear("sampling", (long) h.rows * config.vocab());
        return linear(head, h);
    }

    private Matrix linear(PlacedLinear l, Matrix x) {
        plaintext.add("linear", 2L * x.rows * l.inDim() * l.outDim() + (l.bias() == null ? 0 : (long) x.rows * l.outDim()));
        if (l.loraA() != null) {
            plaintext.add("adapter", 2L * x.rows * l.rank() * (l.inDim() + l.outDim()));
        }
        return placement.forward(l, x);
    }

    /** Work both sides do alike (it stays trusted at every level). */
    private void nonlinear(String kind, long flops) {
        trusted.add(kind, flops);
        plaintext.add(kind, flops);
    }

    @Override
    public void close() {
        placement.close();
    }
}
