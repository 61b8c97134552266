package org.privllm.lab.leakage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;
import org.privllm.tensor.Matrix;
import org.privllm.testing.Cases;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.mask.BlockDiagonalMask;
import org.privllm.trusted.mask.Mask;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscationMode;

/**
 * Attacks 6–8 (pad removal, mask recovery from c_attn's structure or by double-centring, the LM-head readout)
 * on small random weights obfuscated exactly as the scheme does, at float32 wire precision: each recovers what
 * it should, for every mask family.
 */
class SeedAttacksTest {
    static final String[] FAMILIES = {"gaussian", "orthogonal", "block:4", "perm"};

    static Stream<Arguments> padCases() {
        return Cases.of(12, 31_000, d -> new Object[] {d.oneOf(FAMILIES), d.intIn(4, 24), d.intIn(1, 3), d.bool(), d.anyLong()});
    }

    /** A random weight, masks of the family, a private adapter, a pad: what pad mode sends and what the executor holds. */
    @ParameterizedTest(name = "[{index}] {0} d={1} out={2}·d lora={3}")
    @MethodSource("padCases")
    void padRemovalGivesTheMaskedInput(String family, int d, int widen, boolean lora, long seed) {
        Random rnd = new Random(seed);
        int out = widen * d, n = 5, r = 2;
        MaskFamily f = MaskFamily.parse(family);
        Mask in = f.sample(d, rnd), outMask = f.sample(out, rnd);
        DMatrixRMaj w = Dense.gaussian(d, out, 0.02, rnd);
        DMatrixRMaj a = lora ? Dense.gaussian(d, r, 0.1, rnd) : null, b = lora ? Dense.gaussian(r, out, 0.05, rnd) : null;
        DMatrixRMaj wFull = lora ? Dense.add(w, Dense.mul(a, b)) : w;
        DMatrixRMaj x = Dense.gaussian(n, d, 1, rnd), t = Dense.of(Dense.toFloat(Dense.gaussian(n, d, 1, rnd)));
        Matrix sent = in.apply(Dense.toFloat(Dense.sub(x, t)));
        Matrix compensation = outMask.apply(Dense.toFloat(Dense.mul(t, wFull)));
        ExecutorView.Weight held = new ExecutorView.Weight(maskBoth(w, in, outMask), null,
                lora ? in.leftInverse(Dense.toFloat(a)) : null, lora ? outMask.apply(Dense.toFloat(b)) : null);

        PadRemoval.Result got = PadRemoval.of(held).remove(sent, compensation);

        assertThat(LeakageLab.relativeError(got.masked(), in.apply(Dense.toFloat(x)), false)).isLessThan(1e-4);
        assertThat(got.residual()).isLessThan(1e-4);
    }

    @Test
    void padsOfAnInputWiderThanTheOutputAreNotDetermined() {
        // C = (T·N)·W̃ has more unknowns per row than equations when W̃ is wider on its input (the MLP's c_proj)
        ExecutorView.Weight narrowing = new ExecutorView.Weight(new Matrix(24, 8), null, null, null);
        assertThat(PadRemoval.applies(narrowing)).isFalse();
        assertThatThrownBy(() -> PadRemoval.of(narrowing)).hasMessageContaining("undetermined");
        assertThat(PadRemoval.applies(new ExecutorView.Weight(new Matrix(8, 8), null, null, null))).isTrue();
    }

    static Stream<Arguments> structureCases() {
        return Cases.of(12, 32_000, d -> new Object[] {FAMILIES[d.index() % FAMILIES.length], d.oneOf(16, 32), d.oneOf(2, 4),
                d.anyLong()});
    }

    /** c_attn's per-head output blocks fix its input mask up to a scalar, for every family (Gaussian included). */
    @ParameterizedTest(name = "[{index}] {0} d={1} heads={2}")
    @MethodSource("structureCases")
    void structureSolveRecoversTheInputMaskUpToAScalar(String family, int d, int heads, long seed) {
        Random rnd = new Random(seed);
        MaskFamily f = MaskFamily.parse(family);
        Mask in = f.sample(d, rnd);
        DMatrixRMaj w = Dense.gaussian(d, 3 * d, 0.02, rnd);
        Matrix wTilde = maskBoth(w, in, attentionOutputMask(f, d, heads, rnd));
        assertThat(MaskRecovery.structureFeasible(d, heads)).isTrue();

        Matrix m = MaskRecovery.structure(wTilde, Dense.toFloat(w), heads);

        Matrix inverse = Dense.toFloat(in.applyInverse(CommonOps_DDRM.identity(d)));
        assertThat(LeakageLab.relativeError(m, inverse, true)).isLessThan(family.equals("gaussian") ? 1e-3 : 1e-4);
    }

    @Test
    void structureSolveIsRefusedWhereItsDenseSystemIsTooLarge() {
        assertThat(MaskRecovery.structureFeasible(64, 4)).isTrue();   // 1024 unknowns
        assertThat(MaskRecovery.structureFeasible(768, 12)).isFalse(); // 49152 unknowns
    }

    /** Double-centring removes both sides' scales: the permutation comes out exactly, the scales up to one factor. */
    @Test
    void doubleCentringRecoversAPermutationMaskExactlyOnIidRows() {
        Random rnd = new Random(9);
        int d = 32, heads = 4;
        MaskFamily perm = MaskFamily.parse("perm");
        Mask in = perm.sample(d, rnd);
        DMatrixRMaj w = Dense.gaussian(d, 3 * d, 0.02, rnd); // i.i.d. rows: the old sorted-profile attack fails here
        Matrix wTilde = maskBoth(w, in, attentionOutputMask(perm, d, heads, rnd));
        Matrix x = Dense.toFloat(Dense.gaussian(6, d, 1, rnd));

        Attacks.RecoveredPermutation got = MaskRecovery.permutation(MaskRecovery.profiles(wTilde),
                MaskRecovery.profiles(Dense.toFloat(w)));

        assertThat(LeakageLab.relativeError(got.unmask(in.apply(x)), x, true)).isLessThan(1e-5);
        assertThat(LeakageLab.relativeError(Attacks.unmaskPermutation(in.apply(x), wTilde, Dense.toFloat(w)), x, true))
                .as("the uncentred profiles of the earlier attack").isGreaterThan(0.5);
    }

    @Test
    void tylerScatterIsAffineEquivariantAndIgnoresLengths() {
        Random rnd = new Random(5);
        int d = 6, m = 400;
        Matrix x = Dense.toFloat(Dense.gaussian(m, d, 1, rnd));
        DMatrixRMaj a = Dense.gaussian(d, d, 1, rnd);
        Matrix y = Dense.toFloat(Dense.mul(Dense.of(x), Dense.transpose(a)));
        for (int r = 0; r < m; r++) { // arbitrary positive lengths
            double s = Math.exp(3 * rnd.nextGaussian());
            for (int j = 0; j < d; j++) {
                y.data[r * d + j] *= (float) s;
            }
        }
        DMatrixRMaj expected = Dense.mul(Dense.mul(a, HeadReadout.tyler(x)), Dense.transpose(a));
        assertThat(LeakageLab.relativeError(Dense.toFloat(HeadReadout.tyler(y)), Dense.toFloat(expected), true)).isLessThan(1e-4);
    }

    static Stream<Arguments> headCases() {
        return Cases.of(8, 33_000, d -> new Object[] {FAMILIES[d.index() % FAMILIES.length], d.anyLong()});
    }

    /**
     * The LM head {@code N⁻¹·wteᵀ·P·S} of the lab's small model under every family: the readout recovers the head's
     * input mask and reads every greedy token from masked head inputs.
     */
    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("headCases")
    void headReadoutReadsGreedyTokensUnderAnyInvertibleMask(String family, long seed) {
        PublicModel pub = LeakageLabTest.LAB.publicModel();
        Matrix wte = pub.weights().head();
        int d = wte.cols, vocab = wte.rows;
        Random rnd = new Random(seed);
        MaskFamily f = MaskFamily.parse(family);
        Mask n = f.sample(d, rnd), vocabularyMask = MaskFamily.parse("perm").sample(vocab, rnd);
        Matrix headTilde = vocabularyMask.apply(n.leftInverse(wte.transpose()));
        Matrix h = Dense.toFloat(Dense.gaussian(20, d, 1, rnd));
        Matrix hTilde = n.apply(h);

        HeadReadout readout = HeadReadout.recover(headTilde, f, pub);

        for (int r = 0; r < h.rows; r++) {
            float[] logits = org.privllm.tensor.Kernels.matmulTransposed(h.rows(r, r + 1), wte).data;
            assertThat(readout.token(hTilde.rows(r, r + 1))).as("row %d", r).isEqualTo(Attacks.argmax(logits));
        }
    }

    /** A small model with GPT-2's vocabulary (2 layers, width 32, 4 heads): the lab's rows end to end. */
    static final LeakageLab GPT2_VOCAB = lab(Gpt2Config.of(2, 32, 4, 50257, 32));

    static LeakageLab lab(Gpt2Config c) {
        Gpt2Model m = LeakageLabTest.write(c, 21);
        return new LeakageLab(m.config(), m.weights(), 3, 17);
    }

    static Stream<Arguments> seedRows() {
        return Stream.of("pad/gaussian:1000.0/session", "pad/perm/call+lora", "pad/orthogonal/session", "pad/block:8/session+lora",
                "mask/perm/session", "mask/gaussian:1000.0/call+lora").map(Arguments::of);
    }

    /**
     * Every {@code seed} family in pad mode, with and without the adapter, on GPT-2's vocabulary: attack 7 reads every
     * prompt token and attack 8 every generated one, where attacks 1, 2 and 5 as first built read (almost) none.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("seedRows")
    void theNewAttacksReadPromptAndOutputInEverySeedRow(String name) {
        LeakageConfig lc = LeakageConfig.all(32).stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
        List<int[]> prompts = LeakagePrompts.resolve(null, null, 50257, 32, 3, 5);

        Map<String, Object> row = GPT2_VOCAB.row(lc, prompts, 8, null);

        assertThat(row.get("recovered_token_rate")).as("prompt tokens after pad removal and mask recovery").isEqualTo(1.0);
        assertThat(row.get("recovered_prompt_rate")).isEqualTo(1.0);
        assertThat((Double) row.get("recovered_mask_rel_err_median")).isLessThan(1e-3);
        assertThat(row.get("readout_token_rate")).as("generated tokens through the recovered head mask").isEqualTo(1.0);
        assertThat(row.get("best_token_rate")).isEqualTo(1.0);
        assertThat(row.get("best_output_token_rate")).isEqualTo(1.0);
        if (lc.mode() == ObfuscationMode.PAD) {
            assertThat((Double) row.get("pad_residual_median")).as("the pads are fully determined").isLessThan(1e-5);
            assertThat((Double) row.get("unmasked_token_rate")).as("attack 2 on padded inputs").isLessThan(0.5);
        } else {
            assertThat(row.get("pad_residual_median")).isNull();
        }
        assertThat(row.get("mask_recovery")).isEqualTo(lc.family() instanceof MaskFamily.Permutation ? "double-centring" : "structure");
    }

    // ---------------------------------------------------------------- helpers

    /** c_attn's output mask: per head {@code N_Q}, {@code N_K = N_Q⁻ᵀ}, {@code N_V}, block-diagonal. */
    static Mask attentionOutputMask(MaskFamily f, int d, int heads, Random rnd) {
        int dh = d / heads;
        List<Mask> q = new ArrayList<>(), k = new ArrayList<>(), v = new ArrayList<>();
        for (int h = 0; h < heads; h++) {
            Mask nq = f.sample(dh, rnd);
            q.add(nq);
            k.add(nq.transposeInverse());
            v.add(f.sample(dh, rnd));
        }
        List<Mask> all = new ArrayList<>(q);
        all.addAll(k);
        all.addAll(v);
        return new BlockDiagonalMask(all);
    }

    /** {@code N_in⁻¹·W·N_out} rounded to float32, as uploaded. */
    static Matrix maskBoth(DMatrixRMaj w, Mask in, Mask out) {
        return Dense.toFloat(out.apply(in.leftInverse(w)));
    }
}
