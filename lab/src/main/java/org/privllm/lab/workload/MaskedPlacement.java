package org.privllm.lab.workload;

import org.privllm.model.Gpt2Config;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscationMode;

/**
 * {@code masked} ({@link org.privllm.trusted.obf.ObfuscatedDecoder}, per-session masks): every linear layer, the
 * attention core and the KV cache on the executor behind masks; LayerNorm, the activation and residuals
 * trusted. Per call the trusted side masks the input at the family's cost and unmasks the output; pad mode
 * also subtracts a fresh pad and computes its compensation {@code T·W·N_out} online (as costly as the
 * offloaded product), which needs the plaintext weights in trusted memory. The LM head's vocabulary axis
 * carries a permutation with scaling whatever the family.
 */
public final class MaskedPlacement extends Placement {
    /** ObfuscatedDecoder's vocabulary mask: a permutation with positive scaling, O(V) to undo. */
    static final MaskFamily VOCAB = new MaskFamily.Permutation(0.5, 2);
    private final MaskFamily family;
    private final ObfuscationMode mode;

    public MaskedPlacement(Gpt2Config config, MaskFamily family, ObfuscationMode mode) {
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

    @Override
    public void setup(Ledger l) {
        int dh = d / heads;
        long masks = layers * (4 * OpCosts.maskBytes(family, d) + 3L * heads * OpCosts.maskBytes(family, dh)
                + 2 * OpCosts.maskBytes(family, inner)) + OpCosts.maskBytes(family, d) + OpCosts.maskBytes(VOCAB, vocab);
        l.resident("embeddings_and_norms", embeddingAndNormBytes());
        l.resident("masks", masks);
        if (pad()) {
            // compensations need W: every linear layer and the head, held in float64 for the trusted algebra
            long params = layers * (4L * d * d + 2L * d * inner) + (long) d * vocab;
            l.resident("plaintext_weights", OpCosts.DOUBLE_BYTES * params);
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
        int dh = d / heads;
        blockInput(l, true, layer, n);
        blind(l, n, d, 3L * d, 3L * heads * OpCosts.mask(family, n, dh), family); // c_attn's output mask: diag(N_Q, N_K, N_V)
        l.attentionCall(batch, t, past, heads, d, 0, 0, pad());
        l.trusted("unmask", OpCosts.mask(family, n, d));
        residual(l, true, n);
    }

    @Override
    public void mlpUp(Ledger l, int n) {
        l.trusted("layernorm", OpCosts.layerNorm(n, d));
        blind(l, n, d, inner, OpCosts.mask(family, n, inner), family);
        l.linearCall(n, d, inner, 0, true, pad());
        l.trusted("unmask", OpCosts.mask(family, n, inner));
        l.trusted("activation", OpCosts.activation(n, inner));
        l.working(OpCosts.DOUBLE_BYTES * 2L * n * inner);
    }

    @Override
    public void mlpDown(Ledger l, int n) {
        blind(l, n, inner, d, OpCosts.mask(family, n, d), family);
        l.linearCall(n, inner, d, 0, true, pad());
        l.trusted("unmask", OpCosts.mask(family, n, d));
        residual(l, true, n);
    }

    @Override
    public void advance(Ledger l, int n) {
        l.controlCall(0);
        l.trusted("layernorm", OpCosts.layerNorm(n, d));
    }

    @Override
    public void lmHead(Ledger l, int rows) {
        blind(l, rows, d, vocab, OpCosts.mask(VOCAB, rows, vocab), family);
        l.linearCall(rows, d, vocab, 0, false, pad());
        l.trusted("unmask", OpCosts.mask(VOCAB, rows, vocab));
        l.working(OpCosts.DOUBLE_BYTES * 2L * rows * vocab);
    }
}
