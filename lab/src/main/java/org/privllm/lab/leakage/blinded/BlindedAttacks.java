package org.privllm.lab.leakage.blinded;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.privllm.lab.leakage.PublicModel;
import org.privllm.model.Gpt2Config;
import org.privllm.model.DecoderForward;
import org.privllm.model.Gpt2Adapter;
import org.privllm.model.Gpt2Weights;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.tensor.WideKernels;
import org.privllm.trusted.privacy.LinearPlacement;
import org.privllm.trusted.privacy.PlacedLinear;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.trusted.privacy.TrustedWork;

/**
 * Attacks on what an executor of a blinded level receives: rows {@code x + t} (strong, two-party's first
 * party) or {@code −t} (the share executor) against public weights. The attacker knows the public model,
 * the code, the pad distribution (Kerckhoffs) and every row it ever received; it is given for free which
 * row belongs to which sequence and position, and which sessions repeated a prompt.
 *
 * <ul>
 *   <li>{@link #matchedFilter}: per row, the vocabulary entry whose first-layer input is nearest — the
 *       maximum-likelihood decoder under Gaussian pads of any scale;
 *   <li>{@link #allLayersAtStart}: the likelihood summed over every linear input of every layer at position 0
 *       (all depend on the first token alone), each weighted by its pad variance, over the whole vocabulary;
 *   <li>{@link #learnedInversion}: a ridge map from padded rows to clean rows fitted on simulated pads over
 *       public tokens, then the nearest candidate;
 *   <li>{@link #averaged}: the rows of every repetition of a prompt averaged before the matched filter;
 *   <li>{@link #knownPlaintext}: the pads of known rows in the same calls (a shared system prompt) estimated
 *       and subtracted — their mean, and any earlier pad a row correlates with (pad reuse);
 *   <li>{@link #scoreProbe}: the attention-score probe run on the scores the executor can form from its own
 *       outputs, {@code q̃_i·k̃_i} per head, against every candidate's;
 *   <li>{@link #headArgmax} and the matched filter on each decode step's input: the generated tokens;
 *       {@link #headRank}: how high the executor's logits rank each generated token (partial knowledge);
 *   <li>{@link #reconstruct}: the hidden state itself, the linear MMSE estimate of each clean first-layer row,
 *       scored by {@link #reconstructionR2}.
 * </ul>
 */
public final class BlindedAttacks {
    private final Gpt2Config config;
    private final Gpt2Weights weights;
    private final PublicModel pub;
    private final Map<Integer, PackedWeight> layer0Tables = new HashMap<>();
    private final Map<Integer, double[]> layer0Norms = new HashMap<>();

    public BlindedAttacks(Gpt2Config config, Gpt2Weights weights, PublicModel pub) {
        this.config = config;
        this.weights = weights;
        this.pub = pub;
    }

    /** A row to decode: its values and the position it sits at (public). */
    public record Query(double[] x, int pos) {}

    /** The layer-0 candidate table at {@code pos}, packed as {@code d×V} for products (a few are cached). */
    private PackedWeight table(int pos) {
        if (layer0Tables.size() > 8 && !layer0Tables.containsKey(pos)) {
            layer0Tables.clear();
            layer0Norms.clear();
        }
        return layer0Tables.computeIfAbsent(pos, p -> {
            Matrix t = pub.layer0Inputs(p);
            double[] norms = new double[t.rows];
            for (int v = 0; v < t.rows; v++) {
                double s = 0;
                for (int j = 0; j < t.cols; j++) {
                    s += (double) t.data[v * t.cols + j] * t.data[v * t.cols + j];
                }
                norms[v] = s;
            }
            layer0Norms.put(p, norms);
            return PackedWeight.packTransposed(t);
        });
    }

    /** The nearest first-layer candidate of every query (grouped by position so each table is built once). */
    public int[] matchedFilter(List<Query> queries) {
        int[] out = new int[queries.size()];
        Map<Integer, List<Integer>> byPos = new HashMap<>();
        for (int i = 0; i < queries.size(); i++) {
            byPos.computeIfAbsent(queries.get(i).pos(), k -> new ArrayList<>()).add(i);
        }
        int d = config.embd();
        for (var e : byPos.entrySet()) {
            PackedWeight t = table(e.getKey());
            double[] norms = layer0Norms.get(e.getKey());
            List<Integer> idx = e.getValue();
            DoubleMatrix q = new DoubleMatrix(idx.size(), d);
            for (int r = 0; r < idx.size(); r++) {
                System.arraycopy(queries.get(idx.get(r)).x(), 0, q.data, r * d, d);
            }
            DoubleMatrix dots = WideKernels.matmul(q, t);
            for (int r = 0; r < idx.size(); r++) {
                int best = 0;
                double bestCost = Double.POSITIVE_INFINITY;
                for (int v = 0; v < norms.length; v++) {
                    double cost = norms[v] - 2 * dots.data[r * norms.length + v];
                    if (cost < bestCost) {
                        bestCost = cost;
                        best = v;
                    }
                }
                out[idx.get(r)] = best;
            }
        }
        return out;
    }

    /**
     * Ridge regression from padded to clean first-layer rows, trained on {@code 4d} simulated rows (public
     * tokens at random positions, pads of the scale the attacker sees in {@code received}); the estimates are
     * decoded by the matched filter.
     */
    public int[] learnedInversion(List<Query> queries, List<double[]> received, long seed) {
        return matchedFilter(ridgeEstimates(queries, received, seed, 4, false));
    }

    /**
     * The attacker's best linear estimate of each query's clean first-layer row (the hidden state the trusted side
     * padded): ridge regression with an intercept, fitted on {@code 16d} simulated rows with pads of the scale the
     * attacker sees in {@code received} — the linear minimum-mean-square-error estimator under Gaussian pads.
     * {@link #reconstructionR2} scores it against the true rows.
     */
    public List<double[]> reconstruct(List<Query> queries, List<double[]> received, long seed) {
        return ridgeEstimates(queries, received, seed, 16, true).stream().map(Query::x).toList();
    }

    /**
     * The energy detector on {@code --row-bucket}'s rows: the AUC of "this row carries a signal" ranked by the row's
     * squared norm — a real row is its pad plus the signal, a pad-only row the pad alone — over every (real, pad-only)
     * pair; 0.5 is chance. With the signal's direction unknown, the norm is the detector Gaussian noise leaves.
     */
    public static double energyAuc(List<double[]> real, List<double[]> padOnly) {
        double[] r = real.stream().mapToDouble(BlindedAttacks::energy).sorted().toArray();
        double[] p = padOnly.stream().mapToDouble(BlindedAttacks::energy).sorted().toArray();
        double wins = 0;
        int below = 0, equal;
        for (double e : r) { // count pad-only rows below (and tied with) each real row's energy
            while (below < p.length && p[below] < e) {
                below++;
            }
            equal = 0;
            while (below + equal < p.length && p[below + equal] == e) {
                equal++;
            }
            wins += below + 0.5 * equal;
        }
        return wins / ((double) r.length * p.length);
    }

    private static double energy(double[] row) {
        double s = 0;
        for (double v : row) {
            s += v * v;
        }
        return s;
    }

    /** The clean first-layer row of {@code token} at {@code pos}: what the trusted side padded. */
    public double[] cleanRow(int pos, int token) {
        float[] r = pub.layer0Rows(pos, new int[] {token}).data;
        double[] out = new double[r.length];
        for (int j = 0; j < r.length; j++) {
            out[j] = r[j];
        }
        return out;
    }

    /**
     * {@code R² = 1 − Σ‖est − x‖² / Σ‖x − x̄‖²} of estimates against the true rows ({@code x̄}: their mean): 1 is a
     * perfect reconstruction, 0 no better than guessing the mean row without any transcript, below 0 worse.
     */
    public static double reconstructionR2(List<double[]> estimates, List<double[]> truth) {
        if (estimates.size() != truth.size() || truth.isEmpty()) {
            throw new IllegalArgumentException(estimates.size() + " estimates for " + truth.size() + " rows");
        }
        int d = truth.get(0).length;
        double[] mean = new double[d];
        for (double[] x : truth) {
            for (int j = 0; j < d; j++) {
                mean[j] += x[j] / truth.size();
            }
        }
        double err = 0, spread = 0;
        for (int i = 0; i < truth.size(); i++) {
            for (int j = 0; j < d; j++) {
                double x = truth.get(i)[j];
                err += (estimates.get(i)[j] - x) * (estimates.get(i)[j] - x);
                spread += (x - mean[j]) * (x - mean[j]);
            }
        }
        return spread > 0 ? 1 - err / spread : Double.NaN; // one row, or all alike: no spread to explain
    }

    /**
     * Ridge estimates of the clean rows behind {@code queries}, the map fitted on {@code perDim·d} simulated rows
     * (public tokens at random positions, Gaussian pads of the RMS the attacker sees in {@code received});
     * {@code intercept}: centred fit (each side's simulated mean added back), else through the origin.
     */
    private List<Query> ridgeEstimates(List<Query> queries, List<double[]> received, long seed, int perDim,
                                       boolean intercept) {
        int d = config.embd(), n = perDim * d;
        double sq = 0;
        long count = 0;
        for (double[] r : received) {
            for (double v : r) {
                sq += v * v;
                count++;
            }
        }
        Random rnd = new Random(seed);
        DMatrixRMaj xt = new DMatrixRMaj(n, d), x = new DMatrixRMaj(n, d);
        double cleanSq = 0;
        for (int i = 0; i < n; i++) {
            int pos = rnd.nextInt(Math.min(config.positions(), 64));
            float[] clean = pub.layer0Rows(pos, new int[] {rnd.nextInt(config.vocab())}).data;
            for (int j = 0; j < d; j++) {
                x.set(i, j, clean[j]);
                cleanSq += (double) clean[j] * clean[j];
            }
        }
        // the pad's own scale: what the received rows hold beyond the clean rows' (Kerckhoffs: the attacker knows
        // the pads are independent of the rows), not the received rows' whole RMS, which at small ratios is mostly signal
        double sigma = Math.sqrt(Math.max(0, sq / Math.max(1, count) - cleanSq / ((double) n * d)));
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                xt.set(i, j, x.get(i, j) + sigma * rnd.nextGaussian());
            }
        }
        double[] inMean = new double[d], outMean = new double[d];
        if (intercept) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < d; j++) {
                    inMean[j] += xt.get(i, j) / n;
                    outMean[j] += x.get(i, j) / n;
                }
            }
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < d; j++) {
                    xt.add(i, j, -inMean[j]);
                    x.add(i, j, -outMean[j]);
                }
            }
        }
        DMatrixRMaj gram = new DMatrixRMaj(d, d), rhs = new DMatrixRMaj(d, d), map = new DMatrixRMaj(d, d);
        CommonOps_DDRM.multTransA(xt, xt, gram);
        double lambda = 1e-6 * CommonOps_DDRM.trace(gram) / d + 1e-12;
        for (int j = 0; j < d; j++) {
            gram.add(j, j, lambda);
        }
        CommonOps_DDRM.multTransA(xt, x, rhs);
        if (!CommonOps_DDRM.solveSPD(gram, rhs, map)) {
            CommonOps_DDRM.solve(gram, rhs, map);
        }
        List<Query> estimates = new ArrayList<>();
        for (Query q : queries) {
            double[] est = outMean.clone();
            for (int j = 0; j < d; j++) {
                double s = 0;
                for (int k = 0; k < d; k++) {
                    s += (q.x()[k] - inMean[k]) * map.get(k, j);
                }
                est[j] += s;
            }
            estimates.add(new Query(est, q.pos()));
        }
        return estimates;
    }

    /** The matched filter on the mean of each group of repeated rows (same prompt, same position). */
    public int[] averaged(List<List<Query>> groups) {
        List<Query> means = new ArrayList<>();
        for (List<Query> g : groups) {
            double[] m = new double[config.embd()];
            for (Query q : g) {
                for (int j = 0; j < m.length; j++) {
                    m[j] += q.x()[j] / g.size();
                }
            }
            means.add(new Query(m, g.get(0).pos()));
        }
        return matchedFilter(means);
    }

    /**
     * Known plaintext in the same calls: the known rows' pads {@code x̃ − x} are computed exactly; a query row
     * that correlates with one of them (|cos| > 0.5: a reused pad) has it subtracted, every other row the known
     * pads' mean; then the matched filter.
     */
    public int[] knownPlaintext(List<Query> queries, List<double[]> knownPads) {
        int d = config.embd();
        double[] mean = new double[d];
        for (double[] t : knownPads) {
            for (int j = 0; j < d; j++) {
                mean[j] += t[j] / knownPads.size();
            }
        }
        List<Query> cleaned = new ArrayList<>();
        for (Query q : queries) {
            double[] sub = mean;
            double best = 0.5;
            for (double[] t : knownPads) {
                double c = Math.abs(cosine(q.x(), t));
                if (c > best) {
                    best = c;
                    sub = t;
                }
            }
            double[] x = q.x().clone();
            for (int j = 0; j < d; j++) {
                x[j] -= sub[j];
            }
            cleaned.add(new Query(x, q.pos()));
        }
        return matchedFilter(cleaned);
    }

    /** The known rows' pads: received minus the clean first-layer rows of the known prompt. */
    public List<double[]> knownPads(int[] prompt, DoubleMatrix received) {
        List<double[]> pads = new ArrayList<>();
        for (int i = 0; i < prompt.length; i++) {
            float[] clean = pub.layer0Rows(i, new int[] {prompt[i]}).data;
            double[] t = new double[clean.length];
            for (int j = 0; j < clean.length; j++) {
                t[j] = received.get(i, j) - clean[j];
            }
            pads.add(t);
        }
        return pads;
    }

    /**
     * The attention-score probe on what the executor can compute itself: per head the diagonal score
     * {@code q̃_i·k̃_i} of its own c_attn output for the padded row, matched to every candidate's {@code q_v·k_v}.
     */
    public int[] scoreProbe(List<Query> queries) {
        int d = config.embd(), heads = config.heads(), dh = d / heads;
        Gpt2Weights.Layer l = weights.layers().get(0);
        PackedWeight qk = PackedWeight.pack(l.cAttn().cols(0, 2 * d));
        int[] out = new int[queries.size()];
        for (int i = 0; i < queries.size(); i++) {
            Query q = queries.get(i);
            DoubleMatrix y = WideKernels.matmul(new DoubleMatrix(1, d, q.x().clone()), qk);
            double[] s = new double[heads];
            for (int h = 0; h < heads; h++) {
                double acc = 0;
                for (int j = 0; j < dh; j++) {
                    acc += (y.data[h * dh + j] + l.cAttnBias()[h * dh + j]) * (y.data[d + h * dh + j] + l.cAttnBias()[d + h * dh + j]);
                }
                s[h] = acc;
            }
            double[] diag = pub.layer0ScoreDiagonal(q.pos());
            int best = 0;
            double bestCost = Double.POSITIVE_INFINITY;
            for (int v = 0; v < config.vocab(); v++) {
                double cost = 0;
                for (int h = 0; h < heads; h++) {
                    double e = s[h] - diag[v * heads + h];
                    cost += e * e;
                }
                if (cost < bestCost) {
                    bestCost = cost;
                    best = v;
                }
            }
            out[i] = best;
        }
        return out;
    }

    /** The executor's own logits for a head input row, {@code x̃·wteᵀ}. */
    public double[] headLogits(double[] headInput) {
        return WideKernels.matmul(new DoubleMatrix(1, headInput.length, headInput.clone()), headPacked()).data;
    }

    /** The argmax of logits (the executor's guess of the generated token). */
    public static int headArgmax(double[] logits) {
        int best = 0;
        for (int v = 1; v < logits.length; v++) {
            if (logits[v] > logits[best]) {
                best = v;
            }
        }
        return best;
    }

    /**
     * Where {@code token} ranks in the executor's own logits: the fraction of the vocabulary it scores below the
     * token (1: the top entry; 0.5 on average when the logits tell nothing about it).
     */
    public static double headRank(double[] logits, int token) {
        int below = 0;
        for (double l : logits) {
            below += l < logits[token] ? 1 : 0;
        }
        return below / (double) (logits.length - 1);
    }

    private PackedWeight headPacked;

    private PackedWeight headPacked() {
        if (headPacked == null) {
            headPacked = PackedWeight.packTransposed(weights.head());
        }
        return headPacked;
    }

    /**
     * The likelihood of every vocabulary entry as the first token, summed over all {@code 4L} linear inputs at
     * position 0 (each depends on that token alone), each call's squared distance divided by its pad variance
     * (estimated from the received rows). The public model runs every token through every layer once, in
     * chunks; {@code firstRows.get(s)[c]} is sample s's position-0 row of call c. Returns each sample's argmax.
     */
    public int[] allLayersAtStart(List<double[][]> firstRows) {
        int calls = 4 * config.layers(), samples = firstRows.size();
        double[] invVar = new double[calls];
        for (int c = 0; c < calls; c++) {
            double sq = 0;
            long n = 0;
            for (double[][] s : firstRows) {
                for (double v : s[c]) {
                    sq += v * v;
                    n++;
                }
            }
            invVar[c] = n / Math.max(sq, 1e-300);
        }
        double[][] cost = new double[samples][config.vocab()];
        List<Matrix> recorded = new ArrayList<>();
        LinearPlacement recording = new LinearPlacement() {
            @Override
            public PlacedLinear bind(PlacedLinear local, double inputRms) {
                return local;
            }

            @Override
            public Matrix forward(PlacedLinear layer, Matrix x) {
                recorded.add(x);
                return layer.local(x);
            }
        };
        var dc = Gpt2Adapter.config(config, weights);
        var dw = Gpt2Adapter.weights(weights);
        try (TrustedAttentionDecoder ops = new TrustedAttentionDecoder(dc, dw, Map.of(), recording, new TrustedWork())) {
            DecoderForward forward = new DecoderForward(dc, dw, ops);
            for (int from = 0; from < config.vocab(); from += CHUNK) {
                int n = Math.min(CHUNK, config.vocab() - from);
                int[] ids = new int[n];
                for (int i = 0; i < n; i++) {
                    ids[i] = from + i;
                }
                recorded.clear();
                ops.startCache(new int[n], 1);
                forward.step(ids, new int[n], 1);
                for (int c = 0; c < calls; c++) {
                    Matrix cand = recorded.get(c);
                    PackedWeight packed = PackedWeight.packTransposed(cand);
                    DoubleMatrix q = new DoubleMatrix(samples, cand.cols);
                    for (int s = 0; s < samples; s++) {
                        System.arraycopy(firstRows.get(s)[c], 0, q.data, s * cand.cols, cand.cols);
                    }
                    DoubleMatrix dots = WideKernels.matmul(q, packed);
                    for (int v = 0; v < n; v++) {
                        double norm = 0;
                        for (int j = 0; j < cand.cols; j++) {
                            norm += (double) cand.data[v * cand.cols + j] * cand.data[v * cand.cols + j];
                        }
                        for (int s = 0; s < samples; s++) {
                            cost[s][from + v] += invVar[c] * (norm - 2 * dots.data[s * n + v]);
                        }
                    }
                }
            }
        }
        int[] out = new int[samples];
        for (int s = 0; s < samples; s++) {
            int best = 0;
            for (int v = 1; v < config.vocab(); v++) {
                if (cost[s][v] < cost[s][best]) {
                    best = v;
                }
            }
            out[s] = best;
        }
        return out;
    }

    /** Tokens per chunk of the public all-layer table (a batch of one-token sequences). */
    private static final int CHUNK = 1024;

    static double cosine(double[] a, double[] b) {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb + 1e-300);
    }
}
