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
        return split(party, layers, calls, prompts, generated, known, 1);
    }

    /**
     * {@link #split(int, int, List, List, List, boolean[])} of a run whose calls were rounded up to a multiple of
     * {@code rowBucket} rows ({@code --row-bucket}): each call's real rows come first, the pad-only rows after them
     * are left out of the samples ({@link #padOnlyRows} has them).
     */
    public static List<BlindedSample> split(int party, int layers, List<DoubleMatrix> calls, List<int[]> prompts,
                                            List<int[]> generated, boolean[] known, int rowBucket) {
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
                anchors.add(new Anchor(prompts.get(b), rows(calls, 0, per, b, batch, len, prompts.get(b).length, rowBucket)));
            }
        }
        for (int b = 0; b < batch; b++) {
            if (known[b]) {
                continue;
            }
            List<DoubleMatrix[]> seq = new ArrayList<>();
            for (int k = 0; k < passes; k++) {
                seq.add(rows(calls, k, per, b, batch, k == 0 ? len : 1, k == 0 ? prompts.get(b).length : 1, rowBucket));
            }
            out.add(new BlindedSample(party, prompts.get(b), generated.get(b), seq, List.copyOf(anchors)));
        }
        return out;
    }

    /**
     * The first layer's first call of every pass (the rows attacks 1–3 read): its real rows and, after them, the
     * rows of pad alone that a run with a row bucket sent, as two lists (the batch layout as in {@link #split}).
     */
    public static List<List<double[]>> padOnlyRows(int layers, List<DoubleMatrix> calls, List<int[]> prompts) {
        int per = callsPerPass(layers), batch = prompts.size();
        int len = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
        List<double[]> real = new ArrayList<>(), padOnly = new ArrayList<>();
        for (int i = 0; i < calls.size(); i += per) {
            DoubleMatrix x = calls.get(i);
            int expect = realRows(i / per, i % per, per, batch, len);
            for (int r = 0; r < x.rows; r++) {
                (r < expect ? real : padOnly).add(java.util.Arrays.copyOfRange(x.data, r * x.cols, (r + 1) * x.cols));
            }
        }
        return List.of(real, padOnly);
    }

    /** Real rows of call {@code c} of pass {@code k}: the left-padded prompts in the prefill, one per sequence after. */
    private static int realRows(int k, int c, int per, int batch, int len) {
        return c == per - 1 || k > 0 ? batch : batch * len;
    }

    /** Sequence {@code b}'s last {@code keep} of its {@code t} rows in every call of pass {@code k}; the head's one row. */
    private static DoubleMatrix[] rows(List<DoubleMatrix> calls, int k, int per, int b, int batch, int t, int keep,
                                       int rowBucket) {
        DoubleMatrix[] r = new DoubleMatrix[per];
        for (int c = 0; c < per; c++) {
            DoubleMatrix x = calls.get(k * per + c);
            boolean head = c == per - 1;
            int expect = realRows(k, c, per, batch, t);
            int sent = (expect + rowBucket - 1) / rowBucket * rowBucket;
            if (x.rows != sent) {
                throw new IllegalArgumentException("pass " + k + " call " + c + " has " + x.rows + " rows, expected " + sent);
            }
            r[c] = head ? x.rows(b, b + 1) : x.rows(b * t + t - keep, (b + 1) * t);
        }
        return r;
    }
}
