package org.privllm.trusted.obf;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderWeights;
import org.privllm.model.Gpt2Adapter;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Weights;
import org.privllm.model.TransformerOps;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.Norms;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.mask.BlockDiagonalMask;
import org.privllm.trusted.mask.Mask;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.mask.PermutationMask;
import org.privllm.trusted.mask.RotaryMask;

/**
 * The seed level ({@code --privacy seed}, DESIGN §1) for any decoder — GPT-2 and the Llama family: every
 * linear layer, the attention core and the KV cache on one untrusted executor behind secret masks. Per
 * layer the executor holds
 * <ul>
 *   <li>the fused q/k/v with input mask {@code N₁} and output mask
 *       {@code diag(N_Q¹..N_Q^H, N_K¹..N_K^KV, N_V¹..N_V^KV)}: one key and one value mask per key/value head,
 *       and every query head of a group uses {@code N_Q = N_K⁻ᵀ} of its key/value head, so
 *       {@code Q̃·K̃ᵀ = Q·Kᵀ} for grouped-query attention too. With rotary positions the query and key masks
 *       are {@link RotaryMask}s (a scaled rotation on each rotary pair), which commute with RoPE: the executor
 *       rotates the masked queries and keys itself and {@code RoPE(Q̃)·RoPE(K̃)ᵀ = RoPE(Q)·RoPE(K)ᵀ} at every
 *       position. Value masks come from the configured family. Biases (Qwen2) are masked with the output:
 *       {@code b̃ = b·N_out};
 *   <li>the output projection, input mask {@code diag(N_V)} over the query heads (each head's value mask is its
 *       group's), so the executor chains attention → projection without a trusted round trip;
 *   <li>the MLP's first product ({@code [gate | up]} when gated: gate and up share the input mask, their outputs
 *       get a mask each) and down; the activation — GELU, or {@code silu(gate)·up} — runs trusted in between;
 * </ul>
 * and the LM head, whose vocabulary axis carries a secret permutation with positive scaling, so logits reach
 * the trusted side only masked. The norms (LayerNorm or RMSNorm with γ), the activation and the residual adds
 * stay trusted ({@link org.privllm.model.DecoderForward}).
 *
 * <p>Qwen3's per-head q/k RMSNorm is not linear in q and k and commutes with no mask that also carries its
 * per-coordinate gain through RoPE (a 2×2 block {@code R(−α)·diag(γ_i, γ_{i+d/2})·s·R(β)} handed to the executor
 * would reveal α and β by its singular vectors). So for a model with q/k norms the attention sublayer makes one
 * trusted round trip: the executor returns the masked q/k/v product (query and key heads under masks of the
 * configured family), the trusted side unmasks the query and key columns, normalises each head, masks them
 * again with the rotary masks above and sends {@code [Q̃ | K̃ | Ṽ]} to the attention call, which rotates,
 * caches and attends as for any other model. Ṽ never leaves its mask.
 *
 * <p>The attention and head masks are always per session (the cache needs them stable; the head's
 * vocabulary mask is a permutation); the MLP layers follow the configured scope. Positions are public: each
 * row's cache slot minus its sequence's left padding, sent with every rotary attention call.
 */
public final class ObfuscatedDecoder implements TransformerOps, AutoCloseable {
    private final DecoderConfig config;
    private final Executor executor;
    private final TrustedSession session;
    private final List<Block> blocks = new ArrayList<>();
    private final ObfuscatedLinear head;
    /** Rotary frequencies, or null (learned positions). */
    private final double[] ropeFrequencies;
    private int[] leftPad;
    private int length;

    private record Block(ObfuscatedLinear qkv, ObfuscatedLinear out, ObfuscatedLinear up, ObfuscatedLinear down,
                         HeadMasks masks, float[] qNorm, float[] kNorm) {}

    /**
     * One layer's head masks (trusted-domain secrets, for verification).
     *
     * @param query        {@code N_Q} per query head: {@code N_K⁻ᵀ} of its group's key/value head
     * @param key          {@code N_K} per key/value head
     * @param value        {@code N_V} per key/value head
     * @param queryProduct with q/k norms: the mask of each query head in the q/k/v product (unmasked trusted before
     *                     the norm); otherwise null
     * @param keyProduct   with q/k norms: the mask of each key head in the q/k/v product; otherwise null
     */
    public record HeadMasks(List<Mask> query, List<Mask> key, List<Mask> value, List<Mask> queryProduct,
                            List<Mask> keyProduct) {
        /** The q/k/v product's output mask: {@code diag(query or queryProduct, key or keyProduct, value)}. */
        BlockDiagonalMask product() {
            List<Mask> all = new ArrayList<>(queryProduct != null ? queryProduct : query);
            all.addAll(keyProduct != null ? keyProduct : key);
            all.addAll(value);
            return new BlockDiagonalMask(all);
        }

        /** The output projection's input mask: each query head's value mask is its group's. */
        BlockDiagonalMask projectionInput() {
            int group = query.size() / value.size();
            List<Mask> v = new ArrayList<>();
            for (int h = 0; h < query.size(); h++) {
                v.add(value.get(h / group));
            }
            return new BlockDiagonalMask(v);
        }
    }

    /**
     * Obfuscates and uploads a GPT-2 checkpoint into a fresh executor session.
     *
     * @param adapters private LoRA adapters keyed {@code h.N.attn.c_attn}, {@code h.N.attn.c_proj},
     *                 {@code h.N.mlp.c_fc}, {@code h.N.mlp.c_proj} (empty for none)
     */
    public ObfuscatedDecoder(Gpt2Config config, Gpt2Weights weights, Executor executor, ObfuscationConfig obf,
                             Map<String, LowRankAdapter> adapters) {
        this(Gpt2Adapter.config(config, weights), Gpt2Adapter.weights(weights), executor, obf, adapters);
    }

    /**
     * Obfuscates and uploads any decoder into a fresh executor session.
     *
     * @param adapters private LoRA adapters keyed by {@link DecoderWeights.Linear#key} (a Llama-family PEFT adapter
     *                 is mapped onto these fused keys by {@code LoraAdapter}); empty for none
     */
    public ObfuscatedDecoder(DecoderConfig config, DecoderWeights weights, Executor executor, ObfuscationConfig obf,
                             Map<String, LowRankAdapter> adapters) {
        this.config = config;
        this.executor = executor;
        this.ropeFrequencies = config.positionEncoding() instanceof DecoderConfig.Rotary r
                ? r.inverseFrequencies(config.headDim()) : null;
        // the session first: its pad streams are keyed from the same generator (seeded runs stay as they were)
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
        try {
            List<LayerMasks> masks = IntStream.range(0, config.layers()).parallel()
                    .mapToObj(i -> LayerMasks.sample(config, family, perSession, layerRandom.get(i))).toList();
            for (int i = 0; i < config.layers(); i++) {
                DecoderWeights.Layer l = weights.layers().get(i);
                LayerMasks m = masks.get(i);
                PlainLinear qkvPlain = linear(l, DecoderWeights.Linear.QKV, i, adapters);
                // With q/k norms the product goes through a linear call (a trusted round trip follows), otherwise it is
                // the attention call's own input product.
                ObfuscatedLinear qkv = config.qkNorm()
                        ? session.register(qkvPlain, m.attnIn(), m.heads().product())
                        : session.registerAttentionInput(qkvPlain, m.attnIn(), m.heads().product());
                ObfuscatedLinear out = session.register(linear(l, DecoderWeights.Linear.OUT, i, adapters),
                        m.heads().projectionInput(), m.attnOut());
                PlainLinear up = linear(l, DecoderWeights.Linear.UP, i, adapters);
                PlainLinear down = linear(l, DecoderWeights.Linear.DOWN, i, adapters);
                blocks.add(new Block(qkv, out,
                        perSession ? session.register(up, m.upIn(), m.upOut()) : session.register(up),
                        perSession ? session.register(down, m.downIn(), m.downOut()) : session.register(down),
                        m.heads(), l.qNorm(), l.kNorm()));
            }
            PlainLinear headLinear = PlainLinear.of(weights.head().transpose(), null);
            // The head is per session in both scopes: a fresh dense mask over the vocabulary axis per call would
            // cost O(V²); the permutation with scaling is what keeps logits hidden at O(V).
            head = session.register(headLinear, family.sample(config.hidden(), rnd), vocabularyMask(config.vocab(), rnd));
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
    }

    /**
     * One layer's secret masks: the head masks; the attention sublayer's input and output masks; and
     * (per-session scope) the MLP's four masks (a gated MLP's first output mask is {@code diag(N_gate, N_up)}).
     */
    private record LayerMasks(HeadMasks heads, Mask attnIn, Mask attnOut, Mask upIn, Mask upOut, Mask downIn,
                              Mask downOut) {
        static LayerMasks sample(DecoderConfig c, MaskFamily family, boolean mlp, Random rnd) {
            boolean rotary = c.positionEncoding() instanceof DecoderConfig.Rotary;
            int hd = c.headDim(), group = c.heads() / c.kvHeads();
            List<Mask> groupQ = new ArrayList<>(), k = new ArrayList<>(), v = new ArrayList<>();
            for (int g = 0; g < c.kvHeads(); g++) {
                Mask nq = rotary ? RotaryMask.sample(hd, family, rnd) : family.sample(hd, rnd);
                groupQ.add(nq);
                k.add(nq.transposeInverse()); // N_Q·N_Kᵀ = I: scores are invariant
                v.add(family.sample(hd, rnd));
            }
            List<Mask> q = new ArrayList<>();
            for (int h = 0; h < c.heads(); h++) {
                q.add(groupQ.get(h / group));
            }
            int d = c.hidden();
            Mask attnIn = family.sample(d, rnd), attnOut = family.sample(d, rnd);
            Mask upIn = mlp ? family.sample(d, rnd) : null, upOut = mlp ? family.sample(c.inner(), rnd) : null;
            Mask downIn = mlp ? family.sample(c.inner(), rnd) : null, downOut = mlp ? family.sample(d, rnd) : null;
            if (mlp && c.mlp().gated()) {
                upOut = new BlockDiagonalMask(List.of(upOut, family.sample(c.inner(), rnd)));
            }
            List<Mask> qProduct = null, kProduct = null;
            if (c.qkNorm()) {
                qProduct = new ArrayList<>();
                kProduct = new ArrayList<>();
                for (int h = 0; h < c.heads(); h++) {
                    qProduct.add(family.sample(hd, rnd));
                }
                for (int g = 0; g < c.kvHeads(); g++) {
                    kProduct.add(family.sample(hd, rnd));
                }
                qProduct = List.copyOf(qProduct);
                kProduct = List.copyOf(kProduct);
            }
            return new LayerMasks(new HeadMasks(List.copyOf(q), List.copyOf(k), List.copyOf(v), qProduct, kProduct),
                    attnIn, attnOut, upIn, upOut, downIn, downOut);
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

    public DecoderConfig config() {
        return config;
    }

    public TrustedSession session() {
        return session;
    }

    /*
     * Read-only handles for verification in the trusted domain (lab.verify, the experiments): they expose
     * secret masks and must never leave the trusted process, be logged or be reported.
     */

    /** The executor this model runs on. */
    public Executor executor() {
        return executor;
    }

    /** The fused q/k/v product of {@code layer} (GPT-2's c_attn). */
    public ObfuscatedLinear qkv(int layer) {
        return blocks.get(layer).qkv();
    }

    /** The attention output projection of {@code layer}, input mask {@code diag(N_V)} over the query heads. */
    public ObfuscatedLinear out(int layer) {
        return blocks.get(layer).out();
    }

    /** The MLP's first product of {@code layer} ({@code [gate | up]} when gated); unbound in per-call scope. */
    public ObfuscatedLinear up(int layer) {
        return blocks.get(layer).up();
    }

    /** The MLP's down product of {@code layer}; unbound in per-call scope. */
    public ObfuscatedLinear down(int layer) {
        return blocks.get(layer).down();
    }

    /** The LM head with its vocabulary mask. */
    public ObfuscatedLinear head() {
        return head;
    }

    /** The head masks of {@code layer}. */
    public HeadMasks headMasks(int layer) {
        return blocks.get(layer).masks();
    }

    /** Per query head {@code N_Q^h} of {@code layer} ({@code N_K⁻ᵀ} of its group's key/value head). */
    public List<Mask> queryMasks(int layer) {
        return headMasks(layer).query();
    }

    /** Per key/value head {@code N_K^g} of {@code layer}. */
    public List<Mask> keyMasks(int layer) {
        return headMasks(layer).key();
    }

    /** Per key/value head {@code N_V^g} of {@code layer}. */
    public List<Mask> valueMasks(int layer) {
        return headMasks(layer).value();
    }

    /**
     * The rows the executor's attention core receives for the q/k/v product {@code product} of {@code layer}
     * (as the executor returned it, masked): the product itself, or — with q/k norms — the trusted round trip:
     * query and key heads unmasked, RMS-normalised with their gains, masked again with {@code N_Q}, {@code N_K}.
     */
    public Matrix attentionRows(int layer, Matrix product) {
        Block b = blocks.get(layer);
        if (!config.qkNorm()) {
            return product;
        }
        int q = config.qWidth(), qk = q + config.kvWidth(), hd = config.headDim();
        HeadMasks m = b.masks();
        List<Mask> pre = new ArrayList<>(m.queryProduct());
        pre.addAll(m.keyProduct());
        List<Mask> post = new ArrayList<>(m.query());
        post.addAll(m.key());
        Matrix heads = new BlockDiagonalMask(pre).applyInverse(product.cols(0, qk));
        float eps = config.norm().eps();
        for (int r = 0; r < heads.rows; r++) {
            for (int c = 0, o = r * qk; c < qk; c += hd, o += hd) {
                Norms.rmsNorm(heads.data, o, hd, c < q ? b.qNorm() : b.kNorm(), eps, heads.data, o);
            }
        }
        Matrix masked = new BlockDiagonalMask(post).apply(heads);
        Matrix rows = product.copy();
        for (int r = 0; r < rows.rows; r++) {
            System.arraycopy(masked.data, r * qk, rows.data, r * rows.cols, qk);
        }
        return rows;
    }

    /** The rotary embedding of {@code rows = batch·t} new rows at the current cache length, or null (learned positions). */
    public AttentionCall.Rotation rotation(int t) {
        if (ropeFrequencies == null) {
            return null;
        }
        int[] pos = new int[leftPad.length * t];
        for (int b = 0; b < leftPad.length; b++) {
            for (int i = 0; i < t; i++) {
                pos[b * t + i] = Math.max(0, length + i - leftPad[b]); // padding slots: 0, their output is unused
            }
        }
        return new AttentionCall.Rotation(ropeFrequencies, pos);
    }

    @Override
    public void startCache(int[] leftPad, int capacity) {
        executor.startCache(session.executorSession(), config.layers(), capacity, config.kvWidth(), leftPad);
        this.leftPad = leftPad.clone();
        this.length = 0;
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        if (leftPad == null) {
            throw new IllegalStateException("attention before startCache");
        }
        Block b = blocks.get(layer);
        TrustedSession.WireInput in = session.maskInput(b.qkv(), x);
        AttentionCall call;
        if (config.qkNorm()) {
            Matrix product = session.channel().linearWire(b.qkv().session(), b.qkv().weightId(), in.x(), in.compensation());
            call = new AttentionCall(layer, null, b.out().weightId(), attentionRows(layer, product), null, t, config.heads(),
                    config.kvHeads(), config.headDim(), config.attentionScale(layer), rotation(t));
        } else {
            call = new AttentionCall(layer, b.qkv().weightId(), b.out().weightId(), in.x(), in.compensation(), t,
                    config.heads(), config.kvHeads(), config.headDim(), config.attentionScale(layer), rotation(t));
        }
        return recover(b.out(), executor.attention(session.executorSession(), call));
    }

    /** {@code Ỹ·N_out⁻¹}: at wire precision for well-conditioned masks, in float64 for the others (Gaussian). */
    private static Matrix recover(ObfuscatedLinear layer, Matrix y) {
        return layer.wirePrecision() ? layer.maskOut().applyInverse(y)
                : org.privllm.trusted.linalg.Dense.toFloat(layer.maskOut().applyInverse(org.privllm.trusted.linalg.Dense.of(y)));
    }

    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        return session.forward(blocks.get(layer).up(), x);
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        return session.forward(blocks.get(layer).down(), x);
    }

    @Override
    public void advance(int t) {
        executor.advanceCache(session.executorSession(), t);
        length += t;
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
