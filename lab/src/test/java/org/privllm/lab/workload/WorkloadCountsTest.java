package org.privllm.lab.workload;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.Gpt2Model;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.trusted.gpt2.BoundaryMeter;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.untrusted.InProcessExecutor;

/**
 * Counts of every strategy against numbers worked out by hand on a tiny shape (1 layer, d = 4, 2 heads of 2,
 * inner 16, vocab 5; 3 prompt tokens, 1 new token: one prefill of 3 rows, the LM head on 1 row), and the
 * plain count against GPT-2's analytic FLOP formula.
 */
class WorkloadCountsTest {
    static final Gpt2Model TINY = WorkloadFixtures.model(WorkloadFixtures.tiny(), 3);
    static final WorkloadAnalyzer.Options ONE = new WorkloadAnalyzer.Options(3, 1, 1, 10, 50,
            List.of(new MaskFamily.Orthogonal()), List.of(ObfuscationMode.MASK), 1, 7L, false, 1, 10);

    // Tiny shape, n = 3 rows at prefill, 1 row at the head. Linear: 2·n·in·out + n·out (bias).
    static final long C_ATTN = 2 * 3 * 4 * 12 + 3 * 12;   // 324
    static final long C_PROJ = 2 * 3 * 4 * 4 + 3 * 4;     // 108
    static final long C_FC = 2 * 3 * 4 * 16 + 3 * 16;     // 432
    static final long MLP_PROJ = 2 * 3 * 16 * 4 + 3 * 4;  // 396
    static final long HEAD = 2 * 1 * 4 * 5;               // 40, no bias
    // causal keys at prefill: 1 + 2 + 3 = 6; per key and head 4·d_h + 5 (softmax), 2 heads
    static final long CORE = 6 * 2 * (4 * 2 + 5);          // 156
    static final long LN = 8 * 3 * 4;                      // 96 (ln_1, ln_2, ln_f: 3 rows each)
    static final long GELU = 8 * 3 * 16;                   // 384
    static final long RES = 3 * 4;                         // 12 per residual add
    static final long EMBED = 3 * 4;                       // 12
    static final long LINEARS = C_ATTN + C_PROJ + C_FC + MLP_PROJ + HEAD;
    static final long WHOLE_MODEL = LINEARS + CORE + 3 * LN + GELU + 2 * RES + EMBED; // 2164

    static Placement masked(String family, ObfuscationMode mode) {
        return new MaskedPlacement(TINY.config(), MaskFamily.parse(family), mode);
    }

    /** The live count and the plan of an implemented strategy, both checked against the hand count. */
    static void assertCounts(Placement p, java.util.function.Function<org.privllm.protocol.Executor, org.privllm.model.TransformerOps> build,
                             long trusted, long untrusted, long trips, long to, long from) {
        Ledger plan = GenerationPlan.replay(p, 3, 1);
        WorkloadAnalyzer.Result live = WorkloadAnalyzer.live(TINY, p, build, new int[] {1, 4, 2}, ONE);
        for (Ledger l : List.of(plan, live.counts())) {
            assertThat(l.trustedFlops()).as("trusted flops").isEqualTo(trusted);
            assertThat(l.untrustedFlops()).as("untrusted flops").isEqualTo(untrusted);
            assertThat(l.roundTrips()).as("round trips").isEqualTo(trips);
            assertThat(l.bytesToExecutor()).as("bytes to").isEqualTo(to);
            assertThat(l.bytesFromExecutor()).as("bytes from").isEqualTo(from);
        }
        assertThat(live.planAgrees()).isTrue();
    }

    @Test
    void plainByHand() {
        // ids in (3 × int32), 5 logits back, one round trip; everything else on the executor
        assertCounts(new PlainPlacement(TINY.config()), null, 0, WHOLE_MODEL, 1, 12, 20);
    }

    @Test
    void trustedNonlinearByHand() {
        long trusted = EMBED + LN + CORE + RES + LN + GELU + RES + LN;                  // 864
        long to = 4 * (3 * 4 + 3 * 4 + 3 * 4 + 3 * 16 + 4);                             // 352
        long from = 4 * (3 * 12 + 3 * 4 + 3 * 16 + 3 * 4 + 5);                          // 452
        Placement p = new TrustedNonlinearPlacement(TINY.config());
        assertCounts(p, ex -> org.privllm.trusted.privacy.TrustedAttentionDecoder.plaintextLinears(
                TINY.decoder().config(), TINY.decoder().weights(), ex),
                trusted, LINEARS, 5, to, from);
        Ledger plan = GenerationPlan.replay(p, 3, 1);
        // setup: open + 5 uploads; weights and biases in float32
        assertThat(plan.setupRoundTrips()).isEqualTo(6);
        assertThat(plan.setupBytesToExecutor()).isEqualTo(4 * ((48 + 12) + (16 + 4) + (64 + 16) + (64 + 4) + 20));
        // resident: wte + wpe (5 + 8)·4, 6 norm vectors of 4, KV cache 2·1 layer·capacity 4·4; peak working set: mlpUp's 3·(4+4+16)
        assertThat(plan.trustedPeakBytes()).isEqualTo(4 * ((5 + 8) * 4 + 6 * 4 + 2 * 4 * 4 + 3 * (4 + 4 + 16)));
    }

    @Test
    void maskedOrthogonalMaskModeByHand() {
        long dense4 = 2 * 3 * 4 * 4, dense16 = 2 * 3 * 16 * 16;                       // 96, 1536 on 3 rows
        long trusted = EMBED + LN + dense4 + dense4 + RES                               // attention: mask in, unmask c_proj out
                + LN + dense4 + dense16 + GELU                                          // c_fc
                + dense16 + dense4 + RES                                                // mlp c_proj
                + LN                                                                    // ln_f
                + 2 * 1 * 4 * 4 + 5;                                                    // head: mask 1 row, unpermute 5 logits
        long untrusted = C_ATTN + CORE + C_PROJ + C_FC + MLP_PROJ + HEAD;
        // startCache, attention, 2 linear, advanceCache, head
        long to = 4 * 1 + 4 * 12 + 4 * 12 + 4 * 48 + 4 * 4;
        long from = 4 * 12 + 4 * 48 + 4 * 12 + 4 * 5;
        ObfuscationConfig obf = ObfuscationConfig.defaults().withSeed(1);
        assertCounts(masked("orthogonal", ObfuscationMode.MASK),
                ex -> new ObfuscatedDecoder(TINY.config(), TINY.weights(), ex, obf, Map.of()), trusted, untrusted, 6, to, from);
    }

    @Test
    void maskedPermutationPadModeByHand() {
        long trusted = EMBED + LN
                + 3 * 4 + 2 * 3 * 4 * 12 + 6 * 3 * 2 + 3 * 4 + 3 * 4 + RES             // pad, T·W_qkv, 6 head perms, mask, unmask
                + LN + 3 * 4 + 2 * 3 * 4 * 16 + 3 * 16 + 3 * 4 + 3 * 16 + GELU         // c_fc: pad, T·W, perm out, mask in, unmask
                + 3 * 16 + 2 * 3 * 16 * 4 + 3 * 4 + 3 * 16 + 3 * 4 + RES               // mlp c_proj
                + LN
                + 4 + 2 * 4 * 5 + 5 + 4 + 5;                                            // head: pad, T·W, perm V, mask, unpermute
        long untrusted = C_ATTN + CORE + C_PROJ + C_FC + MLP_PROJ + HEAD + 3 * 12 + 3 * 16 + 3 * 4 + 5; // + compensation adds
        long to = 4 * 1 + 4 * (12 + 36) + 4 * (12 + 48) + 4 * (48 + 12) + 4 * (4 + 5);
        long from = 4 * 12 + 4 * 48 + 4 * 12 + 4 * 5;
        ObfuscationConfig obf = ObfuscationConfig.defaults().withFamily(MaskFamily.parse("perm")).withMode(ObfuscationMode.PAD).withSeed(2);
        assertCounts(masked("perm", ObfuscationMode.PAD),
                ex -> new ObfuscatedDecoder(TINY.config(), TINY.weights(), ex, obf, Map.of()), trusted, untrusted, 6, to, from);
    }

    @Test
    void blockFamilyCostsSumOfBlocks() {
        // block:3 on d = 4: blocks of 3 and 1 → 2·n·(9 + 1); on inner 16: five 3-blocks and a 1-block
        assertThat(OpCosts.mask(MaskFamily.parse("block:3"), 3, 4)).isEqualTo(2 * 3 * (9 + 1));
        assertThat(OpCosts.mask(MaskFamily.parse("block:3"), 3, 16)).isEqualTo(2 * 3 * (5 * 9 + 1));
        assertThat(OpCosts.mask(MaskFamily.parse("gaussian"), 3, 16)).isEqualTo(2 * 3 * 256);
    }

    @Test
    void gpuNonlinearPlanByHand() {
        Ledger l = GenerationPlan.replay(new GpuNonlinearPlacement(TINY.config()), 3, 1);
        assertThat(l.trustedFlops()).isEqualTo(EMBED + 2 * 3 * 4 * 4 + 5); // embed, dense residual mask, unpermute
        assertThat(l.untrustedFlops()).isEqualTo(WHOLE_MODEL - EMBED);
        assertThat(l.roundTrips()).isEqualTo(1);
        assertThat(l.bytesToExecutor()).isEqualTo(4 * 3 * 4);
        assertThat(l.bytesFromExecutor()).isEqualTo(4 * 5);
    }

    @Test
    void amuletPlanByHand() {
        Ledger l = GenerationPlan.replay(new AmuletPlacement(TINY.config()), 3, 1);
        // X − T (12), P·X with P 3×3 on 4 columns (2·4·9), ·Q₀ (2·3·16), P⁻¹ on 1 row (2·5·1), output permutation (5)
        assertThat(l.trustedFlops()).isEqualTo(12 + 72 + 96 + 10 + 5);
        assertThat(l.untrustedFlops()).isEqualTo(WHOLE_MODEL);
        assertThat(l.roundTrips()).isEqualTo(2);
        assertThat(l.bytesToExecutor()).isEqualTo(4 * 12 + 4 * 5);
        assertThat(l.bytesFromExecutor()).isEqualTo(4 * 12 + 4 * 5);
    }

    @Test
    void decodeStepsGrowTheAttentionContext() {
        // 3 prompt + 3 new: prefill keys 6, decode steps attend 4 and 5 keys; head on 3 rows
        Ledger l = GenerationPlan.replay(new PlainPlacement(TINY.config()), 3, 3);
        long perRow = (C_ATTN + C_PROJ + C_FC + MLP_PROJ) / 3 + 3 * LN / 3 + GELU / 3 + 2 * RES / 3 + EMBED / 3;
        long expected = 3 * perRow + (6 + 4 + 5) * 2 * 13 + 2 * perRow + 3 * HEAD;
        assertThat(l.untrustedFlops()).isEqualTo(expected);
        assertThat(l.roundTrips()).isEqualTo(3);
    }

    @Test
    void countingExecutorAgreesWithBoundaryMeter() {
        Ledger ledger = new Ledger();
        BoundaryMeter meter = new BoundaryMeter(new InProcessExecutor());
        CountingExecutor counting = new CountingExecutor(meter, ledger);
        ObfuscationConfig obf = ObfuscationConfig.defaults().withMode(ObfuscationMode.PAD).withSeed(4);
        try (ObfuscatedDecoder m = new ObfuscatedDecoder(TINY.config(), TINY.weights(), counting, obf, Map.of())) {
            assertThat(ledger.setupRoundTrips()).isEqualTo(meter.roundTrips());
            assertThat(ledger.setupBytesToExecutor()).isEqualTo(meter.bytesToExecutor());
            ledger.beginInference();
            meter.reset();
            new Generator(new Gpt2Forward(TINY.config(), TINY.weights(), m)).generate(List.of(new int[] {0, 1, 2}), 3,
                    Sampling.GREEDY, -1, null);
            assertThat(ledger.roundTrips()).isEqualTo(meter.roundTrips());
            assertThat(ledger.bytesToExecutor()).isEqualTo(meter.bytesToExecutor());
            assertThat(ledger.bytesFromExecutor()).isEqualTo(meter.bytesFromExecutor());
        }
    }

    /** Every live row with an executor carries what bench's BoundaryMeter saw of the same request, equal to the count. */
    @Test
    void liveRowsCarryTheBoundaryMeterAndItAgrees() {
        WorkloadAnalyzer.Options o = new WorkloadAnalyzer.Options(3, 2, 1, 10, 50, List.of(MaskFamily.parse("perm")),
                List.of(ObfuscationMode.MASK, ObfuscationMode.PAD), 1, 7L, false, 1, 10);
        List<WorkloadAnalyzer.Result> rs = WorkloadAnalyzer.run(TINY, o, new org.privllm.lab.report.Progress("workload", 5, new java.io.PrintStream(java.io.OutputStream.nullOutputStream())));
        int metered = 0;
        for (WorkloadAnalyzer.Result r : rs) {
            WorkloadReport.Agreement a = WorkloadReport.agreement(r, rs, o.promptTokens());
            if (r.measured() == null || r.placement() instanceof PlainPlacement) {
                assertThat(r.meter()).isNull();
                continue;
            }
            metered++;
            assertThat(r.meter()).isEqualTo(WorkloadAnalyzer.Boundary.of(r.counts()));
            assertThat(r.meter().roundTrips()).isPositive();
            assertThat(a.meterAgrees()).isTrue();
            if (r.placement() instanceof MaskedPlacement m) {
                var p = org.privllm.trusted.gpt2.SchemeCost.predict(TINY.config(), m.maskFamily(), m.obfuscationMode(), true, 3);
                assertThat(a.predictedDecodeRatio()).isEqualTo(Math.round(p.decodeRatio() * 1000) / 1000.0);
                assertThat(a.decodeRatio()).isPositive();
            }
        }
        assertThat(metered).isEqualTo(3); // trusted_nonlinear, masked mask, masked pad
    }

    @Test
    void implementedRowsThatCannotRunHereAreCountedFromThePlanWithTheReason() {
        WorkloadAnalyzer.Options o = new WorkloadAnalyzer.Options(4, 2, 1, 10, 50, List.of(), List.of(), 1, 1L, false, 1, 10,
                List.of(MaskFamily.parse("block:2")));
        Gpt2Config wide = Gpt2Config.of(1, 512, 8, 50, 16); // inner 2048
        assertThat(WorkloadAnalyzer.planReason(new MaskedPlacement(wide, MaskFamily.parse("gaussian"), ObfuscationMode.MASK), o,
                Long.MAX_VALUE)).contains("gaussian masks refuse d = 2048");
        assertThat(WorkloadAnalyzer.planReason(new MaskedPlacement(wide, MaskFamily.parse("perm"), ObfuscationMode.MASK), o,
                Long.MAX_VALUE)).isNull();
        assertThat(WorkloadAnalyzer.planReason(new MaskedPlacement(wide, new MaskFamily.Orthogonal(), ObfuscationMode.PAD), o,
                1_000_000)).contains("heap");
        assertThat(WorkloadAnalyzer.planReason(new MaskedPlacement(wide, MaskFamily.parse("block:2"), ObfuscationMode.PAD), o,
                Long.MAX_VALUE)).contains("--plan-families");
    }

    /**
     * GPT-2's analytic count, written independently: per token per layer {@code 2·(d·3d + d·d + 2·d·inner)} for
     * the linear layers plus {@code 4·d·ctx} for attention over {@code ctx} keys; {@code 2·d·V} for each LM-head row.
     */
    @Test
    void plainCountMatchesAnalyticGpt2Within1Percent() {
        int layers = 2, d = 768, inner = 4 * d, vocab = 2000, prompt = 12, fresh = 4;
        Gpt2Model m = WorkloadFixtures.model(Gpt2Config.of(layers, d, 12, vocab, 64), 11);
        double analytic = 0;
        int tokens = prompt + fresh - 1; // the last new token is never fed back
        for (int pos = 0; pos < tokens; pos++) {
            int ctx = pos + 1;
            analytic += layers * (2.0 * ((double) d * 3 * d + (double) d * d + 2.0 * d * inner) + 4.0 * d * ctx);
        }
        analytic += fresh * 2.0 * d * vocab;
        WorkloadAnalyzer.Options o = new WorkloadAnalyzer.Options(prompt, fresh, 1, 10, 50, List.of(), List.of(), 1, 1L, false, 1, 10);
        WorkloadAnalyzer.Result r = WorkloadAnalyzer.live(m, new PlainPlacement(m.config()), null,
                new int[] {5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, o);
        assertThat((double) r.counts().untrustedFlops()).isCloseTo(analytic, org.assertj.core.data.Percentage.withPercentage(1));
        assertThat(r.counts().trustedFlops()).isZero();
        assertThat(r.planAgrees()).isTrue();
    }
}
