package org.privllm.lab.workload;

import java.util.List;
import org.privllm.model.DecoderConfig;
import org.privllm.model.Gpt2Config;
import org.privllm.trusted.mask.MaskFamily;

/**
 * {@code amulet_reference} (modelled, not re-implemented): Amulet (Mao et al., 2025, arXiv 2512.07495) as
 * published — the TEE obfuscates the whole model once and offloads it; the accelerator runs every layer on
 * obfuscated tensors; each inference request costs two TEE interactions: input masking
 * {@code X̃ = P·(X − T)·Q₀} and output recovery.
 */
public final class AmuletPlacement extends Placement {
    private static final MaskFamily DENSE = new MaskFamily.Orthogonal();

    public AmuletPlacement(Gpt2Config config) {
        super(config);
    }

    public AmuletPlacement(DecoderConfig config) {
        super(config);
    }

    @Override public String strategy() { return "amulet_reference"; }
    @Override public String mode() { return "pad"; }
    @Override public String family() { return "dense+perm"; }
    @Override public boolean live() { return false; }

    @Override
    public List<String> assumptions() {
        return List.of(
                "amulet_reference: one inference request = one forward pass (prefill, then each decode step); the "
                        + "obfuscated KV cache stays on the accelerator between requests",
                "amulet_reference: interaction 1 moves the n x d input embeddings into the TEE and the masked "
                        + "P(X - T)Q0 back (n*d subtractions, 2n^2 d for P, 2n d^2 for Q0); interaction 2 moves the "
                        + "rows x V obfuscated logits in and the recovered logits back (2 rows^2 V for P^-1, O(V) for "
                        + "an output permutation with scaling)",
                "amulet_reference: the accelerator runs the model at plaintext FLOPs (obfuscation folded into the "
                        + "weights at setup, no widened layers); the plaintext input comes from the untrusted side, so "
                        + "the TEE holds only Q0, the output mask and per-request P, T",
                "amulet_reference: Amulet protects the model's weights from the device owner, not the user's data "
                        + "from the accelerator: its threat model differs from privllm's");
    }

    @Override
    public void setup(Ledger l) {
        l.resident("masks", OpCosts.maskBytes(DENSE, d) + OpCosts.maskBytes(MaskedPlacement.VOCAB, vocab));
        uploadModel(l);
    }

    @Override
    public void startCache(Ledger l, int batch, int capacity) {}

    @Override
    public void attention(Ledger l, int layer, int batch, int t, int past) {
        long n = (long) batch * t;
        if (layer == 0) {
            l.trusted("pad", OpCosts.elementwise(n, d));
            l.trusted("mask", OpCosts.mask(DENSE, d, (int) n) + OpCosts.mask(DENSE, n, d)); // P (n×n) from the left, Q₀ (d×d)
            l.crossing(OpCosts.FLOAT_BYTES * n * d, OpCosts.FLOAT_BYTES * n * d, 1);
            l.working(OpCosts.DOUBLE_BYTES * (n * n + 3 * n * d));
        }
        executorAttention(l, layer, batch, t, past, true);
    }

    @Override
    public void lmHead(Ledger l, int rows) {
        executorHead(l, rows);
        l.crossing(OpCosts.FLOAT_BYTES * (long) rows * vocab, OpCosts.FLOAT_BYTES * (long) rows * vocab, 1);
        l.trusted("unmask", OpCosts.mask(DENSE, vocab, rows) + OpCosts.mask(MaskedPlacement.VOCAB, rows, vocab));
        l.working(OpCosts.DOUBLE_BYTES * 2L * rows * vocab);
    }
}
