package org.privllm.trusted.gpt2;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.security.SecureRandom;
import java.util.Random;
import java.util.stream.IntStream;
import org.privllm.trusted.obf.MaskScope;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderWeights;
import org.privllm.model.Gpt2Adapter;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Weights;
import org.privllm.model.TransformerOps;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.mask.BlockDiagonalMask;
import org.privllm.trusted.mask.Mask;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.mask.PermutationMask;
import org.privllm.trusted.obf.ExecutorChannel;
import org.privllm.trusted.obf.ObfuscatedLinear;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.PlainLinear;
import org.privllm.trusted.obf.TrustedSession;

/**
 * GPT-2 with every linear layer, the attention core and the KV cache on an untrusted executor
 * (DESIGN §1, stages 2–4). Per layer the executor holds
 * <ul>
 *   <li>{@code c_attn} with input mask {@code N₁} and output mask {@code diag(N_Q¹..N_Q^H, N_K¹..N_K^H, N_V¹..N_V^H)},
 *       {@code N_K^h = (N_Q^h)⁻ᵀ} so scores come out exact, chained on the executor into
 *   <li>{@code c_proj} whose input mask is {@code diag(N_V)}: the executor never needs a trusted round trip
 *       between attention and the projection;
 *   <li>{@code c_fc} and the MLP {@code c_proj} with their own masks (GELU in between runs trusted);
 * </ul>
 * and the LM head {@code wteᵀ} whose vocabulary axis carries a secret permutation with positive
 * scaling, so logits reach the trusted side only masked. LayerNorm, the activation and the residual
 * adds stay in the trusted domain ({@link org.privllm.model.DecoderForward}).
 *
 * <p>This is the seed level ({@code --privacy seed}), for GPT-2 only so far: other families are refused in
 * one line ({@link #requireGpt2}).
 *
 * <p>The attention and head masks are always per session (the cache needs them stable; the head's
 * vocabulary mask is a permutation); the MLP layers follow the configured scope.
 */
public final class ObfuscatedGpt2 implements TransformerOps, AutoCloseable {
    private final DecoderConfig config;
    private final Executor executor;
    private final TrustedSession session;
    private final List<Block> blocks = new ArrayList<>();
    private final ObfuscatedLinear head;

    private record Block(ObfuscatedLinear cAttn, ObfuscatedLinear cProj, ObfuscatedLinear cFc, ObfuscatedLinear mlpProj,
                         List<Mask> queryMasks, List<Mask> keyMasks, List<Mask> valueMasks) {}

    /**
     * Obfuscates and uploads the model into a fresh executor session.
     *
     * @param adapters private LoRA adapters keyed {@code h.N.attn.c_attn}, {@code h.N.attn.c_proj},
     *                 {@code h.N.mlp.c_fc}, {@code h.N.mlp.c_proj} (empty for none)
     */
    public ObfuscatedGpt2(Gpt2Config config, Gpt2Weights weights, Executor executor, ObfuscationConfig obf,
                          Map<String, LowRankAdapter> adapters) {
        this(Gpt2Adapter.config(config, weights), Gpt2Adapter.weights(weights), executor, obf, adapters);
    }

    /**
     * Obfuscates and uploads a GPT-2 {@link DecoderConfig} instance into a fresh executor session.
     *
     * @param adapters private LoRA adapters keyed by {@link DecoderWeights.Linear#key} (empty for none)
     * @throws IllegalArgumentException for any other family (the seed level is GPT-2's so far)
     */
    public ObfuscatedGpt2(DecoderConfig config, DecoderWeights weights, Executor executor, ObfuscationConfig obf,
                          Map<String, LowRankAdapter> adapters) {
        requireGpt2(config);
        this.config = config;
        this.executor = executor;
        this.session = new TrustedSession(new ExecutorChannel(executor), obf);
        Random rnd = obf.random();
        MaskFamily family = obf.family();
        boolean perSession = obf.scope() == MaskScope.PER_SESSION;
        // Sampling is the O(d³) part of a session's set-up (a QR per dense mask): layers draw in parallel,
        // each from its own generator (seeded configs stay reproducible: the per-layer seeds come in order).
        List<Random> layerRandom = new ArrayList<>();
        for (int i = 0; i < config.layers(); i++) {
            layerRandom.add(rnd instanceof SecureRandom ? new SecureRandom() : new Random(rnd.nextLong()));
        }
        List<LayerMasks> masks = IntStream.range(0, config.layers()).parallel()
                .mapToObj(i -> LayerMasks.sample(config, family, perSession, layerRandom.get(i))).toList();
        for (int i = 0; i < config.layers(); i++) {
            DecoderWeights.Layer l = weights.layers().get(i);
            LayerMasks m = masks.get(i);
            List<Mask> qkv = new ArrayList<>(m.q());
            qkv.addAll(m.k());
            qkv.addAll(m.v());
            ObfuscatedLinear cAttn = session.register(linear(l, DecoderWeights.Linear.QKV, i, adapters),
                    m.attnIn(), new BlockDiagonalMask(qkv));
            ObfuscatedLinear cProj = session.register(linear(l, DecoderWeights.Linear.OUT, i, adapters),
                    new BlockDiagonalMask(m.v()), m.attnOut());
            PlainLinear fc = linear(l, DecoderWeights.Linear.UP, i, adapters);
            PlainLinear proj = linear(l, DecoderWeights.Linear.DOWN, i, adapters);
            blocks.add(new Block(cAttn, cProj,
                    perSession ? session.register(fc, m.fcIn(), m.fcOut()) : session.register(fc),
                    perSession ? session.register(proj, m.projIn(), m.projOut()) : session.register(proj),
                    m.q(), m.k(), m.v()));
        }
        PlainLinear headLinear = PlainLinear.of(weights.head().transpose(), null);
        // The head is per session in both scopes: a fresh dense mask over the vocabulary axis per call would
        // cost O(V²); the permutation with scaling is what keeps logits hidden at O(V).
        head = session.register(headLinear, family.sample(config.hidden(), rnd), vocabularyMask(config.vocab(), rnd));
    }

    /**
     * Refuses (one line) a model the seed level does not run yet: any family but GPT-2 (RoPE, grouped
     * key/value heads, q/k norms and a gated MLP need their own masking, phase 2b).
     */
    public static void requireGpt2(DecoderConfig c) {
        if (c.architecture() != Architecture.GPT2) {
            throw new IllegalArgumentException("--privacy seed is not yet on " + c.architecture().modelType()
                    + ": use --privacy strong or two-party");
        }
    }

    /**
     * One layer's secret masks: per head {@code N_Q}, {@code N_K = N_Q⁻ᵀ}, {@code N_V}; the attention
     * sublayer's input and output masks; and (per-session scope) the MLP's four masks.
     */
    private record LayerMasks(List<Mask> q, List<Mask> k, List<Mask> v, Mask attnIn, Mask attnOut,
                              Mask fcIn, Mask fcOut, Mask projIn, Mask projOut) {
        static LayerMasks sample(DecoderConfig c, MaskFamily family, boolean mlp, Random rnd) {
            List<Mask> q = new ArrayList<>(), k = new ArrayList<>(), v = new ArrayList<>();
            for (int h = 0; h < c.heads(); h++) {
                Mask nq = family.sample(c.headDim(), rnd);
                q.add(nq);
                k.add(nq.transposeInverse()); // N_Q·N_Kᵀ = I: scores are invariant
                v.add(family.sample(c.headDim(), rnd));
            }
            int d = c.hidden();
            return new LayerMasks(List.copyOf(q), List.copyOf(k), List.copyOf(v), family.sample(d, rnd),
                    family.sample(d, rnd), mlp ? family.sample(d, rnd) : null, mlp ? family.sample(c.inner(), rnd) : null,
                    mlp ? family.sample(c.inner(), rnd) : null, mlp ? family.sample(d, rnd) : null);
        }
    }

    /** The vocabulary axis always gets a permutation with positive scaling: O(V) to undo, order-free for the executor. */
    private static Mask vocabularyMask(int vocab, Random rnd) {
        return PermutationMask.random(vocab, 0.5, 2.0, rnd);
    }

    private static PlainLinear linear(DecoderWeights.Layer l, DecoderWeights.Linear k, int layer,
                                      Map<String, LowRankAdapter> adapters) {
        PlainLinear p = PlainLinear.of(k.weight(l), k.bias(l));
        LowRankAdapter lora = adapters.get(k.key(layer));
        return lora == null ? p : p.withLora(lora);
    }

    public TrustedSession session() {
        return session;
    }

    /*
     * Read-only handles for verification in the trusted domain (lab.verify, the attention experiment):
     * they expose secret masks and must never leave the trusted process, be logged or be reported.
     */

    /** The executor this model runs on (for verification in the trusted domain). */
    public Executor executor() {
        return executor;
    }

    /** The fused {@code c_attn} of {@code layer} (for verification in the trusted domain). */
    public ObfuscatedLinear cAttn(int layer) {
        return blocks.get(layer).cAttn();
    }

    /** The attention {@code c_proj} of {@code layer}, input mask {@code diag(N_V)} (for verification in the trusted domain). */
    public ObfuscatedLinear cProj(int layer) {
        return blocks.get(layer).cProj();
    }

    /** The MLP {@code c_fc} of {@code layer}; unbound in per-call scope (for verification in the trusted domain). */
    public ObfuscatedLinear cFc(int layer) {
        return blocks.get(layer).cFc();
    }

    /** The MLP {@code c_proj} of {@code layer}; unbound in per-call scope (for verification in the trusted domain). */
    public ObfuscatedLinear mlpProj(int layer) {
        return blocks.get(layer).mlpProj();
    }

    /** The LM head with its vocabulary mask (for verification in the trusted domain). */
    public ObfuscatedLinear head() {
        return head;
    }

    /** Per-head {@code N_Q^h} of {@code layer} (for verification in the trusted domain). */
    public List<Mask> queryMasks(int layer) {
        return blocks.get(layer).queryMasks();
    }

    /** Per-head {@code N_K^h = (N_Q^h)⁻ᵀ} of {@code layer} (for verification in the trusted domain). */
    public List<Mask> keyMasks(int layer) {
        return blocks.get(layer).keyMasks();
    }

    /** Per-head {@code N_V^h} of {@code layer} (for verification in the trusted domain). */
    public List<Mask> valueMasks(int layer) {
        return blocks.get(layer).valueMasks();
    }

    @Override
    public void startCache(int[] leftPad, int capacity) {
        executor.startCache(session.executorSession(), config.layers(), capacity, config.kvWidth(), leftPad);
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        Block b = blocks.get(layer);
        TrustedSession.WireInput in = session.maskInput(b.cAttn(), x);
        Matrix y = executor.attention(session.executorSession(), new AttentionCall(layer, b.cAttn().weightId(),
                b.cProj().weightId(), in.x(), in.compensation(), t, config.heads(), config.attentionScale(layer)));
        return b.cProj().maskOut().applyInverse(y);
    }

    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        return session.forward(blocks.get(layer).cFc(), x);
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        return session.forward(blocks.get(layer).mlpProj(), x);
    }

    @Override
    public void advance(int t) {
        executor.advanceCache(session.executorSession(), t);
    }

    @Override
    public Matrix lmHead(Matrix h) {
        return session.forward(head, h);
    }

    @Override
    public void close() {
        session.close();
    }
}
