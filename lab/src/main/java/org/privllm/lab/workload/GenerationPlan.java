package org.privllm.lab.workload;

/**
 * The sequence of {@link org.privllm.model.TransformerOps} calls a greedy generation of one prompt makes
 * (as {@link org.privllm.model.generate.Generator} does: one prefill, the LM head on the last row, then one
 * decode step per further token), replayed into a {@link Placement} without running anything.
 */
public final class GenerationPlan {
    private GenerationPlan() {}

    /** Charges setup, then a request of {@code promptTokens} prompt tokens and {@code newTokens} new ones. */
    public static Ledger replay(Placement p, int promptTokens, int newTokens) {
        if (promptTokens < 1 || newTokens < 1) {
            throw new IllegalArgumentException("a plan needs at least one prompt token and one new token");
        }
        Ledger l = new Ledger();
        p.setup(l);
        l.beginInference();
        p.startCache(l, 1, promptTokens + newTokens);
        step(p, l, promptTokens, 0);
        for (int s = 0; s < newTokens; s++) {
            p.lmHead(l, 1);
            if (s == newTokens - 1) {
                break;
            }
            step(p, l, 1, promptTokens + s);
        }
        return l;
    }

    private static void step(Placement p, Ledger l, int t, int past) {
        for (int layer = 0; layer < p.layers; layer++) {
            p.attention(l, layer, 1, t, past);
            p.mlpUp(l, t);
            p.mlpDown(l, t);
        }
        p.advance(l, t);
    }
}
