package org.privllm.lab.workload;

import org.privllm.model.DecoderConfig;
import org.privllm.model.Gpt2Config;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscationMode;

/**
 * {@code masked} ({@link org.privllm.trusted.obf.ObfuscatedDecoder}, the seed level, per-session masks): every linear
 * layer, the attention core (with RoPE on the masked queries and keys, grouped key/value heads) and the KV cache on
 * the executor behind masks; the norms, the activation (or SiLU gating) and residuals trusted. Per call the trusted
 * side masks the input at the family's cost and unmasks the output; pad mode also subtracts a fresh pad and computes
 * its compensation {@code T·W·N_out} online (as costly as the offloaded product), which needs the plaintext weights in
 * trusted memory. The query and key masks of a rotary model are RoPE-commuting (a scaled rotation per pair); with
 * q/k norms (Qwen3) the q/k/v product comes back masked, and the trusted side unmasks the query and key heads,
 * normalises them and masks them again before the attention call. The LM head's vocabulary axis carries a
 * permutation with scaling whatever the family.
 */
public final class MaskedPlacement extends Placement {
    /** The seed level's vocabulary mask: a permutation with positive scaling, O(V) to undo. */
    static final MaskFamily VOCAB = new MaskFamily.Permutation(0.5, 2);
    private final MaskFamily family;
    private final ObfuscationMode mode;

    public MaskedPlacement(Gpt2Config config, MaskFamily family, ObfuscationMode mode) {
        super(config);
        this.family = family;
        this.mode = mode;
    }

    public MaskedPlacement(DecoderConfig config, MaskFamily family, ObfuscationMode mode) {
        super(config);
        this.family = family;
        this.mode = mode;
    }

    @Override public String strategy() { return "masked"; }
    @Override public String mode() { return mode.name().toLowerCase(); }
    @Override public String family() { return family.toString(); }
    @Override public boolean live() { return true; }

    public MaskFamily maskFamily() {
        return family;
    }

    public ObfuscationMode obfuscationMode() {
        return mode;
    }

    private boolean pad() {
        return mode == ObfuscationMode.PAD;
    }

    /** A query or key head mask on {@code n} rows: RoPE-commuting on a rotary model, else the family's. */
    private long queryKeyMask(long n) {
        return rotary ? OpCosts.rotaryMask(n, headDim) : OpCosts.mask(family, n, headDim);
    }

    /** The q/k/v product's output mask {@code diag(N_Q.., N_K.., N_V..)} on {@code n} rows (the product masks with q/k norms). */
    private long qkvOutputMask(long n) {
        long qk = config.qkNorm() ? (heads + kvHeads) * OpCosts.mask(family, n, headDim) : (heads + kvHeads) * queryKeyMask(n);
        return qk + kvHeads * OpCosts.mask(family, n, headDim);
    }

    /** The first MLP product's output mask: {@code diag(N_gate, N_up)} when gated. */
    private long upOutputMask(long n) {
        return (config.mlp().gated() ? 2 : 1) * OpCosts.mask(family, n, inner);
    }

    @Override
    public void setup(Ledger l) {
        long heads = rotary ? 2L * kvHeads * OpCosts.rotaryMaskBytes(headDim) : 2L * kvHeads * OpCosts.maskBytes(family, headDim);
        heads += kvHeads * OpCosts.maskBytes(family, headDim); // N_V
        if (config.qkNorm()) {
            heads += (this.heads + kvHeads) * OpCosts.maskBytes(family, headDim);
        }
        long masks = layers * (4 * OpCosts.maskBytes(family, d) + heads
                + (config.mlp().gated() ? 3 : 2) * OpCosts.maskBytes(family, inner))
                + OpCosts.maskBytes(family, d) + OpCosts.maskBytes(VOCAB, vocab);
        l.resident("embeddings_and_norms", embeddingAndNormBytes());
        l.resident("masks", masks);
        if (pad()) {
            // compensations need W: every linear layer and the head, held in float64 for the trusted algebra
            l.resident("plaintext_weights", OpCosts.DOUBLE_BYTES * linearParams());
        }
        uploadModel(l);
    }

    @Override
    public void startCache(Ledger l, int batch, int capacity) {
        l.controlCall(4L * batch);
    }

    /**
     * Blinding an {@code n×in} input of a layer whose output mask costs {@code outMaskFlops}: pad subtraction
     * and online compensation in pad mode, then the input mask.
     */
    private void blind(Ledger l, long n, int in, long out, long outMaskFlops, MaskFamily inFamily) {
        if (pad()) {
            l.trusted("pad", OpCosts.elementwise(n, in));
            l.trusted("pad_compensation", OpCosts.linear(n, in, out, 0, false) + outMaskFlops);
        }
        l.trusted("mask", OpCosts.mask(inFamily, n, in));
        l.working(OpCosts.DOUBLE_BYTES * n * (2L * in + (pad() ? 2 * out : 0)));
    }

    @Override
    public void attention(Ledger l, int layer, int batch, int t, int past) {
        long n = (long) batch * t;
        blockInput(l, true, layer, n);
        blind(l, n, d, qkvWidth, qkvOutputMask(n), family);
        if (config.qkNorm()) {
            // the trusted round trip: the product comes back masked; query and key heads unmasked, normalised, masked again
            l.linearCall(n, d, qkvWidth, 0, config.biases().qkv(), pad());
            l.trusted("unmask", (heads + kvHeads) * OpCosts.mask(family, n, headDim));
            l.trusted("qk_norm", OpCosts.layerNorm(n * (heads + kvHeads), headDim));
            l.trusted("mask", (heads + kvHeads) * queryKeyMask(n));
            l.working(OpCosts.DOUBLE_BYTES * 2L * n * qkvWidth);
            l.attentionCall(batch, t, past, attentionShape(true), 0, 0, false);
        } else {
            l.attentionCall(batch, t, past, attentionShape(false), 0, 0, pad());
        }
        l.trusted("unmask", OpCosts.mask(family, n, d));
        residual(l, true, n);
    }

    @Override
    public void mlpUp(Ledger l, int n) {
        l.trusted(norm, OpCosts.layerNorm(n, d));
        blind(l, n, d, upWidth, upOutputMask(n), family);
        l.linearCall(n, d, upWidth, 0, config.biases().mlp(), pad());
        l.trusted("unmask", upOutputMask(n));
        l.trusted(activation, OpCosts.activation(n, inner));
        l.working(OpCosts.DOUBLE_BYTES * (long) n * (upWidth + inner));
    }

    @Override
    public void mlpDown(Ledger l, int n) {
        blind(l, n, inner, d, OpCosts.mask(family, n, d), family);
        l.linearCall(n, inner, d, 0, config.biases().mlp(), pad());
        l.trusted("unmask", OpCosts.mask(family, n, d));
        residual(l, true, n);
    }

    @Override
    public void advance(Ledger l, int n) {
        l.controlCall(0);
        l.trusted(norm, OpCosts.layerNorm(n, d));
    }

    @Override
    public void lmHead(Ledger l, int rows) {
        blind(l, rows, d, vocab, OpCosts.mask(VOCAB, rows, vocab), family);
        l.linearCall(rows, d, vocab, 0, false, pad());
        l.trusted("unmask", OpCosts.mask(VOCAB, rows, vocab));
        l.working(OpCosts.DOUBLE_BYTES * 2L * rows * vocab);
    }
}
