package org.privllm.lab.workload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.privllm.lab.report.Progress;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderModel;
import org.privllm.model.Fixture;
import org.privllm.model.LlamaFixture;
import org.privllm.model.SafeTensors;
import org.privllm.model.TransformerOps;
import org.privllm.protocol.Executor;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PrivacyLevel;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;

/**
 * The workload analyzer on the Llama family (RMSNorm, RoPE, grouped key/value heads, SwiGLU, Qwen2's biases, Qwen3's
 * q/k norms) and at the blinded privacy levels: counts worked out by hand on a tiny Llama shape (1 layer, hidden 8,
 * 4 query heads sharing 2 KV heads of width 4 — wider than hidden/heads —, intermediate 12, vocab 7; 3 prompt
 * tokens, 1 new token: one prefill of 3 rows, the LM head on 1 row), the plaintext count against an analytic Llama
 * formula, the blinded levels' trusted count against the decoder's own {@code TrustedWork}, and whole runs on each
 * family where every live row must give the plaintext ids, agree with its plan and with bench's boundary meter.
 */
class WorkloadLlamaTest {
    static final DecoderModel TINY = llama(LlamaFixture.Spec.of(Architecture.LLAMA, 1, 8, 4, 2, 4, 12, 7, 16));
    static final WorkloadAnalyzer.Options ONE = new WorkloadAnalyzer.Options(3, 1, 1, 10, 50, List.of(), List.of(), 1, 7L,
            false, 1, 10);
    static final int[] PROMPT = {1, 4, 2};

    // n = 3 rows at prefill, 1 row at the head; no biases. q/k/v: 8 → (4 + 2·2)·4 = 32; output 16 → 8; [gate|up] 8 → 24.
    static final long C_ATTN = 2 * 3 * 8 * 32;            // 1536
    static final long C_PROJ = 2 * 3 * 16 * 8;            // 768
    static final long C_FC = 2 * 3 * 8 * 24;              // 1152
    static final long DOWN = 2 * 3 * 12 * 8;              // 576
    static final long HEAD = 2 * 1 * 8 * 7;               // 112
    static final long LINEARS = C_ATTN + C_PROJ + C_FC + DOWN + HEAD;
    // RoPE on 3 rows' 4 query and 2 key heads of 4: 3 flops per element
    static final long ROPE = 3 * 3 * (4 + 2) * 4;         // 216
    // causal keys at prefill 1 + 2 + 3 = 6; per key and query head 4·hd + 5 (softmax)
    static final long CORE = 6 * 4 * (4 * 4 + 5);         // 504
    static final long RMS = 8 * 3 * 8;                    // 192 per norm (attention, MLP, final)
    static final long SILU = 8 * 3 * 12;                  // 288: silu(gate)·up
    static final long RES = 3 * 8;                        // 24 per residual add
    static final long EMBED = 3 * 8;                      // 24
    static final long WHOLE_MODEL = LINEARS + ROPE + CORE + 3 * RMS + SILU + 2 * RES + EMBED;

    static DecoderModel llama(LlamaFixture.Spec spec) {
        try {
            Path dir = Files.createTempDirectory("privllm-lab-llama");
            Fixture.write(dir, spec);
            DecoderModel m = DecoderModel.load(dir);
            try (var s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The live count and the plan of an implemented strategy, both checked against the hand count. */
    static WorkloadAnalyzer.Result assertCounts(Placement p, Function<List<Executor>, TransformerOps> build, long trusted,
                                                long untrusted, long trips, long to, long from) {
        Ledger plan = GenerationPlan.replay(p, 3, 1);
        WorkloadAnalyzer.Result live = WorkloadAnalyzer.liveParties(TINY, p, build, PROMPT, ONE);
        for (Ledger l : List.of(plan, live.counts())) {
            assertThat(l.trustedFlops()).as("trusted flops").isEqualTo(trusted);
            assertThat(l.untrustedFlops()).as("untrusted flops").isEqualTo(untrusted);
            assertThat(l.roundTrips()).as("round trips").isEqualTo(trips);
            assertThat(l.bytesToExecutor()).as("bytes to").isEqualTo(to);
            assertThat(l.bytesFromExecutor()).as("bytes from").isEqualTo(from);
        }
        assertThat(live.planAgrees()).isTrue();
        return live;
    }

    @Test
    void plainLlamaLayerByHand() {
        assertCounts(new PlainPlacement(TINY.config()), null, 0, WHOLE_MODEL, 1, 4 * 3, 4 * 7);
        Ledger l = GenerationPlan.replay(new PlainPlacement(TINY.config()), 3, 1);
        assertThat(l.untrustedByOp()).containsEntry("rope", ROPE).containsEntry("rms_norm", 3 * RMS)
                .containsEntry("silu_gating", SILU).containsEntry("c_attn", C_ATTN).containsEntry("attention_core", CORE)
                .doesNotContainKeys("layernorm", "activation");
    }

    @Test
    void trustedNonlinearLlamaByHand() {
        long trusted = EMBED + RMS + ROPE + CORE + RES + RMS + SILU + RES + RMS;
        long to = 4 * (3 * 8 + 3 * 16 + 3 * 8 + 3 * 12 + 8);
        long from = 4 * (3 * 32 + 3 * 8 + 3 * 24 + 3 * 8 + 7);
        Placement p = new TrustedNonlinearPlacement(TINY.config());
        assertCounts(p, ex -> TrustedAttentionDecoder.plaintextLinears(TINY.config(), TINY.weights(), ex.get(0)),
                trusted, LINEARS, 5, to, from);
        Ledger plan = GenerationPlan.replay(p, 3, 1);
        // setup: open + 5 uploads of bare float32 weights
        assertThat(plan.setupRoundTrips()).isEqualTo(6);
        assertThat(plan.setupBytesToExecutor()).isEqualTo(4 * (8 * 32 + 16 * 8 + 8 * 24 + 12 * 8 + 8 * 7));
        // resident: embeddings (no learned positions), 3 RMSNorm gains of 8, the KV cache 2·1 layer·4 slots·kvWidth 8;
        // peak working set: attention's 3·(8 + 32 + 16) + the 3 + 0 score slots
        assertThat(plan.trustedPeakBytes()).isEqualTo(4 * (7 * 8 + 3 * 8 + 2 * 4 * 8 + 3 * (8 + 32 + 16) + 3));
    }

    @Test
    void maskedPermutationMaskModeLlamaByHand() {
        // permutation masks cost n·dim; the q/k masks are RoPE-commuting (they only change the executor's inputs)
        long trusted = EMBED + RMS + 3 * 8 + 3 * 8 + RES                     // attention: mask in, unmask out, residual
                + RMS + 3 * 8 + 2 * 3 * 12 + SILU                             // [gate|up]: mask in, unmask diag(N_gate, N_up)
                + 3 * 12 + 3 * 8 + RES                                        // down
                + RMS                                                         // final norm
                + 8 + 7;                                                      // head: mask 1 row, unpermute 7 logits
        long untrusted = C_ATTN + ROPE + CORE + C_PROJ + C_FC + DOWN + HEAD;
        // startCache (one int), attention (rows + one int32 position per row + hd/2 float64 frequencies), up, down, head
        long to = 4 + (4 * 3 * 8 + 4 * 3 + 8 * 2) + 4 * 3 * 8 + 4 * 3 * 12 + 4 * 8;
        long from = 4 * 3 * 8 + 4 * 3 * 24 + 4 * 3 * 8 + 4 * 7;
        ObfuscationConfig obf = ObfuscationConfig.defaults().withFamily(MaskFamily.parse("perm")).withSeed(3);
        assertCounts(new MaskedPlacement(TINY.config(), MaskFamily.parse("perm"), ObfuscationMode.MASK),
                ex -> new ObfuscatedDecoder(TINY.config(), TINY.weights(), ex.get(0), obf, Map.of()),
                trusted, untrusted, 6, to, from);
    }

    /** One blinded linear on {@code n} rows of {@code in → out} (no bias): pads, blinding, recombination; T·W at strong. */
    static long blinded(boolean strong, long n, long in, long out) {
        return 20 * n * in + 2 * n * in + n * out + (strong ? 2 * n * in * out : 0);
    }

    /** The blinded levels' trusted work, with TrustedWork's constants (norm 8, SiLU gating 14, RoPE 3, a Gaussian 20). */
    static long blindedTrusted(boolean strong) {
        long attentionCore = 3 * (4 * 3 * 16 + 5 * 3 * 4); // every prefill row at the full context of 3: 4·ctx·H·hd + 5·ctx·H
        return 8 * 3 * 8 + 3 * 8 + blinded(strong, 3, 8, 32) + 3 * 3 * 6 * 4 + attentionCore + blinded(strong, 3, 16, 8)
                + 8 * 3 * 8 + blinded(strong, 3, 8, 24)
                + 14 * 3 * 12 + 3 * 8 + blinded(strong, 3, 12, 8)
                + 3 * 8 + 8 * 3 * 8                                          // embedding, final norm
                + 7 + blinded(strong, 1, 8, 7);                               // sampling, head
    }

    @Test
    void strongLevelByHandAndAsTheDecoderCountsIt() {
        AtomicReference<TrustedAttentionDecoder> decoder = new AtomicReference<>();
        BlindingConfig cfg = BlindingConfig.of(PrivacyLevel.STRONG).withSeed(5);
        long to = 8 * (3 * 8 + 3 * 16 + 3 * 8 + 3 * 12 + 8), from = 8 * (3 * 32 + 3 * 8 + 3 * 24 + 3 * 8 + 7);
        WorkloadAnalyzer.Result r = assertCounts(new BlindedPlacement(TINY.config(), PrivacyLevel.STRONG), parties -> {
            decoder.set(TrustedAttentionDecoder.blinded(TINY.config(), TINY.weights(), Map.of(), parties, cfg));
            return decoder.get();
        }, blindedTrusted(true), LINEARS, 5, to, from);
        // the decoder counted a warm-up and the measured generation, each the same as the ledger's one
        assertThat(decoder.get().trustedWork().total()).isEqualTo(2 * r.counts().trustedFlops());
        assertThat(r.meter()).isEqualTo(WorkloadAnalyzer.Boundary.of(r.counts()));
        assertThat(r.counts().setupRoundTrips()).isEqualTo(6);
    }

    @Test
    void twoPartyLevelCountsBothExecutors() {
        AtomicReference<TrustedAttentionDecoder> decoder = new AtomicReference<>();
        BlindingConfig cfg = BlindingConfig.of(PrivacyLevel.TWO_PARTY).withSeed(6);
        long to = 8 * (3 * 8 + 3 * 16 + 3 * 8 + 3 * 12 + 8), from = 8 * (3 * 32 + 3 * 8 + 3 * 24 + 3 * 8 + 7);
        WorkloadAnalyzer.Result r = assertCounts(new BlindedPlacement(TINY.config(), PrivacyLevel.TWO_PARTY), parties -> {
            assertThat(parties).hasSize(2);
            decoder.set(TrustedAttentionDecoder.blinded(TINY.config(), TINY.weights(), Map.of(), parties, cfg));
            return decoder.get();
        }, blindedTrusted(false), 2 * LINEARS, 10, 2 * to, 2 * from);
        assertThat(decoder.get().trustedWork().total()).isEqualTo(2 * r.counts().trustedFlops());
        assertThat(r.counts().trustedByOp()).doesNotContainKey("pad_products");
        assertThat(r.meter()).isEqualTo(WorkloadAnalyzer.Boundary.of(r.counts())); // both parties' meters summed
        assertThat(r.counts().setupRoundTrips()).isEqualTo(12);
    }

    /**
     * An analytic Llama count, written independently: per token and layer {@code 2·(d·(H + 2·KV)·hd + H·hd·d +
     * 3·d·inner)} for the linear layers (q/k/v, o, gate, up, down) plus {@code 4·H·hd·ctx} for attention over
     * {@code ctx} keys; {@code 2·d·V} per LM-head row.
     */
    @Test
    void plainCountMatchesAnalyticLlamaWithin1Percent() {
        int layers = 2, d = 512, heads = 8, kv = 2, hd = 48, inner = 1376, vocab = 2000, prompt = 12, fresh = 4;
        DecoderModel m = llama(LlamaFixture.Spec.of(Architecture.LLAMA, layers, d, heads, kv, hd, inner, vocab, 64));
        double analytic = 0;
        for (int pos = 0; pos < prompt + fresh - 1; pos++) { // the last new token is never fed back
            analytic += layers * (2.0 * ((double) d * (heads + 2 * kv) * hd + (double) heads * hd * d + 3.0 * d * inner)
                    + 4.0 * heads * hd * (pos + 1));
        }
        analytic += fresh * 2.0 * d * vocab;
        WorkloadAnalyzer.Options o = new WorkloadAnalyzer.Options(prompt, fresh, 1, 10, 50, List.of(), List.of(), 1, 1L,
                false, 1, 10);
        WorkloadAnalyzer.Result r = WorkloadAnalyzer.live(m, new PlainPlacement(m.config()), null,
                new int[] {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, o);
        assertThat((double) r.counts().untrustedFlops()).isCloseTo(analytic, org.assertj.core.data.Percentage.withPercentage(1));
        assertThat(r.counts().trustedFlops()).isZero();
        assertThat(r.planAgrees()).isTrue();
    }

    /** Every strategy and level on one model: live rows give plaintext's ids, equal their plan and bench's meter. */
    static void assertWholeRun(DecoderModel m, List<MaskFamily> families) {
        WorkloadAnalyzer.Options o = new WorkloadAnalyzer.Options(4, 3, 1, 10, 50, families,
                List.of(ObfuscationMode.MASK, ObfuscationMode.PAD), 1, 9L, false, 1, 10, List.of(),
                List.of(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY));
        List<WorkloadAnalyzer.Result> rs = WorkloadAnalyzer.run(m, o,
                new Progress("workload", WorkloadAnalyzer.steps(o), new PrintStream(OutputStream.nullOutputStream())));
        assertThat(rs).hasSize(WorkloadAnalyzer.steps(o));
        assertThat(rs).extracting(r -> r.placement().strategy()).containsSubsequence("plain", "trusted_nonlinear", "masked",
                "strong", "two-party", "masked_gpu_nonlinear", "amulet_reference");
        int[] plain = rs.get(0).measured().ids();
        String what = m.config().architecture().modelType();
        for (WorkloadAnalyzer.Result r : rs) {
            String row = what + " " + r.placement().strategy() + " " + r.placement().mode() + " " + r.placement().family();
            assertThat(r.counts().untrustedFlops()).as(row).isPositive();
            if (!r.placement().live()) {
                assertThat(r.measured()).as(row).isNull();
                continue;
            }
            assertThat(r.notRunBecause()).as(row).isNull();
            assertThat(r.measured().ids()).as(row).containsExactly(plain);
            assertThat(r.planAgrees()).as(row).isTrue();
            if (!(r.placement() instanceof PlainPlacement)) {
                assertThat(r.meter()).as(row).isEqualTo(WorkloadAnalyzer.Boundary.of(r.counts()));
                assertThat(WorkloadReport.agreement(r, rs, o.promptTokens()).meterAgrees()).as(row).isTrue();
            }
        }
    }

    @Test
    void wholeRunOnLlamaQwen2Qwen3AndMistral() {
        // GQA with head_dim ≠ hidden/heads, llama3 scaling; Qwen2's q/k/v biases; Qwen3's q/k norms with attention
        // biases (the seed level's trusted round trip); Mistral with one KV head
        assertWholeRun(llama(new LlamaFixture.Spec(Architecture.LLAMA, 2, 16, 4, 2, 6, 20, 40, 32, false,
                SafeTensors.DType.F32, 1, 1, 10000.0, new org.privllm.model.DecoderConfig.Llama3Scaling(8, 1, 4, 8), false)),
                List.of(MaskFamily.parse("perm"), MaskFamily.parse("block:4")));
        assertWholeRun(llama(LlamaFixture.Spec.of(Architecture.QWEN2, 2, 24, 4, 2, 6, 28, 50, 32)),
                List.of(new MaskFamily.Orthogonal()));
        assertWholeRun(llama(new LlamaFixture.Spec(Architecture.QWEN3, 2, 16, 4, 1, 8, 24, 40, 32, true,
                SafeTensors.DType.F32, 1, 2, 1e6, null, true)), List.of(MaskFamily.parse("perm"), new MaskFamily.Orthogonal()));
        assertWholeRun(llama(LlamaFixture.Spec.of(Architecture.MISTRAL, 1, 16, 2, 1, 8, 24, 60, 64)),
                List.of(MaskFamily.parse("gaussian")));
    }

    @Test
    void qwen3QueryKeyNormRoundTripIsCounted() {
        DecoderModel q3 = llama(new LlamaFixture.Spec(Architecture.QWEN3, 1, 16, 4, 2, 8, 24, 40, 32, false,
                SafeTensors.DType.F32, 1, 3, 1e6, null, false));
        Ledger masked = GenerationPlan.replay(new MaskedPlacement(q3.config(), MaskFamily.parse("perm"), ObfuscationMode.MASK), 3, 1);
        // q/k/v as a linear call, then the attention call on the given [Q|K|V] rows: one more round trip than Llama
        assertThat(masked.roundTrips()).isEqualTo(7);
        assertThat(masked.trustedByOp()).containsEntry("qk_norm", 8L * 3 * (4 + 2) * 8);
        assertThat(masked.untrustedByOp()).doesNotContainKey("qk_norm");
        Ledger plain = GenerationPlan.replay(new PlainPlacement(q3.config()), 3, 1);
        assertThat(plain.untrustedByOp()).containsEntry("qk_norm", 8L * 3 * (4 + 2) * 8);
        Ledger strong = GenerationPlan.replay(new BlindedPlacement(q3.config(), PrivacyLevel.STRONG), 3, 1);
        assertThat(strong.trustedByOp()).containsEntry("qk_norm", 8L * 3 * (4 + 2) * 8).containsKey("rope");
    }

    @Test
    void storiesAtEveryLevel() {
        Path s = Path.of(System.getProperty("privllm.shared", "../shared")).resolve("fixtures").resolve("stories260k");
        Assumptions.assumeTrue(Files.exists(s.resolve("config.json")), "stories260k absent");
        assertWholeRun(DecoderModel.load(s), List.of(MaskFamily.parse("block:64")));
    }

    @Test
    void optionsRefuseTheSeedLevelAmongTheBlindedOnes() {
        assertThatThrownBy(() -> new WorkloadAnalyzer.Options(3, 1, 1, 10, 50, List.of(), List.of(), 1, 1L, false, 1, 10,
                List.of(), List.of(PrivacyLevel.SEED))).hasMessageContaining("masked");
        assertThatThrownBy(() -> new BlindedPlacement(TINY.config(), PrivacyLevel.SEED)).isInstanceOf(IllegalArgumentException.class);
    }
}
