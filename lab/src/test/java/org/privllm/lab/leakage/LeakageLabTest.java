package org.privllm.lab.leakage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.lab.report.RunInfo;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;
import org.privllm.model.Gpt2Weights;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.MaskScope;
import org.privllm.trusted.obf.ObfuscationMode;

/**
 * Every attack on a case where it must succeed and one where it must fail, on a small generated model
 * (2 layers, width 16, 2 heads, 2000 tokens; random prompt ids).
 */
class LeakageLabTest {
    static final Gpt2Model MODEL = write(Gpt2Config.of(2, 16, 2, 2000, 32), 5);
    static final LeakageLab LAB = new LeakageLab(MODEL.config(), MODEL.weights(), 3, 17);
    static final List<int[]> PROMPTS = LeakagePrompts.resolve(null, null, 2000, 32, 4, 11);

    static final LeakageConfig ORTHOGONAL = LeakageConfig.masked(ObfuscationMode.MASK, MaskFamily.parse("orthogonal"),
            MaskScope.PER_SESSION, false);
    static final LeakageConfig GAUSSIAN = LeakageConfig.masked(ObfuscationMode.MASK, MaskFamily.parse("gaussian"),
            MaskScope.PER_SESSION, false);
    static final LeakageConfig PAD_GAUSSIAN = LeakageConfig.masked(ObfuscationMode.PAD, MaskFamily.parse("gaussian"),
            MaskScope.PER_CALL, false);

    static Gpt2Model write(Gpt2Config c, long seed) {
        try {
            Path dir = Files.createTempDirectory("privllm-leak");
            Fixture.write(dir, c, seed);
            Gpt2Model m = Gpt2Model.load(dir);
            try (var s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
            return m;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Summed attack scores over the prompts, one session each (recovered, readout: attacks 7 and 8). */
    record Totals(int tokens, int l0, int unmasked, int attention, int output, int outputs, double maxMaskError,
                  int recovered, int readout) {}

    static Totals totals(LeakageLab lab, LeakageConfig lc, List<int[]> prompts) {
        int tokens = 0, l0 = 0, un = 0, attn = 0, out = 0, outs = 0, rec = 0, read = 0;
        double err = 0;
        long seed = 1;
        for (int[] p : prompts) {
            LeakageLab.SessionResult r = lab.attack(lc, lab.collector().run(lc, p, seed++));
            tokens += r.tokens();
            l0 += r.layer0Correct();
            un += r.unmaskedCorrect();
            attn += r.attentionCorrect();
            out += r.outputCorrect();
            outs += r.outputTokens();
            err = Math.max(err, r.maskRelError());
            rec += r.recoveredCorrect();
            read += r.readoutCorrect();
        }
        return new Totals(tokens, l0, un, attn, out, outs, err, rec, read);
    }

    @Test
    void referenceRowsLeakEverything() {
        Totals plain = totals(LAB, LeakageConfig.plain(), PROMPTS.subList(0, 2));
        assertThat(plain.l0()).isEqualTo(plain.tokens());
        Totals tn = totals(LAB, LeakageConfig.trustedNonlinear(), PROMPTS.subList(0, 2));
        assertThat(tn.l0()).as("vocabulary matching on plaintext inputs").isEqualTo(tn.tokens());
        assertThat(tn.unmasked()).isEqualTo(tn.tokens());
        assertThat(tn.attention()).isEqualTo(tn.tokens());
        assertThat(tn.output()).as("greedy tokens from plaintext logits").isEqualTo(tn.outputs());
    }

    @Test
    void orthogonalMasksFallToNormsGramAndSpectralRecovery() {
        Totals t = totals(LAB, ORTHOGONAL, PROMPTS.subList(0, 2));
        assertThat(t.l0()).as("norms + Gram matrix matching").isGreaterThanOrEqualTo((int) (0.9 * t.tokens()));
        assertThat(t.unmasked()).as("tokens after spectral unmasking").isGreaterThanOrEqualTo((int) (0.9 * t.tokens()));
        assertThat(t.maxMaskError()).as("recovered mask error").isLessThan(1e-3);
        assertThat(t.output()).as("output tokens through the permuted head").isGreaterThanOrEqualTo(t.outputs() - 1);
        assertThat(t.recovered()).as("after the structure solve").isEqualTo(t.tokens());
        assertThat(t.readout()).as("logits recomputed from the recovered head input").isEqualTo(t.outputs());
    }

    @Test
    void gaussianMasksDefeatTheFirstAttacksButNotTheStructureSolveNorTheHeadReadout() {
        Totals t = totals(LAB, GAUSSIAN, PROMPTS.subList(0, 2));
        assertThat(t.l0()).as("vocabulary matching").isLessThanOrEqualTo(1);
        assertThat(t.unmasked()).as("after attempted spectral unmasking").isLessThanOrEqualTo(1);
        assertThat(t.maxMaskError()).isGreaterThan(0.5);
        assertThat(t.output()).as("output tokens by eigenbasis signatures").isLessThanOrEqualTo(1);
        assertThat(t.recovered()).as("after c_attn's structure solve").isEqualTo(t.tokens());
        assertThat(t.readout()).as("through the Tyler-whitened head").isEqualTo(t.outputs());
    }

    @Test
    void padsDefeatTheFirstAttacksButComeOffTheirOwnCompensation() {
        Totals t = totals(LAB, PAD_GAUSSIAN, PROMPTS.subList(0, 2));
        assertThat(t.l0()).isLessThanOrEqualTo(1);
        assertThat(t.unmasked()).isLessThanOrEqualTo(1);
        // scores are computed in plaintext score space by design: the probe reads the tokens anyway
        assertThat(t.attention()).isGreaterThanOrEqualTo((int) (0.9 * t.tokens()));
        // and C = (T·N)·W̃ gives the pad: per-call scope and Gaussian masks change nothing
        assertThat(t.recovered()).isEqualTo(t.tokens());
        assertThat(t.readout()).isEqualTo(t.outputs());
    }

    @Test
    void uncentredProfilesRecoverAPermutationOnlyWhenRowsAreDistinguishableDoubleCentringAlways() {
        // The public rows of a random fixture are i.i.d.: uncentred sorted magnitude profiles cannot tell them apart...
        LeakageConfig perm = LeakageConfig.masked(ObfuscationMode.MASK, MaskFamily.parse("perm"), MaskScope.PER_SESSION, false);
        Totals t = totals(LAB, perm, PROMPTS.subList(0, 1));
        assertThat(t.unmasked()).isLessThanOrEqualTo(1);
        // ...double-centred ones can: both sides' scales cancel exactly
        assertThat(t.recovered()).isEqualTo(t.tokens());
        assertThat(t.readout()).isEqualTo(t.outputs());
        // with distinct row scales (like trained weights' outlier dimensions) the same attack recovers the permutation
        Matrix w = new Matrix(8, 64);
        java.util.Random rnd = new java.util.Random(3);
        for (int i = 0; i < 8; i++) {
            for (int j = 0; j < 64; j++) {
                w.data[i * 64 + j] = (float) (rnd.nextGaussian() * Math.pow(3, i));
            }
        }
        int[] pi = {3, 0, 6, 1, 7, 2, 5, 4};
        double[] s = {0.6, 1.7, 1.1, 0.8, 1.9, 0.5, 1.3, 1.0};
        int[] sigma = new int[64];
        double[] sOut = new double[64];
        for (int j = 0; j < 64; j++) {
            sigma[j] = (j * 37) % 64;
            sOut[j] = 0.5 + rnd.nextDouble() * 1.5;
        }
        Matrix wTilde = new Matrix(8, 64);
        for (int i = 0; i < 8; i++) {
            for (int j = 0; j < 64; j++) {
                wTilde.data[pi[i] * 64 + sigma[j]] = (float) (w.data[i * 64 + j] * sOut[j] / s[i]);
            }
        }
        Matrix x = new Matrix(1, 8), xTilde = new Matrix(1, 8);
        for (int i = 0; i < 8; i++) {
            x.data[i] = (float) rnd.nextGaussian();
            xTilde.data[pi[i]] = (float) (x.data[i] * s[i]);
        }
        assertThat(LeakageLab.relativeError(Attacks.unmaskPermutation(xTilde, wTilde, w), x, true)).isLessThan(1e-5);
    }

    @Test
    void attentionProbeFailsWhenScoresCarryNothing() {
        // queries and their biases zeroed: every score is 0 whatever the tokens
        Gpt2Weights w = MODEL.weights();
        List<Gpt2Weights.Layer> layers = new ArrayList<>();
        for (Gpt2Weights.Layer l : w.layers()) {
            Matrix qkv = l.cAttn().copy();
            float[] bias = l.cAttnBias().clone();
            int d = MODEL.config().embd();
            for (int r = 0; r < d; r++) {
                java.util.Arrays.fill(qkv.data, r * 3 * d, r * 3 * d + d, 0f);
            }
            java.util.Arrays.fill(bias, 0, d, 0f);
            layers.add(new Gpt2Weights.Layer(l.ln1Gamma(), l.ln1Beta(), qkv, bias, l.cProj(), l.cProjBias(), l.ln2Gamma(),
                    l.ln2Beta(), l.cFc(), l.cFcBias(), l.mlpProj(), l.mlpProjBias()));
        }
        LeakageLab flat = new LeakageLab(MODEL.config(), new Gpt2Weights(w.wte(), w.wpe(), layers, w.lnFGamma(), w.lnFBeta(),
                w.lmHead()), 2, 17);
        Totals t = totals(flat, ORTHOGONAL, PROMPTS.subList(0, 2));
        assertThat(t.attention()).isLessThanOrEqualTo(1);
        // ...and linkability by scores is a coin flip (all ties)
        List<int[]> same = LeakagePrompts.resolve(null, null, 2000, 32, 40, 3).stream().filter(p -> p.length == 6).limit(3).toList();
        Map<String, Object> row = flat.row(ORTHOGONAL, same, 9, null);
        assertThat((Double) row.get("link_auc_scores")).isEqualTo(0.5);
    }

    @Test
    void linkabilityFromAttentionScoresSurvivesFreshMasks() {
        List<int[]> same = LeakagePrompts.resolve(null, null, 2000, 32, 40, 3).stream().filter(p -> p.length == 6).limit(3).toList();
        assertThat(same).hasSize(3);
        Map<String, Object> row = LAB.row(PAD_GAUSSIAN, same, 9, null);
        assertThat((Double) row.get("link_auc_length_only")).isEqualTo(0.5); // equal lengths: length tells nothing
        assertThat((Double) row.get("link_auc_scores")).isGreaterThanOrEqualTo(0.99);
        assertThat(row.get("prompt_runs")).isEqualTo(6);
        assertThat(row.get("trusted_sessions")).isEqualTo(2);
        assertThat(row.get("output_length_revealed")).isEqualTo(1.0);
    }

    @Test
    void viewFromTranscriptHasPrefillRowsAndOneHeadCallPerToken() {
        ViewCollector.Sample s = LAB.collector().run(ORTHOGONAL, PROMPTS.get(0), 4);
        assertThat(s.view().promptLength()).isEqualTo(PROMPTS.get(0).length);
        assertThat(s.view().rounds()).isEqualTo(s.generated().length).isEqualTo(3);
        assertThat(s.view().visibleTokens()).isNull();
        assertThat(s.view().qkv()).hasSize(2);
        assertThat(s.view().head().weight().cols).isEqualTo(2000);
        assertThatThrownBy(() -> ExecutorView.fromTranscript(List.of(), MODEL.config()))
                .hasMessageContaining("no generation");
    }

    @Test
    void gridAndReportFiles(@TempDir Path out) throws Exception {
        assertThat(LeakageConfig.all(16)).hasSize(34).extracting(LeakageConfig::name).doesNotHaveDuplicates()
                .contains("plain", "trusted_nonlinear", "mask/orthogonal/session", "pad/block:4/call+lora");
        LAB.run(List.of(LeakageConfig.plain(), ORTHOGONAL), PROMPTS.subList(0, 1), 1, out,
                RunInfo.capture(List.of("privllm", "experiment", "leakage"), "test", MODEL.config(), null), false);
        assertThat(out.resolve("leakage.json")).exists();
        assertThat(out.resolve("leakage.png")).exists();
        String md = Files.readString(out.resolve("leakage.md"));
        assertThat(md).contains("| plain |").contains("mask/orthogonal/session");
    }

    @Test
    void builtInPromptsEncodeWithGpt2sTokenizer(@TempDir Path dir) {
        org.privllm.model.tokenizer.Gpt2Tokenizer.writeGpt2Files(dir);
        var tok = org.privllm.model.tokenizer.Gpt2Tokenizer.load(dir);
        List<int[]> ids = LeakagePrompts.resolve(null, tok, 50257, 1024, 50, 1);
        assertThat(ids).hasSize(50).allSatisfy(p -> assertThat(p.length).isBetween(3, 30));
        assertThat(ids.get(4)).startsWith(464, 2068, 7586, 21831); // "The quick brown fox"
        assertThat(LeakagePrompts.resolve(List.of("Hello World"), tok, 50257, 1024, 2, 1)).allSatisfy(
                p -> assertThat(p).containsExactly(15496, 2159));
    }

    @Test
    void builtInPromptsAreManyAndDistinct() {
        assertThat(LeakagePrompts.BUILT_IN).hasSizeGreaterThanOrEqualTo(50).doesNotHaveDuplicates();
        assertThatThrownBy(() -> LeakagePrompts.resolve(null, null, 10, 8, 0, 1)).hasMessageContaining("--count");
    }

    @Test
    void oneTrustedSessionServesManyPromptsWithTheSameUploadAndMasks() {
        List<int[]> three = List.of(PROMPTS.get(0), PROMPTS.get(1), PROMPTS.get(0));
        List<ViewCollector.Sample> one = LAB.collector().runSession(ORTHOGONAL, three, 5, null);
        assertThat(one).hasSize(3);
        // one upload: every prompt's view holds the same obfuscated weights
        assertThat(one.get(1).view().qkv().get(0).weight()).isSameAs(one.get(0).view().qkv().get(0).weight());
        assertThat(one.get(2).view().head().weight()).isSameAs(one.get(0).view().head().weight());
        // each view holds only its own prompt's calls
        for (int k = 0; k < 3; k++) {
            assertThat(one.get(k).view().promptLength()).isEqualTo(three.get(k).length);
            assertThat(one.get(k).view().rounds()).isEqualTo(3);
        }
        // per-session masks in mask mode: the same prompt crosses identically within the session...
        assertThat(one.get(2).view().prefillInputs().get(0).data).isEqualTo(one.get(0).view().prefillInputs().get(0).data);
        // ...and differently in a fresh session
        ViewCollector.Sample other = LAB.collector().run(ORTHOGONAL, PROMPTS.get(0), 6);
        assertThat(other.view().prefillInputs().get(0).data).isNotEqualTo(one.get(0).view().prefillInputs().get(0).data);
        // the attacks on a shared session give what they give on fresh ones
        Map<Object, Map<String, Object>> perSession = new java.util.IdentityHashMap<>();
        for (ViewCollector.Sample s : one) {
            LeakageLab.SessionResult r = LAB.attack(ORTHOGONAL, s, perSession);
            assertThat(r.layer0Correct()).isEqualTo(r.tokens());
            assertThat(r.unmaskedCorrect()).isEqualTo(r.tokens());
        }
        assertThat(perSession).hasSize(2); // the c_attn eigenbasis and the head's, derived once for the session
    }

    @Test
    void shortlistedDecodingIsTheExactArgminWhenTheWinnerIsShortlisted() {
        java.util.Random rnd = new java.util.Random(7);
        int vocab = 3000;
        double[][] bound = new double[4][vocab], extra = new double[4][vocab];
        for (int i = 0; i < 4; i++) {
            for (int v = 0; v < vocab; v++) {
                bound[i][v] = rnd.nextDouble();
                extra[i][v] = rnd.nextDouble() * 0.01;
            }
        }
        Attacks.RowCost full = (i, decoded, out) -> {
            for (int v = 0; v < vocab; v++) {
                out[v] = bound[i][v] + extra[i][v];
            }
        };
        Attacks.Matcher two = new Attacks.Matcher((i, decoded, out) -> System.arraycopy(bound[i], 0, out, 0, vocab),
                (i, decoded, cands, b, out) -> {
                    for (int k = 0; k < cands.length; k++) {
                        out[k] = b[k] + extra[i][cands[k]];
                    }
                }, 64);
        assertThat(Attacks.decode(4, vocab, two)).containsExactly(Attacks.decode(4, vocab, full));
        // a winner outside the shortlist is missed: the search is two-stage, not exhaustive
        Attacks.Matcher narrow = new Attacks.Matcher((i, decoded, out) -> {
            for (int v = 0; v < vocab; v++) {
                out[v] = v;
            }
        }, (i, decoded, cands, b, out) -> {
            for (int k = 0; k < cands.length; k++) {
                out[k] = cands[k] == vocab - 1 ? -1 : b[k];
            }
        }, 8);
        assertThat(Attacks.decode(1, vocab, narrow)).containsExactly(0);
        assertThat(Attacks.smallest(new double[] {5, 1, Double.NaN, 1, 0, 7}, 4)).containsExactly(4, 1, 3, 0);
    }
}
