package org.privllm.lab.leakage.blinded;

import java.util.ArrayList;
import java.util.List;
import org.privllm.tensor.DoubleMatrix;

/**
 * One party's view of one sequence at a blinded level, with the ground truth used only to score. A
 * generation is a series of forward passes (the prefill, then one per decode step); each pass is the
 * {@code 4L + 1} linear calls of the model in order (per layer c_attn, c_proj, c_fc, MLP c_proj; then the
 * head). {@code passes.get(k)[c]} holds this sequence's rows of call {@code c} in pass {@code k}: the prompt's
 * rows (its left padding removed) in the prefill, one row per decode step; the head gets one row per pass.
 *
 * @param party     which executor saw it (0 = the first; 1 = two-party's share executor)
 * @param prompt    ground truth: the prompt ids
 * @param generated ground truth: the generated ids (one per pass)
 * @param anchors   known-plaintext variant: rows of prompts the attacker knows, in the same calls (else empty)
 */
public record BlindedSample(int party, int[] prompt, int[] generated, List<DoubleMatrix[]> passes, List<Anchor> anchors) {

    /** A known prompt that shared this sample's prefill calls: its ids and its rows of each call there. */
    public record Anchor(int[] prompt, DoubleMatrix[] prefill) {}

    /** Linear calls per forward pass of an {@code layers}-layer model. */
    public static int callsPerPass(int layers) {
        return 4 * layers + 1;
    }

    /** The first layer's attention input rows of the prefill (one per prompt position). */
    public DoubleMatrix layer0Prefill() {
        return passes.get(0)[0];
    }

    /**
     * Splits one party's linear inputs of one generation (a batch of left-padded prompts) into per-sequence
     * samples.
     *
     * @param calls      the generation's linear inputs in arrival order ({@code passes × (4L + 1)} of them)
     * @param prompts    the batch's prompts (ground truth; their lengths fix the batch layout)
     * @param generated  each sequence's generated ids (ground truth)
     * @param known      which sequences of the batch the attacker knows (anchors for the others)
     */
    public static List<BlindedSample> split(int party, int layers, List<DoubleMatrix> calls, List<int[]> prompts,
                                            List<int[]> generated, boolean[] known) {
        int per = callsPerPass(layers), batch = prompts.size();
        int len = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
        int passes = generated.stream().mapToInt(g -> g.length).max().orElse(0);
        if (calls.size() != passes * per) {
            throw new IllegalArgumentException("a generation of " + passes + " passes needs " + passes * per
                    + " linear calls, the transcript has " + calls.size());
        }
        List<BlindedSample> out = new ArrayList<>();
        List<Anchor> anchors = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            if (known[b]) {
                anchors.add(new Anchor(prompts.get(b), rows(calls, 0, per, b, batch, len, prompts.get(b).length)));
            }
        }
        for (int b = 0; b < batch; b++) {
            if (known[b]) {
                continue;
            }
            List<DoubleMatrix[]> seq = new ArrayList<>();
            for (int k = 0; k < passes; k++) {
                seq.add(rows(calls, k, per, b, batch, k == 0 ? len : 1, k == 0 ? prompts.get(b).length : 1));
            }
            out.add(new BlindedSample(party, prompts.get(b), generated.get(b), seq, List.copyOf(anchors)));
        }
        return out;
    }

    /** Sequence {@code b}'s last {@code keep} of its {@code t} rows in every call of pass {@code k}; the head's one row. */
    private static DoubleMatrix[] rows(List<DoubleMatrix> calls, int k, int per, int b, int batch, int t, int keep) {
        DoubleMatrix[] r = new DoubleMatrix[per];
        for (int c = 0; c < per; c++) {
            DoubleMatrix x = calls.get(k * per + c);
            boolean head = c == per - 1;
            int expect = head ? batch : batch * t;
            if (x.rows != expect) {
                throw new IllegalArgumentException("pass " + k + " call " + c + " has " + x.rows + " rows, expected " + expect);
            }
            r[c] = head ? x.rows(b, b + 1) : x.rows(b * t + t - keep, (b + 1) * t);
        }
        return r;
    }
}
