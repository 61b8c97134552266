package org.privllm.lab.verify;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.DecoderWeights;
import org.privllm.model.Gpt2Adapter;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;
import org.privllm.model.PlainDecoderOps;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Attention;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.protocol.Executor;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.lora.LoraMerge;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.mask.BlockDiagonalMask;
import org.privllm.trusted.obf.ExecutorChannel;
import org.privllm.trusted.obf.MaskScope;
import org.privllm.trusted.obf.ObfuscatedLinear;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.PlainLinear;
import org.privllm.trusted.obf.TrustedSession;
import org.privllm.trusted.verify.ErrorStats;
import org.privllm.untrusted.InProcessExecutor;

/**
 * Every stage's checks of the scheme (issue 4, item 4), run in the trusted domain against the plaintext
 * engine on the same model:
 * <ol>
 *   <li>{@code stage1_linear}: one obfuscated linear layer vs {@code X·W + b}, per-session and per-call scope;
 *       {@code stage1_lora}: the same with a private LoRA adapter, never merged on the executor;
 *   <li>{@code stage2_block}: each whole obfuscated transformer block vs the plaintext block on the same input;
 *   <li>{@code stage3_cache}: obfuscated prefill and decode steps over the executor's masked KV cache vs
 *       plaintext (final hidden states and logits per step; the same tokens fed to both);
 *   <li>{@code stage4_module}: each GPT-2 module, the executor's ones isolated on the plaintext input
 *       (c_attn unmasked with its block-diagonal mask, the attention core, c_proj, c_fc, MLP c_proj, LM head),
 *       the trusted ones (embeddings, LayerNorms, GELU) as computed inside the obfuscated pipeline.
 * </ol>
 * Every comparison is {@code allclose} at atol = rtol = 1e-4 ({@link ErrorStats}). Results carry errors
 * only: no tensor, mask or pad leaves this class.
 */
public final class Verifier implements AutoCloseable {
    private final DecoderModel model;
    private final ObfuscationConfig obf;
    private final Map<String, LowRankAdapter> adapters;
    private final LoraAdapter stage1Adapter;
    private final Random data;
    private Supplier<Executor> executors = InProcessExecutor::new;
    private Executor executor;
    private ObfuscatedDecoder obfuscated;
    private int batch = 2, promptLength = 6, decodeSteps = 3, linearRows = 8;

    /**
     * @param adapter       the model's private LoRA adapter (stages 2–4 and stage 1 LoRA), or null for none
     * @param stage1Adapter the adapter of stage 1 LoRA when {@code adapter} is null (e.g. {@link #randomAdapter})
     * @param data          randomness of the test inputs (prompts, rows); masks come from {@code obf}
     */
    public Verifier(Gpt2Model model, ObfuscationConfig obf, LoraAdapter adapter, LoraAdapter stage1Adapter, Random data) {
        this(model.decoder(), obf, adapter, stage1Adapter, data);
    }

    /** The seed scheme's checks on any {@link DecoderModel}: GPT-2 and the Llama family. */
    public Verifier(DecoderModel model, ObfuscationConfig obf, LoraAdapter adapter, LoraAdapter stage1Adapter, Random data) {
        this.model = model;
        this.obf = obf;
        this.adapters = adapter == null ? Map.of() : adapter.layers();
        this.stage1Adapter = adapter != null ? adapter : stage1Adapter;
        if (this.stage1Adapter == null) {
            throw new IllegalArgumentException("stage 1 LoRA needs an adapter (e.g. Verifier.randomAdapter)");
        }
        this.data = data;
        // short models: keep at least one prompt slot, decode into the rest
        int positions = model.config().positions();
        this.decodeSteps = Math.min(decodeSteps, positions - 1);
        this.promptLength = Math.min(promptLength, positions - this.decodeSteps);
    }

    /** Where the executors come from (default: a fresh {@link InProcessExecutor} per session). */
    public Verifier executors(Supplier<Executor> executors) {
        this.executors = executors;
        return this;
    }

    /** Shapes of the test inputs: prompts per batch, slots per prompt, decode steps. */
    public Verifier shape(int batch, int promptLength, int decodeSteps) {
        if (batch <= 0 || promptLength <= 0 || decodeSteps < 0
                || promptLength + decodeSteps > model.config().positions()) {
            throw new IllegalArgumentException("verify shape " + batch + " x " + promptLength + " + " + decodeSteps
                    + " does not fit n_positions " + model.config().positions());
        }
        this.batch = batch;
        this.promptLength = promptLength;
        this.decodeSteps = decodeSteps;
        return this;
    }

    /** Stages run by {@link #run} (for progress bars). */
    public static final int STAGES = 4;

    /** True iff every check passed. */
    public static boolean allPassed(List<Check> checks) {
        return checks.stream().allMatch(Check::pass);
    }

    /** Runs every stage; {@code stageDone} hears each stage's name as it completes. */
    public List<Check> run(Consumer<String> stageDone) {
        List<Check> out = new ArrayList<>();
        out.addAll(stage1Linear());
        out.addAll(stage1Lora());
        stageDone.accept("stage 1");
        DecoderConfig c = model.config();
        DecoderWeights plainWeights = LoraMerge.merged(model.weights(), adapters);
        PlainDecoderOps plainOps = new PlainDecoderOps(c, plainWeights);
        RecordingOps plainRec = new RecordingOps(plainOps);
        DecoderForward plain = new DecoderForward(c, plainWeights, plainRec);
        ObfuscatedDecoder obfOps = obfuscated();
        RecordingOps obfRec = new RecordingOps(obfOps);
        DecoderForward masked = new DecoderForward(c, model.weights(), obfRec);
        PromptBatch prompts = PromptBatch.random(c, batch, promptLength, data);

        ErrorAccumulator blocks = new ErrorAccumulator();
        out.addAll(stage2(plain, masked, prompts, blocks));
        stageDone.accept("stage 2");

        Stage3 s3 = stage3(plain, masked, plainRec, obfRec, prompts, decodeSteps);
        out.addAll(s3.checks());
        stageDone.accept("stage 3");

        out.addAll(stage4(plain, masked, plainOps, obfOps, plainRec, obfRec, prompts, s3, blocks));
        stageDone.accept("stage 4");
        return out;
    }

    /**
     * The obfuscated model under test, uploaded once (for a 124M model obfuscating the weights costs more
     * than all the checks): {@link #run} and {@link #generation} share it, each restarting the cache.
     */
    private ObfuscatedDecoder obfuscated() {
        if (obfuscated == null) {
            executor = executors.get();
            obfuscated = new ObfuscatedDecoder(model.config(), model.weights(), executor, obf, adapters);
        }
        return obfuscated;
    }

    /** Closes the obfuscated model's session and its executor. */
    @Override
    public void close() {
        if (obfuscated != null) {
            obfuscated.close();
            executor.close();
            obfuscated = null;
        }
    }

    // ---- stage 1 -------------------------------------------------------------------------------

    private List<Check> stage1Linear() {
        DecoderWeights.Layer l = model.weights().layers().get(0);
        Matrix x = gaussian(linearRows, model.config().hidden());
        Matrix expected = Kernels.matmul(x, PackedWeight.pack(l.up()), l.upBias());
        List<Check> out = new ArrayList<>();
        for (MaskScope scope : scopes()) {
            Matrix actual = linearOnce(PlainLinear.of(l.up(), l.upBias()), scope, x);
            out.add(new Check("stage1_linear", named("h.0.mlp.c_fc") + " " + scopeName(scope),
                    ErrorStats.compare(expected, actual)));
        }
        return out;
    }

    private List<Check> stage1Lora() {
        String key = stage1Adapter.layers().keySet().stream().sorted().findFirst().orElseThrow();
        LowRankAdapter a = stage1Adapter.layers().get(key);
        PlainLinear plain = linear(model.weights(), key).withLora(a);
        Matrix x = gaussian(linearRows, plain.inDim());
        DMatrixRMaj expected = plain.forward(Dense.of(x));
        List<Check> out = new ArrayList<>();
        for (MaskScope scope : scopes()) {
            Matrix actual = linearOnce(plain, scope, x);
            out.add(new Check("stage1_lora", named(key) + " r=" + a.rank() + " " + scopeName(scope),
                    ErrorStats.compare(expected, Dense.of(actual))));
        }
        return out;
    }

    private List<MaskScope> scopes() {
        return obf.padPool() ? List.of(MaskScope.PER_SESSION) : List.of(MaskScope.PER_SESSION, MaskScope.PER_CALL);
    }

    private static String scopeName(MaskScope s) {
        return s == MaskScope.PER_CALL ? "per-call" : "per-session";
    }

    /** One obfuscated call of {@code plain} in a fresh session with the given scope, recovered (as the pipeline calls it). */
    private Matrix linearOnce(PlainLinear plain, MaskScope scope, Matrix x) {
        try (Executor executor = executors.get();
             TrustedSession s = new TrustedSession(new ExecutorChannel(executor), obf.withScope(scope))) {
            return s.forward(s.register(plain), x);
        }
    }

    // ---- stage 2 -------------------------------------------------------------------------------

    /** Each whole protected block vs the plaintext block on the same input (any {@link DecoderConfig}). */
    static List<Check> stage2(DecoderForward plain, DecoderForward masked, PromptBatch p, ErrorAccumulator all) {
        List<Check> out = new ArrayList<>();
        plain.ops().startCache(p.leftPad(), p.length());
        masked.ops().startCache(p.leftPad(), p.length());
        Matrix h = plain.embed(p.ids(), p.positions());
        for (int layer = 0; layer < plain.config().layers(); layer++) {
            Matrix expected = block(plain, layer, h, p.length());
            Matrix actual = block(masked, layer, h, p.length());
            all.add(expected, actual);
            out.add(new Check("stage2_block", blockName(plain.config(), layer), ErrorStats.compare(expected, actual)));
            h = expected;
        }
        return out;
    }

    /** One block on a copy of residual {@code h}, as {@link DecoderForward#step} runs it ({@link DecoderForward#block}). */
    static Matrix block(DecoderForward f, int layer, Matrix h, int t) {
        Matrix x = h.copy();
        f.block(layer, x, t);
        return x;
    }

    // ---- stage 3 -------------------------------------------------------------------------------

    /** Stage 3's checks and what stage 4 reuses: the prefill's final hidden states and logits. */
    record Stage3(List<Check> checks, Matrix plainHidden, ErrorStats hidden, ErrorStats logits) {}

    /** Protected prefill and decode steps over the protected cache vs plaintext (any {@link DecoderConfig}). */
    static Stage3 stage3(DecoderForward plain, DecoderForward masked, RecordingOps plainRec, RecordingOps obfRec,
                         PromptBatch p, int decodeSteps) {
        List<Check> out = new ArrayList<>();
        int cap = p.length() + decodeSteps;
        plain.ops().startCache(p.leftPad(), cap);
        masked.ops().startCache(p.leftPad(), cap);
        plainRec.recording(true);
        obfRec.recording(true);
        Matrix hP = plain.step(p.ids(), p.positions(), p.length());
        Matrix hM = masked.step(p.ids(), p.positions(), p.length());
        plainRec.recording(false);
        obfRec.recording(false);
        Matrix lP = plain.ops().lmHead(hP), lM = masked.ops().lmHead(hM);
        ErrorStats hidden = ErrorStats.compare(hP, hM), logits = ErrorStats.compare(lP, lM);
        out.add(new Check("stage3_cache", "prefill hidden", hidden));
        out.add(new Check("stage3_cache", "prefill logits", logits));
        int[] next = lastArgmax(lP, p.batch(), p.length());
        for (int s = 0; s < decodeSteps; s++) {
            // The same (plaintext-greedy) tokens go to both pipelines, so every step compares like with like.
            Matrix dP = plain.step(next, p.decodePositions(s), 1);
            Matrix dM = masked.step(next, p.decodePositions(s), 1);
            Matrix dlP = plain.ops().lmHead(dP), dlM = masked.ops().lmHead(dM);
            out.add(new Check("stage3_cache", "decode " + (s + 1) + " hidden", ErrorStats.compare(dP, dM)));
            out.add(new Check("stage3_cache", "decode " + (s + 1) + " logits", ErrorStats.compare(dlP, dlM)));
            next = lastArgmax(dlP, p.batch(), 1);
        }
        return new Stage3(out, hP, hidden, logits);
    }

    static int[] lastArgmax(Matrix logits, int batch, int t) {
        int[] ids = new int[batch];
        for (int b = 0; b < batch; b++) {
            int o = ((b + 1) * t - 1) * logits.cols, best = 0;
            for (int v = 1; v < logits.cols; v++) {
                if (logits.data[o + v] > logits.data[o + best]) {
                    best = v;
                }
            }
            ids[b] = best;
        }
        return ids;
    }

    // ---- stage 4 -------------------------------------------------------------------------------

    private List<Check> stage4(DecoderForward plain, DecoderForward masked, PlainDecoderOps plainOps, ObfuscatedDecoder obfOps,
                               RecordingOps plainRec, RecordingOps obfRec, PromptBatch p, Stage3 s3,
                               ErrorAccumulator blocks) {
        DecoderConfig c = model.config();
        DecoderWeights w = plain.weights();
        boolean gpt2 = c.architecture() == Architecture.GPT2;
        int t = p.length(), layers = c.layers(), qW = c.qWidth(), kvW = c.kvWidth();
        ErrorAccumulator ln1 = new ErrorAccumulator(), cAttn = new ErrorAccumulator(), identity = new ErrorAccumulator(),
                sublayer = new ErrorAccumulator(), cProj = new ErrorAccumulator(), ln2 = new ErrorAccumulator(),
                cFc = new ErrorAccumulator(), act = new ErrorAccumulator(), mlpProj = new ErrorAccumulator(),
                qkNorm = new ErrorAccumulator(), commute = new ErrorAccumulator(), across = new ErrorAccumulator();
        AttentionCore.Errors core = new AttentionCore.Errors();
        CoreInputs inputs = new CoreInputs(c);
        int[] positions = CoreInputs.positions(p.leftPad(), 0, t), at = inputs.checkPositions();
        // Fresh caches: each layer's attention sees only this prompt; shadows hold what the two caches hold.
        plainOps.startCache(p.leftPad(), t);
        obfOps.startCache(p.leftPad(), t);
        KvCache plainShadow = new KvCache(layers, p.batch(), t, kvW, p.leftPad());
        KvCache maskedShadow = new KvCache(layers, p.batch(), t, kvW, p.leftPad());
        TrustedSession session = obfOps.session();
        for (int layer = 0; layer < layers; layer++) {
            DecoderWeights.Layer l = w.layers().get(layer);
            Matrix x = plainRec.ln1(layer);
            ln1.add(x, obfRec.ln1(layer));

            // the fused q/k/v on the executor, unmasked with diag(N_Q, N_K, N_V)
            Matrix qkv = Kernels.matmul(x, PackedWeight.pack(l.qkv()), l.qkvBias());
            Matrix product = executorLinear(session, obfOps.qkv(layer), x);
            cAttn.add(qkv, obfOps.qkv(layer).maskOut().applyInverse(product));

            // what each attention core receives: plaintext (q/k norms) vs the protected rows (the trusted round trip)
            Matrix plainRows = inputs.normalized(l, qkv), maskedRows = obfOps.attentionRows(layer, product);
            BlockDiagonalMask queryKey = CoreInputs.queryKeyMask(obfOps.queryMasks(layer), obfOps.keyMasks(layer));
            if (c.qkNorm()) {
                qkNorm.add(plainRows.cols(0, qW + kvW), queryKey.applyInverse(maskedRows.cols(0, qW + kvW)));
            }
            if (inputs.rotary()) {
                inputs.commute(plainRows, maskedRows, queryKey, at, commute);
                inputs.scoresAcrossPositions(plainRows, maskedRows, at, across);
            }
            Matrix plainCore = inputs.rotated(plainRows, positions), maskedCore = inputs.rotated(maskedRows, positions);

            // attention core in score space and value space (after RoPE, grouped key/value heads)
            Matrix a = Attention.attend(plainShadow, layer, plainCore, t, c.heads(), c.kvHeads(), c.headDim(),
                    c.attentionScale(layer));
            maskedShadow.append(layer, maskedCore, maskedCore, qW, qW + kvW, t);
            AttentionCore.compare(plainShadow, maskedShadow, layer, plainCore, maskedCore, t, c.heads(), c.kvHeads(),
                    c.headDim(), c.attentionScale(layer), obfOps.valueMasks(layer), core);
            AttentionCore.identity(obfOps.queryMasks(layer), obfOps.keyMasks(layer), identity);

            // the output projection with input mask diag(N_V), then the executor's whole chained sublayer
            Matrix proj = Kernels.matmul(a, PackedWeight.pack(l.out()), l.outBias());
            cProj.add(proj, obfOps.out(layer).maskOut().applyInverse(executorLinear(session, obfOps.out(layer), a)));
            sublayer.add(plainOps.attention(layer, x, t), obfOps.attention(layer, x, t));

            // MLP: the norm and the activation as computed in the protected pipeline; its products isolated
            ln2.add(plainRec.ln2(layer), obfRec.ln2(layer));
            cFc.add(plainOps.mlpUp(layer, plainRec.ln2(layer)), obfOps.mlpUp(layer, plainRec.ln2(layer)));
            act.add(plainRec.activation(layer), obfRec.activation(layer));
            mlpProj.add(plainOps.mlpDown(layer, plainRec.activation(layer)),
                    obfOps.mlpDown(layer, plainRec.activation(layer)));
        }
        String norm = c.norm().kind() == DecoderConfig.Norm.Kind.RMS_NORM ? "rms_norm" : "layer_norm";
        String qkvName = gpt2 ? "c_attn" : familyName(c, DecoderWeights.Linear.QKV) + " (" + c.hidden() + "x" + c.qkvWidth() + ")";
        String grouped = c.kvHeads() != c.heads() ? " (" + c.kvHeads() + " kv heads shared by groups of "
                + c.heads() / c.kvHeads() + ")" : "";
        String afterRope = inputs.rotary() ? " after RoPE" : "";
        List<Check> out = new ArrayList<>();
        out.add(module("embeddings", ErrorStats.compare(plain.embed(p.ids(), p.positions()),
                masked.embed(p.ids(), p.positions()))));
        out.add(module(gpt2 ? "ln_1" : norm + " (attention input, with gamma)", ln1.stats()));
        out.add(module(qkvName + " (unmasked by diag(N_Q,N_K,N_V))", cAttn.stats()));
        if (c.qkNorm()) {
            out.add(module("q/k norm (trusted round trip, unmasked by diag(N_Q,N_K))", qkNorm.stats()));
        }
        out.add(module("N_Q.N_K^T = I" + grouped, identity.stats()));
        if (inputs.rotary()) {
            String ps = java.util.Arrays.toString(at).replace(" ", "");
            out.add(module("RoPE(q~),RoPE(k~) vs RoPE(q).N_Q,RoPE(k).N_K at positions " + ps, commute.stats()));
            out.add(module("RoPE(q~).RoPE(k~)^T vs RoPE(q).RoPE(k)^T across positions " + ps + ", over |q||k|",
                    across.stats()));
        }
        out.add(module("attention scores Q~K~^T vs QK^T" + afterRope + grouped, core.scores.stats()));
        out.add(module("attention softmax", core.softmax.stats()));
        out.add(module("attention P.V~.diag(N_V)^-1 vs P.V", core.pvRecovered.stats()));
        out.add(module((gpt2 ? "attn c_proj" : familyName(c, DecoderWeights.Linear.OUT)) + " (input mask diag(N_V))",
                cProj.stats()));
        out.add(module("attention sublayer (executor chain)", sublayer.stats()));
        out.add(module(gpt2 ? "ln_2" : norm + " (mlp input, with gamma)", ln2.stats()));
        out.add(module(gpt2 ? "c_fc" : familyName(c, DecoderWeights.Linear.UP) + " (" + c.hidden() + "x" + c.upWidth() + ")",
                cFc.stats()));
        out.add(module(c.mlp().gated() ? "silu gating silu(gate).up"
                : c.mlp().activation().toString().toLowerCase(java.util.Locale.ROOT), act.stats()));
        out.add(module(gpt2 ? "mlp c_proj" : familyName(c, DecoderWeights.Linear.DOWN) + " (" + c.inner() + "x" + c.hidden() + ")",
                mlpProj.stats()));
        out.add(module("block", blocks.stats()));
        out.add(module(gpt2 ? "ln_f" : "final " + norm, s3.hidden()));
        out.add(module("lm_head", ErrorStats.compare(plainOps.lmHead(s3.plainHidden()), obfOps.lmHead(s3.plainHidden()))));
        out.add(module("whole model", s3.logits()));
        return out;
    }

    /**
     * The generation-equivalence check: greedy generation of {@code newTokens} tokens (capped by
     * {@code n_positions}) for a batch of prompts, obfuscated vs plaintext. Passes iff the token ids are
     * identical and every step's logits are allclose.
     */
    public Check generation(int newTokens) {
        DecoderConfig c = model.config();
        DecoderWeights plainWeights = LoraMerge.merged(model.weights(), adapters);
        PromptBatch p = PromptBatch.random(c, batch, Math.min(promptLength, c.positions() - 1), data);
        List<int[]> prompts = new ArrayList<>();
        for (int b = 0; b < p.batch(); b++) {
            prompts.add(java.util.Arrays.copyOfRange(p.ids(), b * p.length() + p.leftPad()[b], (b + 1) * p.length()));
        }
        List<Matrix> plainLogits = new ArrayList<>(), maskedLogits = new ArrayList<>();
        Generator.Result plain = new Generator(new DecoderForward(c, plainWeights, new PlainDecoderOps(c, plainWeights)))
                .generate(prompts, newTokens, Sampling.GREEDY, -1, null, plainLogits::add);
        Generator.Result masked;
        masked = new Generator(new DecoderForward(c, model.weights(), obfuscated()))
                .generate(prompts, newTokens, Sampling.GREEDY, -1, null, maskedLogits::add);
        boolean same = plainLogits.size() == maskedLogits.size();
        for (int b = 0; b < prompts.size() && same; b++) {
            same = java.util.Arrays.equals(plain.outputIds().get(b), masked.outputIds().get(b));
        }
        ErrorAccumulator logits = new ErrorAccumulator();
        for (int i = 0; i < Math.min(plainLogits.size(), maskedLogits.size()); i++) {
            logits.add(plainLogits.get(i), maskedLogits.get(i));
        }
        ErrorStats stats = logits.stats();
        return new Check("generation", "greedy " + plainLogits.size() + " new tokens x " + prompts.size()
                + " prompts: ids identical and logits", stats, same && stats.allclose());
    }

    private static Check module(String name, ErrorStats stats) {
        return new Check("stage4_module", name, stats);
    }

    /**
     * The executor's masked output {@code X̃·W̃ + b̃ (+ C)} of a bound (per-session) layer for plaintext input
     * {@code x}: blinded by the trusted session, computed by the executor, returned still masked. Trusted-domain
     * use only (the caller unmasks it with the layer's {@code N_out} to check it).
     */
    public static Matrix executorLinear(TrustedSession s, ObfuscatedLinear layer, Matrix x) {
        TrustedSession.WireInput in = s.maskInput(layer, x); // at wire precision, as the pipeline blinds
        return s.channel().linearWire(layer.session(), layer.weightId(), in.x(), in.compensation());
    }

    /**
     * A fused-linear key ({@code h.N.module}) in the model's own words for a check's label: GPT-2's as it is, the
     * Llama family's {@code layers.N.q/k/v}, {@code o_proj}, {@code [gate | up]} (or {@code up}) and {@code down}.
     */
    private String named(String key) {
        DecoderConfig c = model.config();
        return c.architecture() == Architecture.GPT2 ? key : blockName(c, layerOf(key)) + "." + familyName(c, linearOf(key));
    }

    /** A fused linear's name in the Llama family's words. */
    private static String familyName(DecoderConfig c, DecoderWeights.Linear k) {
        return switch (k) {
            case QKV -> "q/k/v";
            case OUT -> "o_proj";
            case UP -> c.mlp().gated() ? "[gate | up]" : "up";
            case DOWN -> "down";
        };
    }

    /** Block {@code layer}'s label: {@code h.N} (GPT-2) or {@code layers.N}. */
    static String blockName(DecoderConfig c, int layer) {
        return (c.architecture() == Architecture.GPT2 ? "h." : "layers.") + layer;
    }

    /** The plaintext layer named like an adapter key ({@code h.N.attn.c_attn}, {@code h.N.mlp.c_fc}, ...). */
    static PlainLinear linear(DecoderWeights w, String key) {
        DecoderWeights.Layer l = w.layers().get(layerOf(key));
        DecoderWeights.Linear k = linearOf(key);
        return PlainLinear.of(k.weight(l), k.bias(l));
    }

    /** The block index of a fused-linear key {@code h.N.…}. */
    static int layerOf(String key) {
        String[] parts = key.split("\\.", 3);
        if (parts.length != 3 || !parts[0].equals("h")) {
            throw new IllegalArgumentException("not a fused-linear key: " + key);
        }
        return Integer.parseInt(parts[1]);
    }

    /** Which fused linear a key {@code h.N.module} names. */
    static DecoderWeights.Linear linearOf(String key) {
        String module = key.split("\\.", 3)[2];
        for (DecoderWeights.Linear k : DecoderWeights.Linear.values()) {
            if (k.module().equals(module)) {
                return k;
            }
        }
        throw new IllegalArgumentException("not a fused-linear key: " + key);
    }

    private Matrix gaussian(int rows, int cols) {
        Matrix m = new Matrix(rows, cols);
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] = (float) data.nextGaussian();
        }
        return m;
    }

    // ---- adapters ------------------------------------------------------------------------------

    /**
     * A random adapter for {@code c} (rank {@code min(4, n_embd)}, every module), written in peft's layout
     * to a temporary directory, loaded through {@link LoraAdapter#load} and the directory removed.
     */
    public static LoraAdapter randomAdapter(Gpt2Config c, long seed) {
        return randomAdapter(Gpt2Adapter.config(c), seed);
    }

    /** As {@link #randomAdapter(Gpt2Config, long)} for any family (Llama: every projection targeted). */
    public static LoraAdapter randomAdapter(DecoderConfig c, long seed) {
        Path dir = null;
        try {
            dir = Files.createTempDirectory("privllm-lora");
            int r = Math.min(4, c.hidden());
            LoraAdapter.writeRandom(dir, c, r, 2f * r, c.architecture() == org.privllm.model.Architecture.GPT2
                    ? List.of("c_attn", "c_proj", "c_fc") : LoraAdapter.LLAMA_TARGETS, seed);
            return LoraAdapter.load(dir, c);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary adapter (" + e.getMessage() + ")", e);
        } finally {
            if (dir != null) {
                try (Stream<Path> s = Files.walk(dir)) {
                    s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                } catch (IOException ignored) {
                    // a leftover temp dir is harmless
                }
            }
        }
    }
}
