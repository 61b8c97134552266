package org.privllm.lab.workload;

import java.util.List;
import org.privllm.model.DecoderConfig;
import org.privllm.trusted.privacy.PrivacyLevel;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.trusted.privacy.TrustedWork;

/**
 * {@code strong} and {@code two-party} ({@link TrustedAttentionDecoder} over a {@code BlindedSession}, online pads):
 * the attention core (q/k norms, RoPE, scores, softmax, P·V) and the KV cache trusted; every linear layer a float64
 * {@code linear64} call on each executor's bare public weight, its input blinded — strong: {@code X + T} to one
 * executor and {@code T·W} made trusted; two-party: {@code X + R} to one, {@code −R} to the other. The trusted work is
 * charged kind by kind exactly as {@link TrustedWork} counts it in the decoder (its constants: norm
 * {@value TrustedWork#PER_NORM}, activation or SiLU gating {@value TrustedWork#PER_GELU}, RoPE
 * {@value TrustedWork#PER_ROPE} per element, a Gaussian draw {@value TrustedWork#PER_GAUSSIAN}; the attention core
 * {@code 4·ctx·H·hd + 5·ctx·H} per row at the step's full context; sampling {@code V} per LM-head row), so a live
 * row can be checked against the decoder's own count.
 */
public final class BlindedPlacement extends Placement {
    private final PrivacyLevel level;

    public BlindedPlacement(DecoderConfig config, PrivacyLevel level) {
        super(config);
        if (level == PrivacyLevel.SEED) {
            throw new IllegalArgumentException("the blinded placement is strong or two-party, not seed");
        }
        this.level = level;
    }

    @Override public String strategy() { return level.label(); }
    @Override public String mode() { return "online pads"; }
    @Override public boolean live() { return true; }
    @Override public int parties() { return level.parties(); }

    public PrivacyLevel level() {
        return level;
    }

    @Override
    public List<String> assumptions() {
        return List.of(level.label() + ": trusted FLOPs by the conventions TrustedWork counts them with in the decoder (as "
                + "bench reports them): norm " + TrustedWork.PER_NORM + ", activation or SiLU gating " + TrustedWork.PER_GELU
                + ", RoPE " + TrustedWork.PER_ROPE + " per element, a Gaussian pad value " + TrustedWork.PER_GAUSSIAN
                + ", the attention core at each row's full step context, sampling V per LM-head row; pads online (no "
                + "pool)" + (parties() > 1 ? "; executor time is the first party's (the second runs concurrently)" : ""));
    }

    @Override
    public void setup(Ledger l) {
        l.resident("embeddings_and_norms", embeddingAndNormBytes());
        // the decoder keeps every public weight packed in float32 (for T·W at strong; the adapter path otherwise)
        l.resident("plaintext_weights", OpCosts.FLOAT_BYTES * linearParams());
        for (int p = 0; p < parties(); p++) {
            l.controlCall(0); // open session
            for (int i = 0; i < layers; i++) {
                l.uploadCall(d, qkvWidth, 0, false); // bare public weights, no bias
                l.uploadCall(qWidth, d, 0, false);
                l.uploadCall(d, upWidth, 0, false);
                l.uploadCall(inner, d, 0, false);
            }
            l.uploadCall(d, vocab, 0, false);
        }
    }

    @Override
    public void startCache(Ledger l, int batch, int capacity) {
        l.resident("kv_cache", 2L * OpCosts.FLOAT_BYTES * layers * batch * capacity * kvWidth); // trusted
    }

    /** One blinded linear on {@code n} rows: pads and blinding, each party's {@code linear64}, recombination. */
    private void linear(Ledger l, long n, int in, int out, boolean bias) {
        l.trusted("pads", TrustedWork.PER_GAUSSIAN * n * in);
        if (level == PrivacyLevel.STRONG) {
            l.trusted("pad_products", 2L * n * in * out);
        }
        l.trusted("blinding", 2L * n * in);
        for (int p = 0; p < parties(); p++) {
            l.linear64Call(n, in, out);
        }
        l.trusted("recombine", n * out * (bias ? 2L : 1L));
        l.working(OpCosts.DOUBLE_BYTES * n * (2L * in + 2L * out));
    }

    @Override
    public void attention(Ledger l, int layer, int batch, int t, int past) {
        long n = (long) batch * t;
        DecoderConfig.Biases b = config.biases();
        l.trusted(norm(), TrustedWork.PER_NORM * n * d);
        l.trusted("residual", n * d);
        linear(l, n, d, qkvWidth, b.qkv());
        long rotated = queryKeyElements(n);
        if (config.qkNorm()) {
            l.trusted("qk_norm", TrustedWork.PER_NORM * rotated);
        }
        if (rotary) {
            l.trusted("rope", TrustedWork.PER_ROPE * rotated);
        }
        l.trusted("attention_core", n * TrustedAttentionDecoder.attentionCoreFlops(config, past + t));
        linear(l, n, qWidth, d, b.out());
    }

    @Override
    public void mlpUp(Ledger l, int n) {
        l.trusted(norm(), TrustedWork.PER_NORM * n * d);
        linear(l, n, d, upWidth, config.biases().mlp());
    }

    @Override
    public void mlpDown(Ledger l, int n) {
        l.trusted(activation, TrustedWork.PER_GELU * n * inner);
        l.trusted("residual", (long) n * d);
        linear(l, n, inner, d, config.biases().mlp());
    }

    @Override
    public void advance(Ledger l, int n) {
        l.trusted("embedding", (long) n * d);
        l.trusted(norm(), TrustedWork.PER_NORM * n * d);
    }

    @Override
    public void lmHead(Ledger l, int rows) {
        l.trusted("sampling", (long) rows * vocab);
        linear(l, rows, d, vocab, false);
    }

    /** TrustedWork's name of the norm ({@code layer_norm} or {@code rms_norm}). */
    private String norm() {
        return norm.equals("layernorm") ? "layer_norm" : norm;
    }
}
