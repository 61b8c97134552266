package org.privllm.lab.verify;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.DecoderWeights;
import org.privllm.model.PlainDecoderOps;
import org.privllm.protocol.Executor;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.lora.LoraMerge;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.privacy.BlindedSession;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PlacedLinear;
import org.privllm.trusted.privacy.PrivacyLevel;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.trusted.privacy.TrustedWork;
import org.privllm.trusted.verify.ErrorStats;
import org.privllm.untrusted.InProcessExecutor;

/**
 * The blinded levels' checks ({@code verify --privacy strong|two-party}), on every family, run in the trusted
 * domain against the plaintext engine on the same model:
 * <ol>
 *   <li>{@code stage1_linear}: each fused linear of block 0 (q/k/v, output, up or {@code [gate | up]}, down) and
 *       the LM head, blinded on the executors, vs {@code X·W + b}; {@code stage1_lora}: one adapted fused linear
 *       (its private adapter kept trusted) vs {@code X·(W + s·A·B) + b};
 *   <li>{@code stage2_block}: each whole block — trusted norms and attention core (q/k norms, RoPE, grouped
 *       key/value heads), blinded linears — vs the plaintext block on the same input;
 *   <li>{@code stage3_cache}: prefill and decode steps over the trusted KV cache vs plaintext (final hidden
 *       states and logits per step; the same tokens fed to both);
 *   <li>{@code stage4_module}: the pipeline's trusted work and its blinded products on the plaintext inputs:
 *       norms, the activation, each attention sublayer, the fused q/k/v, up and down, the LM head.
 * </ol>
 * Every comparison is {@code allclose} at atol = rtol = 1e-4 ({@link ErrorStats}). Results carry errors only.
 */
public final class BlindedVerifier {
    private final DecoderModel model;
    private final BlindingConfig blinding;
    private final Map<String, LowRankAdapter> adapters;
    private final LoraAdapter stage1Adapter;
    private final Random data;
    private Supplier<List<Executor>> executors;
    private int batch = 2, promptLength = 6, decodeSteps = 3, linearRows = 8;

    /**
     * @param adapter       the model's private adapter (stages 2–4 and stage 1 LoRA), or null for none
     * @param stage1Adapter the adapter of stage 1 LoRA when {@code adapter} is null ({@link Verifier#randomAdapter})
     * @param data          randomness of the test inputs; pads come from {@code blinding}
     */
    public BlindedVerifier(DecoderModel model, BlindingConfig blinding, LoraAdapter adapter, LoraAdapter stage1Adapter,
                           Random data) {
        this.model = model;
        this.blinding = blinding;
        this.adapters = adapter == null ? Map.of() : adapter.layers();
        this.stage1Adapter = adapter != null ? adapter : stage1Adapter;
        if (this.stage1Adapter == null) {
            throw new IllegalArgumentException("stage 1 LoRA needs an adapter (e.g. Verifier.randomAdapter)");
        }
        this.data = data;
        this.executors = () -> {
            List<Executor> e = new ArrayList<>();
            for (int p = 0; p < blinding.level().parties(); p++) {
                e.add(new InProcessExecutor());
            }
            return e;
        };
        int positions = model.config().positions();
        this.decodeSteps = Math.min(decodeSteps, positions - 1);
        this.promptLength = Math.min(promptLength, positions - this.decodeSteps);
    }

    /** Where each session's executors come from (one per party, closed after the session; default in-process). */
    public BlindedVerifier executors(Supplier<List<Executor>> executors) {
        this.executors = executors;
        return this;
    }

    public PrivacyLevel level() {
        return blinding.level();
    }

    /** Runs every stage; {@code stageDone} hears each stage's name as it completes. */
    public List<Check> run(Consumer<String> stageDone) {
        DecoderConfig c = model.config();
        List<Check> out = new ArrayList<>();
        List<Executor> parties = executors.get();
        try {
            out.addAll(stage1(parties));
            stageDone.accept("stage 1");
            DecoderWeights plainWeights = LoraMerge.merged(model.weights(), adapters);
            PlainDecoderOps plainOps = new PlainDecoderOps(c, plainWeights);
            RecordingOps plainRec = new RecordingOps(plainOps);
            DecoderForward plain = new DecoderForward(c, plainWeights, plainRec);
            try (TrustedAttentionDecoder blindedOps = TrustedAttentionDecoder.blinded(c, model.weights(), adapters, parties,
                    blinding)) {
                RecordingOps blindRec = new RecordingOps(blindedOps);
                DecoderForward blinded = new DecoderForward(c, model.weights(), blindRec);
                PromptBatch prompts = PromptBatch.random(c, batch, promptLength, data);
                ErrorAccumulator blocks = new ErrorAccumulator();
                out.addAll(Verifier.stage2(plain, blinded, prompts, blocks));
                stageDone.accept("stage 2");
                Verifier.Stage3 s3 = Verifier.stage3(plain, blinded, plainRec, blindRec, prompts, decodeSteps);
                out.addAll(s3.checks());
                stageDone.accept("stage 3");
                out.addAll(stage4(plainOps, blindedOps, plainRec, blindRec, prompts, s3, blocks));
                stageDone.accept("stage 4");
            }
        } finally {
            parties.forEach(Executor::close);
        }
        return out;
    }

    private List<Check> stage1(List<Executor> parties) {
        DecoderConfig c = model.config();
        DecoderWeights.Layer l = model.weights().layers().get(0);
        List<Check> out = new ArrayList<>();
        try (BlindedSession s = new BlindedSession(parties, blinding, new TrustedWork())) {
            for (DecoderWeights.Linear k : DecoderWeights.Linear.values()) {
                out.add(linearCheck(s, "stage1_linear", PlacedLinear.of(k.key(0), k.weight(l), k.bias(l), null),
                        k.in(c)));
            }
            out.add(linearCheck(s, "stage1_linear", PlacedLinear.of("lm_head", PackedWeight.packTransposed(model.weights().head()),
                    null, null), c.hidden()));
            String key = stage1Adapter.layers().keySet().stream().sorted().findFirst().orElseThrow();
            LowRankAdapter a = stage1Adapter.layers().get(key);
            DecoderWeights.Layer al = model.weights().layers().get(Verifier.layerOf(key));
            DecoderWeights.Linear k = Verifier.linearOf(key);
            out.add(linearCheck(s, "stage1_lora", PlacedLinear.of(key, k.weight(al), k.bias(al), a), k.in(c)));
        }
        return out;
    }

    /** One blinded call of {@code local} on random rows vs its local product (the adapter's path included). */
    private Check linearCheck(BlindedSession s, String stage, PlacedLinear local, int in) {
        Matrix x = gaussian(linearRows, in);
        PlacedLinear placed = s.bind(local, 1.0);
        String name = local.name() + (local.loraA() != null ? " r=" + local.rank() : "") + " (" + local.inDim() + "x"
                + local.outDim() + ")";
        return new Check(stage, name, ErrorStats.compare(local.local(x), s.forward(placed, x)));
    }

    private List<Check> stage4(PlainDecoderOps plainOps, TrustedAttentionDecoder blindedOps, RecordingOps plainRec,
                               RecordingOps blindRec, PromptBatch p, Verifier.Stage3 s3, ErrorAccumulator blocks) {
        DecoderConfig c = model.config();
        DecoderWeights w = LoraMerge.merged(model.weights(), adapters);
        ErrorAccumulator norm1 = new ErrorAccumulator(), norm2 = new ErrorAccumulator(), act = new ErrorAccumulator(),
                sublayer = new ErrorAccumulator(), qkv = new ErrorAccumulator(), up = new ErrorAccumulator(),
                down = new ErrorAccumulator();
        // fresh caches: each layer's attention sees only this prompt
        plainOps.startCache(p.leftPad(), p.length());
        blindedOps.startCache(p.leftPad(), p.length());
        for (int layer = 0; layer < c.layers(); layer++) {
            DecoderWeights.Layer l = w.layers().get(layer);
            Matrix x = plainRec.ln1(layer);
            norm1.add(x, blindRec.ln1(layer));
            qkv.add(Kernels.matmul(x, PackedWeight.pack(l.qkv()), l.qkvBias()),
                    blindedOps.placement().forward(blindedOps.linear(layer, DecoderWeights.Linear.QKV), x));
            sublayer.add(plainOps.attention(layer, x, p.length()), blindedOps.attention(layer, x, p.length()));
            norm2.add(plainRec.ln2(layer), blindRec.ln2(layer));
            up.add(plainOps.mlpUp(layer, plainRec.ln2(layer)), blindedOps.mlpUp(layer, plainRec.ln2(layer)));
            act.add(plainRec.activation(layer), blindRec.activation(layer));
            down.add(plainOps.mlpDown(layer, plainRec.activation(layer)), blindedOps.mlpDown(layer, plainRec.activation(layer)));
        }
        String norm = c.norm().kind() == DecoderConfig.Norm.Kind.RMS_NORM ? "rms_norm" : "layer_norm";
        String activation = c.mlp().gated() ? "silu gating" : c.mlp().activation().toString().toLowerCase(java.util.Locale.ROOT);
        List<Check> out = new ArrayList<>();
        out.add(module(norm + " (attention input)", norm1.stats()));
        out.add(module("q/k/v (" + c.hidden() + "x" + c.qkvWidth() + ")", qkv.stats()));
        out.add(module("attention sublayer (trusted core" + (c.positionEncoding() instanceof DecoderConfig.Rotary ? ", rope" : "")
                + (c.kvHeads() != c.heads() ? ", " + c.kvHeads() + " kv heads" : "") + (c.qkNorm() ? ", q/k norm" : "") + ")",
                sublayer.stats()));
        out.add(module(norm + " (mlp input)", norm2.stats()));
        out.add(module((c.mlp().gated() ? "[gate | up]" : "up") + " (" + c.hidden() + "x" + c.upWidth() + ")", up.stats()));
        out.add(module(activation, act.stats()));
        out.add(module("down (" + c.inner() + "x" + c.hidden() + ")", down.stats()));
        out.add(module("block", blocks.stats()));
        out.add(module("final norm", s3.hidden()));
        out.add(module("lm_head", ErrorStats.compare(plainOps.lmHead(s3.plainHidden()), blindedOps.lmHead(s3.plainHidden()))));
        out.add(module("whole model", s3.logits()));
        return out;
    }

    private static Check module(String name, ErrorStats stats) {
        return new Check("stage4_module", name, stats);
    }

    private Matrix gaussian(int rows, int cols) {
        Matrix m = new Matrix(rows, cols);
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] = (float) data.nextGaussian();
        }
        return m;
    }
}
