package org.privllm.lab.workload;

import java.util.List;
import org.privllm.model.DecoderConfig;
import org.privllm.model.Gpt2Config;
import org.privllm.trusted.mask.MaskFamily;

/**
 * {@code masked_gpu_nonlinear} (modelled): the ideal of DESIGN §1's invariances — the norms, the activation (or SiLU
 * gating), residuals, attention (with RoPE) and every linear layer on the executor on masked tensors, so a forward pass crosses
 * the boundary once: masked embeddings in, masked (vocabulary-permuted) logits out.
 */
public final class GpuNonlinearPlacement extends Placement {
    private static final MaskFamily RESIDUAL = new MaskFamily.Orthogonal();

    public GpuNonlinearPlacement(Gpt2Config config) {
        super(config);
    }

    public GpuNonlinearPlacement(DecoderConfig config) {
        super(config);
    }

    @Override public String strategy() { return "masked_gpu_nonlinear"; }
    @Override public String mode() { return "mask"; }
    @Override public String family() { return "orthogonal+perm"; }
    @Override public boolean live() { return false; }

    @Override
    public List<String> assumptions() {
        return List.of(
                "masked_gpu_nonlinear: one residual-stream mask, dense orthogonal fixing the all-ones vector (LayerNorm "
                        + "commutes with it once gamma, beta are folded into the next linear layer; RMSNorm with any "
                        + "orthogonal mask once gamma is folded); the MLP hidden axis masked by a permutation with positive "
                        + "scaling (commutes with GELU or SiLU gating only for unit scales, gate and up permuted alike: "
                        + "modelled as a permutation); rotary models' query and key heads under RoPE-commuting masks (as "
                        + "the seed level's); all masks folded into the uploaded weights at setup",
                "masked_gpu_nonlinear: per forward pass the trusted side embeds and masks the new rows (dense n*d^2), "
                        + "the executor runs every layer and the LM head on masked tensors at plaintext FLOPs, and the "
                        + "trusted side undoes the vocabulary permutation (O(V) per row): one round trip per forward",
                "masked_gpu_nonlinear: trusted memory = embeddings + the residual mask + the vocabulary permutation");
    }

    @Override
    public void setup(Ledger l) {
        l.resident("embeddings", OpCosts.FLOAT_BYTES * ((long) (vocab + (rotary ? 0 : config.positions())) * d));
        l.resident("masks", OpCosts.maskBytes(RESIDUAL, d) + OpCosts.maskBytes(MaskedPlacement.VOCAB, vocab));
        uploadModel(l);
    }

    @Override
    public void startCache(Ledger l, int batch, int capacity) {}

    @Override
    public void attention(Ledger l, int layer, int batch, int t, int past) {
        long n = (long) batch * t;
        if (layer == 0) {
            l.trusted("embedding", OpCosts.elementwise(n, d));
            l.trusted("mask", OpCosts.mask(RESIDUAL, n, d));
            l.crossing(OpCosts.FLOAT_BYTES * n * d, 0, 1);
            l.working(OpCosts.DOUBLE_BYTES * 2 * n * d);
        }
        executorAttention(l, layer, batch, t, past, false);
    }

    @Override
    public void lmHead(Ledger l, int rows) {
        executorHead(l, rows);
        l.crossing(0, OpCosts.FLOAT_BYTES * (long) rows * vocab, 0); // the reply of this forward's round trip
        l.trusted("unmask", OpCosts.mask(MaskedPlacement.VOCAB, rows, vocab));
        l.working(OpCosts.DOUBLE_BYTES * (long) rows * vocab);
    }
}
