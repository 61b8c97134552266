package org.privllm.lab.leakage;

import java.util.Arrays;
import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.mask.MaskFamily;

/**
 * The attacks on one session's {@link ExecutorView}. Each uses only that view plus the
 * {@link PublicModel}; the ground truth enters only through the scoring done by {@link LeakageLab}.
 *
 * <p>Token recovery is sequential vocabulary matching: row i (position i) is compared with every
 * candidate {@code v} at position i through a mask-invariant feature, and the rows already decoded
 * supply cross terms (Gram entries, attention scores) for the next.
 */
public final class Attacks {
    /** How many earlier decoded rows feed the cross terms of a row's cost. */
    static final int CONTEXT = 2;

    private Attacks() {}

    /** Shortlist of a matcher whose bounds are cheap and whose exact costs are computed row by row. */
    static final int SHORTLIST = 256;
    /** Shortlist of the matchers whose exact costs need a {@code d×d} product per candidate. */
    static final int SHORTLIST_GEMM = 64;

    /** The cost (or a lower bound of it) of every candidate for row {@code i}, given the rows decoded so far. */
    @FunctionalInterface
    interface RowCost {
        void costs(int i, int[] decoded, double[] out);
    }

    /** Exact costs of the shortlisted candidates {@code cands} (their lower bounds in {@code bounds}). */
    @FunctionalInterface
    interface Rerank {
        void costs(int i, int[] decoded, int[] cands, double[] bounds, double[] out);
    }

    /**
     * A row matcher: {@code bound} gives every candidate's exact cost ({@code rerank == null}) or a lower
     * bound of it; then the {@code shortlist} candidates with the smallest bounds get their exact cost
     * and the cheapest wins. Two-stage search over the whole vocabulary: the bound never exceeds the exact
     * cost, so the winner is the exact argmin whenever it is within the shortlist.
     */
    record Matcher(RowCost bound, Rerank rerank, int shortlist) {
        static Matcher full(RowCost cost) {
            return new Matcher(cost, null, 0);
        }
    }

    /** Decodes {@code n} rows in order, each the argmin of its cost. */
    static int[] decode(int n, int vocab, RowCost cost) {
        return decode(n, vocab, Matcher.full(cost));
    }

    /** Decodes {@code n} rows in order with a (shortlisting) matcher. */
    static int[] decode(int n, int vocab, Matcher m) {
        int[] out = new int[n];
        double[] c = new double[vocab];
        for (int i = 0; i < n; i++) {
            m.bound().costs(i, out, c);
            if (m.rerank() == null) {
                out[i] = argmin(c);
                continue;
            }
            int[] cands = smallest(c, Math.min(m.shortlist(), vocab));
            double[] bounds = new double[cands.length], exact = new double[cands.length];
            for (int k = 0; k < cands.length; k++) {
                bounds[k] = c[cands[k]];
            }
            m.rerank().costs(i, out, cands, bounds, exact);
            int best = 0;
            for (int k = 1; k < cands.length; k++) {
                if (exact[k] < exact[best] || exact[k] == exact[best] && cands[k] < cands[best]) {
                    best = k;
                }
            }
            out[i] = cands[best];
        }
        return out;
    }

    /** Indices of the {@code k} smallest values, ascending (ties: smaller index first; NaN last). */
    static int[] smallest(double[] a, int k) {
        int[] heap = new int[k]; // max-heap of the k best so far
        int size = 0;
        for (int v = 0; v < a.length; v++) {
            if (size < k) {
                heap[size] = v;
                int at = size++;
                while (at > 0 && worse(a, heap[at], heap[(at - 1) / 2])) {
                    int p = (at - 1) / 2;
                    int t = heap[p];
                    heap[p] = heap[at];
                    heap[at] = t;
                    at = p;
                }
            } else if (worse(a, heap[0], v)) {
                heap[0] = v;
                int at = 0;
                while (true) {
                    int l = 2 * at + 1, r = l + 1, m = at;
                    if (l < k && worse(a, heap[l], heap[m])) {
                        m = l;
                    }
                    if (r < k && worse(a, heap[r], heap[m])) {
                        m = r;
                    }
                    if (m == at) {
                        break;
                    }
                    int t = heap[m];
                    heap[m] = heap[at];
                    heap[at] = t;
                    at = m;
                }
            }
        }
        Integer[] sorted = new Integer[size];
        for (int i = 0; i < size; i++) {
            sorted[i] = heap[i];
        }
        Arrays.sort(sorted, (x, y) -> worse(a, x, y) ? 1 : worse(a, y, x) ? -1 : 0);
        int[] out = new int[size];
        for (int i = 0; i < size; i++) {
            out[i] = sorted[i];
        }
        return out;
    }

    /** Whether candidate x ranks after y (larger value, or equal value and larger index; NaN last). */
    private static boolean worse(double[] a, int x, int y) {
        double ax = Double.isNaN(a[x]) ? Double.POSITIVE_INFINITY : a[x];
        double ay = Double.isNaN(a[y]) ? Double.POSITIVE_INFINITY : a[y];
        return ax > ay || ax == ay && x > y;
    }

    // ---------------------------------------------------------------- matchers

    /** Plaintext view: nearest candidate (bound: the squared difference of norms). */
    static Matcher exact(Matrix obs, PublicModel.CandidateSet cand) {
        int d = obs.cols;
        return new Matcher((i, decoded, out) -> {
            float[] n = cand.blockNormsSq(i, d);
            double seen = Math.sqrt(sq(obs.data, i * d, d));
            for (int v = 0; v < out.length; v++) {
                double e = Math.sqrt(n[v]) - seen;
                out[v] = e * e;
            }
        }, (i, decoded, cands, bounds, out) -> {
            Matrix c = cand.rows(i, cands);
            float[] mine = obs.row(i);
            for (int k = 0; k < cands.length; k++) {
                out[k] = distance(c.data, k * d, mine);
            }
        }, SHORTLIST);
    }

    /**
     * What (block-)orthogonal masks preserve: each row's squared norm per block of {@code b} columns and
     * its per-block inner products with the last {@link #CONTEXT} rows. Bound: the norm terms alone.
     */
    static Matcher gram(Matrix obs, PublicModel.CandidateSet cand, int b) {
        int d = obs.cols, blocks = (d + b - 1) / b;
        return new Matcher((i, decoded, out) -> {
            float[] n = cand.blockNormsSq(i, b);
            double[] seen = new double[blocks];
            for (int k = 0; k < blocks; k++) {
                seen[k] = sq(obs.data, i * d + k * b, Math.min(b, d - k * b));
            }
            for (int v = 0; v < out.length; v++) {
                double s = 0;
                for (int k = 0; k < blocks; k++) {
                    double e = n[v * blocks + k] - seen[k];
                    s += e * e;
                }
                out[v] = s;
            }
        }, (i, decoded, cands, bounds, out) -> {
            Matrix c = cand.rows(i, cands);
            System.arraycopy(bounds, 0, out, 0, cands.length);
            for (int j = Math.max(0, i - CONTEXT); j < i; j++) {
                float[] other = cand.row(j, decoded[j]);
                for (int o = 0; o < d; o += b) {
                    int w = Math.min(b, d - o);
                    double seen = dot(obs.data, i * d + o, obs.data, j * d + o, w);
                    for (int k = 0; k < cands.length; k++) {
                        double e = dot(c.data, k * d + o, other, o, w) - seen;
                        out[k] += e * e;
                    }
                }
            }
        }, SHORTLIST);
    }

    /**
     * What a permutation with positive scaling keeps: the sorted log-magnitudes of a row, shifted by the
     * unknown scales (their mean is removed; the spread of the scales remains as noise). Bound: the
     * distance at sampled sorted ranks.
     */
    static Matcher sortedLog(Matrix obs, PublicModel.CandidateSet cand) {
        int[] idx = PublicModel.sampledCoordinates(obs.cols);
        return new Matcher((i, decoded, out) -> {
            distances(cand.sortedLogSample(i), pick(sortedLog(obs.row(i)), idx), out);
        }, (i, decoded, cands, bounds, out) -> {
            float[] mine = sortedLog(obs.row(i));
            Matrix c = sortedLogRows(cand.rows(i, cands));
            for (int k = 0; k < cands.length; k++) {
                out[k] = distance(c.data, k * c.cols, mine);
            }
        }, SHORTLIST);
    }

    /** Sign-free coordinates: {@code |x'|} against {@code |c·U|} (bound: the first S coordinates). */
    static Matcher absolute(Matrix obsProjected, PublicModel.CandidateSet cand, DMatrixRMaj u, String basisKey) {
        Matrix uf = toFloat(u);
        return new Matcher((i, decoded, out) -> {
            Matrix table = cand.absSample(i, u, basisKey);
            distances(table, Arrays.copyOf(abs(obsProjected.rows(i, i + 1)).data, table.cols), out);
        }, (i, decoded, cands, bounds, out) -> {
            Matrix c = abs(Kernels.matmul(cand.rows(i, cands), uf));
            float[] mine = abs(obsProjected.rows(i, i + 1)).data;
            for (int k = 0; k < cands.length; k++) {
                out[k] = distance(c.data, k * c.cols, mine);
            }
        }, SHORTLIST_GEMM);
    }

    /** Direction only (a global scale is unknown): unit rows against unit candidates (bound: sampled coordinates). */
    static Matcher direction(Matrix obs, PublicModel.CandidateSet cand) {
        int[] idx = PublicModel.sampledCoordinates(obs.cols);
        return new Matcher((i, decoded, out) -> {
            distances(cand.unitSample(i), pick(unit(obs.row(i)), idx), out);
        }, (i, decoded, cands, bounds, out) -> {
            float[] mine = unit(obs.row(i));
            Matrix c = unitRows(cand.rows(i, cands));
            for (int k = 0; k < cands.length; k++) {
                out[k] = distance(c.data, k * c.cols, mine);
            }
        }, SHORTLIST);
    }

    /**
     * Attention scores (plaintext by design): per head the diagonal {@code q_i·k_i} and the scores
     * against the last {@link #CONTEXT} rows, matched with the public model's {@code [Q|K]} of each
     * candidate and of the rows decoded so far. Bound: the diagonal terms.
     *
     * @param scores {@code scores[h][i][j] = q̃_i·k̃_j} of head h (causal, unscaled)
     */
    static Matcher scores(double[][][] scores, PublicModel pub, int heads) {
        int d = pub.config().embd(), dh = d / heads;
        return new Matcher((i, decoded, out) -> {
            double[] diag = pub.layer0ScoreDiagonal(i);
            for (int v = 0; v < out.length; v++) {
                double s = 0;
                for (int h = 0; h < heads; h++) {
                    double e = diag[v * heads + h] - scores[h][i][i];
                    s += e * e;
                }
                out[v] = s;
            }
        }, (i, decoded, cands, bounds, out) -> {
            Matrix qk = pub.layer0QueryKeyRows(i, cands);
            System.arraycopy(bounds, 0, out, 0, cands.length);
            for (int j = Math.max(0, i - CONTEXT); j < i; j++) {
                float[] kj = pub.layer0QueryKeyRows(j, new int[] {decoded[j]}).data;
                for (int h = 0; h < heads; h++) {
                    double seen = scores[h][i][j];
                    for (int k = 0; k < cands.length; k++) {
                        double e = dot(qk.data, k * 2 * d + h * dh, kj, d + h * dh, dh) - seen;
                        out[k] += e * e;
                    }
                }
            }
        }, SHORTLIST_GEMM);
    }

    /** The matcher the attacker picks for a view masked by {@code family} (null: plaintext). */
    static Matcher vocabularyMatcher(MaskFamily family, Matrix obs, PublicModel.CandidateSet cand) {
        if (family == null) {
            return exact(obs, cand);
        }
        return switch (family) {
            case MaskFamily.Permutation p -> sortedLog(obs, cand);
            case MaskFamily.BlockOrthogonal b -> gram(obs, cand, b.blockSize());
            // dense Gaussian masks preserve nothing; the attacker's best remaining guess is the orthogonal invariant
            default -> gram(obs, cand, obs.cols);
        };
    }

    private static float[] pick(float[] v, int[] idx) {
        float[] out = new float[idx.length];
        for (int k = 0; k < idx.length; k++) {
            out[k] = v[idx[k]];
        }
        return out;
    }

    static double distance(float[] table, int offset, float[] x) {
        double s = 0;
        for (int j = 0; j < x.length; j++) {
            double e = table[offset + j] - x[j];
            s += e * e;
        }
        return s;
    }

    // ---------------------------------------------------------------- attention scores

    /** Layer-0 prefill scores {@code [h][i][j]} as the executor computes them (with the adapter and compensation). */
    static double[][][] layer0Scores(ExecutorView view, int heads) {
        Matrix qkv = view.qkv().get(0).apply(view.prefillInputs().get(0), view.prefillCompensation().get(0));
        int n = qkv.rows, d = qkv.cols / 3, dh = d / heads;
        double[][][] s = new double[heads][n][n];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j <= i; j++) {
                    s[h][i][j] = dot(qkv.data, i * qkv.cols + h * dh, qkv.data, j * qkv.cols + d + h * dh, dh);
                }
            }
        }
        return s;
    }

    // ---------------------------------------------------------------- mask recovery

    /**
     * Recovers the input mask of an obfuscated weight {@code W̃ = N⁻¹·W·N_out} for (block-)orthogonal
     * masks: {@code W̃·W̃ᵀ = Nᵀ·(W·Wᵀ)·N}, so eigenbases satisfy {@code Nᵀ·U = Ũ·S} with unknown signs
     * S. Returns {@code Ũ}; {@code x̃·Ũ = x·U·S}, so {@code |x̃·Ũ| = |x·U|} needs no signs.
     */
    static DMatrixRMaj maskedEigenbasis(Matrix weightTilde) {
        return PublicModel.eigenbasis(PublicModel.gram(weightTilde, false));
    }

    /**
     * Unmasks rows with the spectral estimate {@code N̂ = Ũ·S·Uᵀ}, taking the signs S from the decoded
     * rows' candidates ({@code ref}): {@code x̂ = x̃·Ũ·S·Uᵀ}.
     */
    static Matrix unmaskSpectral(Matrix projected, Matrix ref, DMatrixRMaj u) {
        int n = projected.rows, d = projected.cols;
        Matrix refProjected = Kernels.matmul(ref, toFloat(u));
        float[] sign = new float[d];
        for (int k = 0; k < d; k++) {
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += projected.get(i, k) * refProjected.get(i, k);
            }
            sign[k] = s < 0 ? -1 : 1;
        }
        Matrix signed = projected.copy();
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < d; k++) {
                signed.data[i * d + k] *= sign[k];
            }
        }
        return Kernels.matmulTransposed(signed, toFloat(u));
    }

    /**
     * Recovers a permutation-with-scaling input mask from {@code W̃[π(i), :] = W[i, σ(·)]·s'/s_i}: row r of
     * W̃ is matched to the public row whose sorted log-magnitudes it resembles (greedy, cheapest pair first;
     * works when rows differ in scale or shape, as trained weights' do, not for i.i.d. random rows), and its scale is the difference of mean log-magnitudes (up to one global factor).
     * Returns {@code x̂} with {@code x̂[:, i] = x̃[:, π̂(i)]·ŝ_i}.
     */
    static Matrix unmaskPermutation(Matrix xTilde, Matrix weightTilde, Matrix weightPublic) {
        return recoverPermutation(weightTilde, weightPublic).unmask(xTilde);
    }

    /** A recovered permutation-with-scaling input mask: {@code x̂[:, i] = x̃[:, source[i]]·scale[i]}. */
    record RecoveredPermutation(int[] source, double[] scale) implements MaskRecovery.Unmasking {
        @Override
        public Matrix unmask(Matrix xTilde) {
            int d = source.length;
            Matrix x = new Matrix(xTilde.rows, d);
            for (int i = 0; i < d; i++) {
                for (int row = 0; row < x.rows; row++) {
                    x.data[row * d + i] = (float) (xTilde.get(row, source[i]) * scale[i]);
                }
            }
            return x;
        }
    }

    /** The weight-only part of {@link #unmaskPermutation} (once per session: the weights do not change). */
    static RecoveredPermutation recoverPermutation(Matrix weightTilde, Matrix weightPublic) {
        return MaskRecovery.permutation(rowProfiles(weightTilde), rowProfiles(weightPublic));
    }

    /**
     * Each row's sorted log-magnitudes, not centred: a row's overall magnitude is what tells rows apart (the
     * mask shifts it by only {@code |log s_i|}); with the row means the scales come from.
     */
    private static MaskRecovery.Profiles rowProfiles(Matrix w) {
        float[][] sorted = new float[w.rows][];
        double[] mean = new double[w.rows];
        for (int i = 0; i < w.rows; i++) {
            mean[i] = meanLog(w.row(i));
            sorted[i] = shifted(sortedLog(w.row(i)), mean[i]);
        }
        return new MaskRecovery.Profiles(sorted, mean);
    }

    /**
     * Greedy assignment of observed rows to public rows by squared profile distance, cheapest pair first:
     * {@code source[i]} is the observed row matched to public row i.
     */
    static int[] assign(float[][] seen, float[][] pub) {
        int d = pub.length;
        double[] cost = new double[d * d];
        Integer[] order = new Integer[d * d];
        for (int r = 0; r < d; r++) {
            for (int i = 0; i < d; i++) {
                cost[r * d + i] = distance(pub[i], 0, seen[r]);
                order[r * d + i] = r * d + i;
            }
        }
        Arrays.sort(order, (a, b) -> Double.compare(cost[a], cost[b]));
        int[] source = new int[d];
        Arrays.fill(source, -1);
        boolean[] used = new boolean[d];
        for (int p : order) {
            int r = p / d, i = p % d;
            if (source[i] < 0 && !used[r]) {
                source[i] = r;
                used[r] = true;
            }
        }
        return source;
    }

    // ---------------------------------------------------------------- output tokens

    /**
     * Reads a generated token from one LM head call. For (block-)orthogonal head input masks the unit
     * columns of {@code W̃ = N⁻¹·wteᵀ·P·S} have the Gram spectrum of the unit token embeddings, so each
     * column's token is found by sign-free matching in the eigenbases; {@code ℓ̃_c/‖w̃_c‖ = ℓ_v/‖wte_v‖}
     * ranks columns without knowing the scales. The top {@code k} columns are identified and their
     * logits unscaled; the largest is the attacker's guess.
     *
     * @param maskedBasis {@link #maskedEigenbasis} of the unit-column head (once per session)
     */
    static int outputToken(ExecutorView view, ExecutorView.Call call, DMatrixRMaj maskedBasis, double[] colNormSq,
                           PublicModel pub, int k) {
        Matrix w = view.head().weight();
        Matrix logits = view.head().apply(call.x(), call.compensation());
        int d = w.rows, vocab = w.cols;
        double[] colNorm = colNormSq;
        int[] top = topByRatio(logits.data, colNorm, k);
        Matrix sig = pub.headSignatures(), sigSample = pub.headSignatureSample();
        double[] wteNorm = pub.embeddingNorms();
        double bestLogit = Double.NEGATIVE_INFINITY;
        int best = 0;
        double[] dist = new double[vocab];
        for (int c : top) {
            double norm = Math.sqrt(colNorm[c]);
            float[] column = new float[d];
            for (int r = 0; r < d; r++) {
                column[r] = (float) (w.data[r * vocab + c] / Math.max(norm, 1e-30));
            }
            float[] projected = abs(Kernels.matmul(Matrix.rowVector(column), toFloat(maskedBasis))).data;
            // two-stage: the first S signature coordinates bound the distance; exact on the shortlist
            distances(sigSample, Arrays.copyOf(projected, sigSample.cols), dist);
            int v = -1;
            double vDist = Double.POSITIVE_INFINITY;
            for (int cand : smallest(dist, Math.min(SHORTLIST, vocab))) {
                double e = distance(sig.data, cand * sig.cols, projected);
                if (e < vDist) {
                    vDist = e;
                    v = cand;
                }
            }
            double logit = logits.data[c] * wteNorm[v] / Math.max(norm, 1e-30);
            if (logit > bestLogit) {
                bestLogit = logit;
                best = v;
            }
        }
        return best;
    }

    /** Unit-column eigenbasis of the masked head (see {@link #outputToken}). */
    static DMatrixRMaj headMaskedBasis(ExecutorView view) {
        return PublicModel.eigenbasis(PublicModel.gram(view.head().weight(), true));
    }

    /** Squared column norms of the masked head (once per session). */
    static double[] columnNormsSq(Matrix w) {
        double[] n = new double[w.cols];
        for (int r = 0; r < w.rows; r++) {
            for (int c = 0; c < w.cols; c++) {
                double x = w.data[r * w.cols + c];
                n[c] += x * x;
            }
        }
        return n;
    }

    /** The {@code k} columns with the largest {@code logit/‖column‖}, best first (insertion into a short list). */
    private static int[] topByRatio(float[] logits, double[] colNormSq, int k) {
        int m = Math.min(k, colNormSq.length);
        int[] idx = new int[m];
        double[] val = new double[m];
        Arrays.fill(val, Double.NEGATIVE_INFINITY);
        for (int c = 0; c < colNormSq.length; c++) {
            double r = logits[c] / Math.max(Math.sqrt(colNormSq[c]), 1e-30);
            if (r <= val[m - 1]) {
                continue;
            }
            int at = m - 1;
            while (at > 0 && val[at - 1] < r) {
                val[at] = val[at - 1];
                idx[at] = idx[at - 1];
                at--;
            }
            val[at] = r;
            idx[at] = c;
        }
        return idx;
    }

    // ---------------------------------------------------------------- small numerics

    static double sq(float[] a, int o, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += (double) a[o + i] * a[o + i];
        }
        return s;
    }

    static double dot(float[] a, int ao, float[] b, int bo, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += (double) a[ao + i] * b[bo + i];
        }
        return s;
    }

    static Matrix abs(Matrix m) {
        Matrix r = new Matrix(m.rows, m.cols);
        for (int i = 0; i < m.data.length; i++) {
            r.data[i] = Math.abs(m.data[i]);
        }
        return r;
    }

    static float[] unit(float[] v) {
        double n = Math.sqrt(sq(v, 0, v.length));
        float[] u = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            u[i] = (float) (v[i] / Math.max(n, 1e-30));
        }
        return u;
    }

    static Matrix unitRows(Matrix m) {
        Matrix r = new Matrix(m.rows, m.cols);
        for (int i = 0; i < m.rows; i++) {
            System.arraycopy(unit(m.row(i)), 0, r.data, i * m.cols, m.cols);
        }
        return r;
    }

    static float[] sortedLog(float[] v) {
        float[] s = new float[v.length];
        double mean = 0;
        for (int i = 0; i < v.length; i++) {
            s[i] = (float) Math.log(Math.abs(v[i]) + 1e-30);
            mean += s[i];
        }
        mean /= v.length;
        for (int i = 0; i < v.length; i++) {
            s[i] -= (float) mean;
        }
        Arrays.sort(s);
        return s;
    }

    static Matrix sortedLogRows(Matrix m) {
        Matrix r = new Matrix(m.rows, m.cols);
        for (int i = 0; i < m.rows; i++) {
            System.arraycopy(sortedLog(m.row(i)), 0, r.data, i * m.cols, m.cols);
        }
        return r;
    }

    private static float[] shifted(float[] v, double by) {
        for (int i = 0; i < v.length; i++) {
            v[i] += (float) by;
        }
        return v;
    }

    private static double meanLog(float[] v) {
        double s = 0;
        for (float x : v) {
            s += Math.log(Math.abs(x) + 1e-30);
        }
        return s / v.length;
    }

    /** Squared distance of {@code x} to every row of {@code table}. */
    static void distances(Matrix table, float[] x, double[] out) {
        int d = table.cols;
        for (int v = 0; v < table.rows; v++) {
            double s = 0;
            for (int j = 0; j < d; j++) {
                double e = table.data[v * d + j] - x[j];
                s += e * e;
            }
            out[v] = s;
        }
    }

    static int argmax(float[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best;
    }

    static int argmin(double[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] < a[best]) {
                best = i;
            }
        }
        return best;
    }

    static Matrix toFloat(DMatrixRMaj m) {
        Matrix r = new Matrix(m.numRows, m.numCols);
        for (int i = 0; i < r.data.length; i++) {
            r.data[i] = (float) m.data[i];
        }
        return r;
    }
}
