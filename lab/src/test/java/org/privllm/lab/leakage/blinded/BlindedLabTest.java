package org.privllm.lab.leakage.blinded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.privllm.lab.leakage.PublicModel;
import org.privllm.model.Activation;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PrivacyLevel;

/**
 * The blinded levels' attacks work where they should (small pads: the prompt falls) and find nothing at the
 * default pad ratio; the known-plaintext attack catches reused pads; samples split by the batch layout.
 */
class BlindedLabTest {
    static final Gpt2Model M = org.privllm.lab.TestModels.write(
            new Gpt2Config(2, 32, 4, 128, 2000, 64, 1e-5f, Activation.GELU_NEW, true, false, 1999), 31);

    static List<int[]> prompts(int n, long seed) {
        Random r = new Random(seed);
        List<int[]> p = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            p.add(r.ints(3 + r.nextInt(6), 0, M.config().vocab()).toArray());
        }
        return p;
    }

    static Map<String, Object> row(PrivacyLevel level, double rho, boolean known, int party) {
        BlindedLab lab = new BlindedLab(M.config(), M.weights(), 3, Map.of());
        BlindedLab.Collected c = lab.collect(new BlindedLab.Config(level, rho, false, known), prompts(12, 5), 9, null);
        assertThat(c.idsEqualRate()).isEqualTo(1.0);
        assertThat(c.maxLogitError()).isLessThan(1e-4);
        return lab.attack("t", c.parties().get(party), c.repeats().get(party), c.maxLogitError(), c.idsEqualRate(), true, 3);
    }

    static double rate(Map<String, Object> row, String key) {
        return ((Number) row.get(key)).doubleValue();
    }

    /** With pads no larger than the signal, the attacks read the prompt and the generated tokens. */
    @Test
    void smallPadsLeakThePromptToTheAttacks() {
        Map<String, Object> r = row(PrivacyLevel.STRONG, 0.25, false, 0);
        assertThat(rate(r, "matched_filter_l0")).isGreaterThan(0.9);
        assertThat(rate(r, "all_layers_pos0")).isGreaterThan(0.9);
        assertThat(rate(r, "pad_averaging")).isGreaterThan(0.95);
        assertThat(rate(r, "learned_inversion")).isGreaterThan(0.3);
        assertThat(rate(r, "output_next_input")).isGreaterThan(0.9);
        assertThat(rate(r, "link_auc")).isGreaterThan(0.8);
        assertThat(rate(r, "hidden_r2_l0")).as("the hidden rows rebuilt").isGreaterThan(0.6);
        assertThat(rate(r, "output_head_rank")).as("the generated tokens rank high in the executor's logits")
                .isGreaterThan(0.9);
    }

    /** At the default ratio every attack is at chance, for both levels and every party, known plaintext included. */
    @Test
    void defaultPadsHideEverything() {
        for (var c : List.of(new Object[] {PrivacyLevel.STRONG, false, 0}, new Object[] {PrivacyLevel.STRONG, true, 0},
                new Object[] {PrivacyLevel.TWO_PARTY, false, 0}, new Object[] {PrivacyLevel.TWO_PARTY, true, 1})) {
            Map<String, Object> r = row((PrivacyLevel) c[0], BlindingConfig.DEFAULT_RHO, (Boolean) c[1], (Integer) c[2]);
            for (String attack : List.of("matched_filter_l0", "learned_inversion", "score_probe", "all_layers_pos0", "pad_averaging",
                    "output_head_argmax", "output_next_input")) {
                assertThat(rate(r, attack)).as(attack + " at " + c[0]).isLessThan(0.02);
            }
            if ((Boolean) c[1]) {
                assertThat(rate(r, "known_plaintext")).isLessThan(0.02);
            }
            // no better than guessing the mean row without a transcript; the generated tokens rank as at random
            assertThat(rate(r, "hidden_r2_l0")).as("hidden state R² at " + c[0]).isLessThan(0.05);
            assertThat(rate(r, "output_head_rank")).as("head rank at " + c[0]).isBetween(0.3, 0.7);
        }
    }

    /**
     * --row-bucket's rows of pad alone: the energy detector tells them from the real rows when the pads are no larger
     * than the signal, and not at the default ratio; the samples split from bucketed calls still carry the prompt.
     */
    @Test
    void padOnlyRowsAreTellableOnlyWithSmallPads() {
        BlindedLab lab = new BlindedLab(M.config(), M.weights(), 3, Map.of());
        for (double rho : new double[] {1, BlindingConfig.DEFAULT_RHO}) {
            BlindedLab.Collected c = lab.collect(new BlindedLab.Config(PrivacyLevel.STRONG, rho, false, false, 16),
                    prompts(12, 5), 9, null);
            assertThat(c.idsEqualRate()).isEqualTo(1.0);
            assertThat(c.padOnly().get(0).padOnly()).as("pad-only rows were sent").isNotEmpty();
            Map<String, Object> r = lab.attack("t", c.parties().get(0), c.repeats().get(0), c.padOnly().get(0),
                    c.maxLogitError(), c.idsEqualRate(), false, 3);
            if (rho == 1) {
                assertThat(rate(r, "pad_only_auc")).isGreaterThan(0.9);
                assertThat(rate(r, "matched_filter_l0")).as("samples split from bucketed calls").isGreaterThan(0.5);
            } else {
                assertThat(rate(r, "pad_only_auc")).isBetween(0.4, 0.6);
                assertThat(rate(r, "matched_filter_l0")).isLessThan(0.02);
            }
        }
    }

    /** R² scores a perfect reconstruction 1, the truth's mean row 0, and noise around it below 0. */
    @Test
    void reconstructionR2ScoresAgainstTheMeanRow() {
        List<double[]> truth = List.of(new double[] {1, 2}, new double[] {3, 6}, new double[] {5, 1});
        List<double[]> mean = List.of(new double[] {3, 3}, new double[] {3, 3}, new double[] {3, 3});
        List<double[]> off = List.of(new double[] {5, 6}, new double[] {1, 1}, new double[] {3, 2});
        assertThat(BlindedAttacks.reconstructionR2(truth, truth)).isEqualTo(1.0);
        assertThat(BlindedAttacks.reconstructionR2(mean, truth)).isCloseTo(0.0, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(BlindedAttacks.reconstructionR2(off, truth)).isLessThan(0.0);
    }

    /** Reused pads (a broken implementation) fall to the known-plaintext attack: it is a real test of freshness. */
    @Test
    void knownPlaintextCatchesReusedPads() {
        BlindedAttacks attacks = new BlindedAttacks(M.config(), M.weights(), new PublicModel(M.config(), M.weights()));
        PublicModel pub = new PublicModel(M.config(), M.weights());
        int d = M.config().embd();
        Random r = new Random(1);
        int[] known = {7, 8, 9, 10}, secret = {100, 200, 300, 400};
        double[][] pads = new double[4][d];
        DoubleMatrix knownRows = new DoubleMatrix(4, d);
        List<BlindedAttacks.Query> queries = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            float[] k = pub.layer0Rows(i, new int[] {known[i]}).data, s = pub.layer0Rows(i, new int[] {secret[i]}).data;
            double[] q = new double[d];
            for (int j = 0; j < d; j++) {
                pads[i][j] = 1e6 * r.nextGaussian();
                knownRows.data[i * d + j] = k[j] + pads[i][j];
                q[j] = s[j] + pads[i][j]; // the same pad again: the bug this attack must expose
            }
            queries.add(new BlindedAttacks.Query(q, i));
        }
        int[] got = attacks.knownPlaintext(queries, attacks.knownPads(known, knownRows));
        assertThat(got).containsExactly(secret);
    }

    @Test
    void samplesFollowTheBatchLayout() {
        int layers = 2, per = BlindedSample.callsPerPass(layers), d = 3;
        List<int[]> prompts = List.of(new int[] {1, 2, 3}, new int[] {4});
        List<int[]> generated = List.of(new int[] {5, 6}, new int[] {7, 8});
        List<DoubleMatrix> calls = new ArrayList<>();
        for (int k = 0; k < 2; k++) {
            for (int c = 0; c < per; c++) {
                int rows = c == per - 1 ? 2 : (k == 0 ? 2 * 3 : 2);
                DoubleMatrix x = new DoubleMatrix(rows, d);
                for (int i = 0; i < rows; i++) {
                    x.data[i * d] = 1000 * k + 10 * c + i; // tag: pass, call, row
                }
                calls.add(x);
            }
        }
        List<BlindedSample> s = BlindedSample.split(0, layers, calls, prompts, generated, new boolean[2]);
        assertThat(s).hasSize(2);
        assertThat(s.get(0).layer0Prefill().rows).isEqualTo(3);
        assertThat(s.get(1).layer0Prefill().rows).isEqualTo(1);
        assertThat(s.get(1).layer0Prefill().data[0]).isEqualTo(5); // rows 3..5 are sequence 1's; its 2 padding slots dropped
        assertThat(s.get(1).passes().get(1)[0].data[0]).isEqualTo(1001);
        assertThat(s.get(0).passes().get(0)[per - 1].data[0]).isEqualTo(10 * (per - 1));
        assertThatThrownBy(() -> BlindedSample.split(0, layers, calls.subList(0, per), prompts, generated, new boolean[2]))
                .hasMessageContaining("needs " + 2 * per);
    }
}
