package org.privllm.lab.workload;

import java.util.List;
import org.privllm.model.DecoderConfig;
import org.privllm.model.Gpt2Adapter;
import org.privllm.model.Gpt2Config;

/**
 * Where one strategy runs each piece of a decoder's forward pass (GPT-2 or the Llama family), as charges to a
 * {@link Ledger}: one method per {@link org.privllm.model.TransformerOps} call, each charging the trusted work
 * around that call (including what {@link org.privllm.model.DecoderForward} does next to it: embeddings, the norm,
 * the activation or SiLU gating, residuals) and the executor calls it makes. A live run feeds it the real call
 * shapes ({@link CountingOps}); a plan feeds it the shapes a generation would have ({@link GenerationPlan}) — the
 * same code either way. Operations keep GPT-2's module names for every family ({@code c_attn} is the fused q/k/v,
 * {@code c_proj} the output projection, {@code c_fc} the first MLP product — {@code [gate | up]} when gated —,
 * {@code mlp_c_proj} down), as {@link org.privllm.model.DecoderWeights.Linear#key} names them.
 */
public abstract class Placement {
    protected final DecoderConfig config;
    /** Hidden width, MLP width, vocabulary, query heads, layers. */
    protected final int d, inner, vocab, heads, layers;
    /** Key/value heads, head width, query columns, key (or value) columns, fused q/k/v columns, first MLP product columns. */
    protected final int kvHeads, headDim, qWidth, kvWidth, qkvWidth, upWidth;
    /** The norm's and the activation's operation names ({@code layernorm}/{@code rms_norm}, {@code activation}/{@code silu_gating}). */
    protected final String norm, activation;
    protected final boolean rotary;

    protected Placement(Gpt2Config config) {
        this(Gpt2Adapter.config(config));
    }

    protected Placement(DecoderConfig config) {
        this.config = config;
        this.d = config.hidden();
        this.inner = config.inner();
        this.vocab = config.vocab();
        this.heads = config.heads();
        this.layers = config.layers();
        this.kvHeads = config.kvHeads();
        this.headDim = config.headDim();
        this.qWidth = config.qWidth();
        this.kvWidth = config.kvWidth();
        this.qkvWidth = config.qkvWidth();
        this.upWidth = config.upWidth();
        this.norm = config.norm().kind() == DecoderConfig.Norm.Kind.RMS_NORM ? "rms_norm" : "layernorm";
        this.activation = config.mlp().gated() ? "silu_gating" : "activation";
        this.rotary = config.positionEncoding() instanceof DecoderConfig.Rotary;
    }

    public DecoderConfig config() {
        return config;
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

    /** Executors the strategy runs on (two for two-party). */
    public int parties() {
        return 1;
    }

    /** Session setup: resident trusted state and weight uploads. */
    public abstract void setup(Ledger l);

    public abstract void startCache(Ledger l, int batch, int capacity);

    /** The attention norm, attention sublayer, residual ({@code batch·t} rows; {@code past} cached slots). */
    public abstract void attention(Ledger l, int layer, int batch, int t, int past);

    /** The MLP norm, the first product, the activation (default: all on the executor, as the whole-model strategies run it). */
    public void mlpUp(Ledger l, int n) {
        executorMlpUp(l, n);
    }

    /** The down product, residual (default: on the executor). */
    public void mlpDown(Ledger l, int n) {
        executorMlpDown(l, n);
    }

    /** Cache advance and the final norm over the step's {@code n} rows (default: on the executor). */
    public void advance(Ledger l, int n) {
        executorFinalNorm(l, n);
    }

    public abstract void lmHead(Ledger l, int rows);

    /** How a modelled strategy is modelled (empty for live ones beyond the common conventions). */
    public List<String> assumptions() {
        return List.of();
    }

    // ---- shared pieces ----

    /** The geometry of an executor attention call on this model (the q/k/v product on the executor unless {@code rows}). */
    protected Ledger.AttentionShape attentionShape(boolean rows) {
        return new Ledger.AttentionShape(heads, kvHeads, headDim, rows ? 0 : d, d, config.biases().qkv(),
                config.biases().out(), rotary);
    }

    /** Query and key elements a step rotates (or normalises) on {@code n} rows: {@code n·(H + KV)·hd}. */
    protected long queryKeyElements(long n) {
        return n * (heads + kvHeads) * (long) headDim;
    }

    /** The embedding table, learned positions (GPT-2) and every norm's γ (and β) in float32. */
    protected long embeddingAndNormBytes() {
        long positions = rotary ? 0 : config.positions();
        long normVectors = (2L * layers + 1) * (norm.equals("layernorm") ? 2 : 1) * d;
        long qkNorms = config.qkNorm() ? 2L * layers * headDim : 0;
        return OpCosts.FLOAT_BYTES * ((vocab + positions) * d + normVectors + qkNorms);
    }

    /** Every block's four linears and the LM head, without biases. */
    protected long linearParams() {
        return layers * ((long) d * qkvWidth + (long) qWidth * d + (long) d * upWidth + (long) inner * d) + (long) d * vocab;
    }

    /** Uploads of every linear layer and the LM head, with the model's biases (as the seed level and the partition do). */
    protected void uploadModel(Ledger l) {
        l.controlCall(0); // open session
        DecoderConfig.Biases b = config.biases();
        for (int i = 0; i < layers; i++) {
            l.uploadCall(d, qkvWidth, 0, b.qkv());
            l.uploadCall(qWidth, d, 0, b.out());
            l.uploadCall(d, upWidth, 0, b.mlp());
            l.uploadCall(inner, d, 0, b.mlp());
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

    /** Embedding lookup (at layer 0) and the attention norm on {@code n} rows. */
    protected void blockInput(Ledger l, boolean trusted, int layer, long n) {
        if (layer == 0) {
            charge(l, trusted, "embedding", OpCosts.elementwise(n, d));
        }
        charge(l, trusted, norm, OpCosts.layerNorm(n, d));
    }

    protected void residual(Ledger l, boolean trusted, long n) {
        charge(l, trusted, "residual", OpCosts.elementwise(n, d));
    }

    /** Q/K norms (Qwen3) and RoPE of {@code n} rows' queries and keys, where the model has them. */
    protected void queryKeyWork(Ledger l, boolean trusted, long n) {
        if (config.qkNorm()) {
            charge(l, trusted, "qk_norm", OpCosts.layerNorm(n * (heads + kvHeads), headDim));
        }
        if (rotary) {
            charge(l, trusted, "rope", OpCosts.rope(queryKeyElements(n)));
        }
    }

    // ---- a whole forward pass on the executor (plain and the modelled strategies) ----

    /** The norm (and the embedding when {@code embed}), q/k/v, q/k norms and RoPE, attention core, output projection, residual: all executor work. */
    protected void executorAttention(Ledger l, int layer, int batch, int t, int past, boolean embed) {
        long n = (long) batch * t;
        if (layer == 0 && embed) {
            l.untrusted("embedding", OpCosts.elementwise(n, d));
        }
        l.untrusted(norm, OpCosts.layerNorm(n, d));
        l.untrusted("c_attn", OpCosts.linear(n, d, qkvWidth, 0, config.biases().qkv()));
        queryKeyWork(l, false, n);
        l.untrusted("attention_core", OpCosts.attentionCore(batch, t, past, heads, headDim));
        l.untrusted("c_proj", OpCosts.linear(n, qWidth, d, 0, config.biases().out()));
        l.untrusted("residual", OpCosts.elementwise(n, d));
    }

    protected void executorMlpUp(Ledger l, int n) {
        l.untrusted(norm, OpCosts.layerNorm(n, d));
        l.untrusted("c_fc", OpCosts.linear(n, d, upWidth, 0, config.biases().mlp()));
        l.untrusted(activation, OpCosts.activation(n, inner));
    }

    protected void executorMlpDown(Ledger l, int n) {
        l.untrusted("mlp_c_proj", OpCosts.linear(n, inner, d, 0, config.biases().mlp()));
        l.untrusted("residual", OpCosts.elementwise(n, d));
    }

    protected void executorFinalNorm(Ledger l, int n) {
        l.untrusted(norm, OpCosts.layerNorm(n, d));
    }

    protected void executorHead(Ledger l, int rows) {
        l.untrusted("lm_head", OpCosts.linear(rows, d, vocab, 0, false));
    }
}
