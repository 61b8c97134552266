package org.privllm.lab.workload;

import java.util.List;
import org.privllm.model.Gpt2Config;

/**
 * Where one strategy runs each piece of a GPT-2 forward pass, as charges to a {@link Ledger}: one method per
 * {@link org.privllm.model.TransformerOps} call, each charging the trusted work around that call (including
 * what {@link org.privllm.model.DecoderForward} does next to it: embeddings, LayerNorm, activation, residuals)
 * and the executor calls it makes. A live run feeds it the real call shapes ({@link CountingOps}); a plan
 * feeds it the shapes a generation would have ({@link GenerationPlan}) — the same code either way.
 */
public abstract class Placement {
    protected final Gpt2Config config;
    protected final int d, inner, vocab, heads, layers;

    protected Placement(Gpt2Config config) {
        this.config = config;
        this.d = config.embd();
        this.inner = config.inner();
        this.vocab = config.vocab();
        this.heads = config.heads();
        this.layers = config.layers();
    }

    /** Strategy name as reported. */
    public abstract String strategy();

    /** Mode and mask family as reported ("-" where they do not apply). */
    public String mode() {
        return "-";
    }

    public String family() {
        return "-";
    }

    /** True where the strategy is implemented and run; false where it is only modelled. */
    public abstract boolean live();

    /** Session setup: resident trusted state and weight uploads. */
    public abstract void setup(Ledger l);

    public abstract void startCache(Ledger l, int batch, int capacity);

    /** LayerNorm 1, attention sublayer, residual ({@code batch·t} rows; {@code past} cached slots). */
    public abstract void attention(Ledger l, int layer, int batch, int t, int past);

    /** LayerNorm 2, c_fc, activation (default: all on the executor, as the whole-model strategies run it). */
    public void mlpUp(Ledger l, int n) {
        executorMlpUp(l, n);
    }

    /** MLP c_proj, residual (default: on the executor). */
    public void mlpDown(Ledger l, int n) {
        executorMlpDown(l, n);
    }

    /** Cache advance and the final LayerNorm over the step's {@code n} rows (default: on the executor). */
    public void advance(Ledger l, int n) {
        executorFinalNorm(l, n);
    }

    public abstract void lmHead(Ledger l, int rows);

    /** How a modelled strategy is modelled (empty for live ones beyond the common conventions). */
    public List<String> assumptions() {
        return List.of();
    }

    // ---- shared pieces ----

    /** The embedding table, positions and every LayerNorm's γ, β in float32. */
    protected long embeddingAndNormBytes() {
        return OpCosts.FLOAT_BYTES * ((long) (vocab + config.positions()) * d + (4L * layers + 2) * d);
    }

    /** Uploads of every linear layer and the LM head (as {@code ObfuscatedDecoder} and the partition do). */
    protected void uploadModel(Ledger l) {
        l.controlCall(0); // open session
        for (int i = 0; i < layers; i++) {
            l.uploadCall(d, 3L * d, 0, true);
            l.uploadCall(d, d, 0, true);
            l.uploadCall(d, inner, 0, true);
            l.uploadCall(inner, d, 0, true);
        }
        l.uploadCall(d, vocab, 0, false);
    }

    /** Charges an elementwise/nonlinear op to the trusted side or the executor. */
    protected static void charge(Ledger l, boolean trusted, String op, long flops) {
        if (trusted) {
            l.trusted(op, flops);
        } else {
            l.untrusted(op, flops);
        }
    }

    /** Embedding lookup (at layer 0) and LayerNorm 1 on {@code n} rows. */
    protected void blockInput(Ledger l, boolean trusted, int layer, long n) {
        if (layer == 0) {
            charge(l, trusted, "embedding", OpCosts.elementwise(n, d));
        }
        charge(l, trusted, "layernorm", OpCosts.layerNorm(n, d));
    }

    protected void residual(Ledger l, boolean trusted, long n) {
        charge(l, trusted, "residual", OpCosts.elementwise(n, d));
    }

    // ---- a whole forward pass on the executor (plain and the modelled strategies) ----

    /** LayerNorm 1 (and the embedding when {@code embed}), c_attn, attention core, c_proj, residual: all executor work. */
    protected void executorAttention(Ledger l, int layer, int batch, int t, int past, boolean embed) {
        long n = (long) batch * t;
        if (layer == 0 && embed) {
            l.untrusted("embedding", OpCosts.elementwise(n, d));
        }
        l.untrusted("layernorm", OpCosts.layerNorm(n, d));
        l.untrusted("c_attn", OpCosts.linear(n, d, 3L * d, 0, true));
        l.untrusted("attention_core", OpCosts.attentionCore(batch, t, past, heads, d / heads));
        l.untrusted("c_proj", OpCosts.linear(n, d, d, 0, true));
        l.untrusted("residual", OpCosts.elementwise(n, d));
    }

    protected void executorMlpUp(Ledger l, int n) {
        l.untrusted("layernorm", OpCosts.layerNorm(n, d));
        l.untrusted("c_fc", OpCosts.linear(n, d, inner, 0, true));
        l.untrusted("activation", OpCosts.activation(n, inner));
    }

    protected void executorMlpDown(Ledger l, int n) {
        l.untrusted("mlp_c_proj", OpCosts.linear(n, inner, d, 0, true));
        l.untrusted("residual", OpCosts.elementwise(n, d));
    }

    protected void executorFinalNorm(Ledger l, int n) {
        l.untrusted("layernorm", OpCosts.layerNorm(n, d));
    }

    protected void executorHead(Ledger l, int rows) {
        l.untrusted("lm_head", OpCosts.linear(rows, d, vocab, 0, false));
    }
}
