package org.privllm.lab.leakage.blinded;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.NormOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.privllm.lab.leakage.PublicModel;
import org.privllm.model.Gpt2Config;
import org.privllm.tensor.Matrix;

/**
 * The token-mixing candidate for a single executor (GELO, arXiv 2603.05035), evaluated on its first linear
 * layer before building it: the executor would receive {@code U = A·[X; D]} — the call's rows X mixed with
 * {@code k} decoy rows D by a fresh, non-orthogonal invertible {@code A} — and multiply it by the public weight.
 * Mixing rows leaves their row space unchanged, so every true row still lies in {@code rowspace(U)}: the
 * attacker projects each vocabulary entry's first-layer input (at each position) onto that space, and the
 * entries with no residual are the prompt's tokens. Decoys only help once {@code n + k} reaches the width d,
 * where the row space is everything — at {@code d/n} times the executor's work per call (decode: n = 1).
 *
 * <p>Decoys here are the strongest kind for the defender that the attacker cannot sieve out by position:
 * first-layer inputs of random tokens at random positions of the prompt's range (Gaussian decoys fail the
 * same way: the true rows keep zero residual). Reported per decoy count: the fraction of prompt tokens the
 * subspace test recovers, and the float32 error of unmixing the product, {@code ‖A⁻¹·(U·W) − X·W‖/‖X·W‖},
 * against A's condition number.
 */
public final class TokenMixing {
    private final Gpt2Config config;
    private final PublicModel pub;

    public TokenMixing(Gpt2Config config, PublicModel pub) {
        this.config = config;
        this.pub = pub;
    }

    /** One table row per decoy count, over the prompts. */
    public List<Map<String, Object>> run(List<int[]> prompts, int[] decoyCounts, long seed) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int k : decoyCounts) {
            Random rnd = new Random(seed + k);
            int tokens = 0, found = 0;
            double worstErr = 0, sumKappa = 0;
            for (int[] p : prompts) {
                int n = p.length;
                DMatrixRMaj rows0 = stack(p, rnd, k);
                DMatrixRMaj a = mixing(n + k, rnd);
                DMatrixRMaj u = new DMatrixRMaj(n + k, config.embd());
                CommonOps_DDRM.mult(a, rows0, u);
                DMatrixRMaj basis = orthonormalRows(u);
                for (int i = 0; i < n; i++) {
                    tokens++;
                    found += decode(basis, i) == p[i] ? 1 : 0;
                }
                worstErr = Math.max(worstErr, unmixError(a, u, rows0));
                sumKappa += org.ejml.dense.row.NormOps_DDRM.conditionP2(a);
            }
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("decoys", k);
            row.put("prompt_tokens", tokens);
            row.put("subspace_recovery", Math.round(1e4 * found / (double) tokens) / 1e4);
            row.put("executor_rows_per_real_row", Math.round(100.0 * (tokens + (double) k * prompts.size()) / tokens) / 100.0);
            row.put("mean_condition_number", Math.round(sumKappa / prompts.size()));
            row.put("unmix_rel_err_float32", Double.parseDouble(String.format("%.3g", worstErr)));
            row.put("chance", Double.parseDouble(String.format("%.3g", 1.0 / config.vocab())));
            rows.add(row);
        }
        return rows;
    }

    /** The prompt's first-layer rows, then k decoys: random tokens at random positions within the prompt's range. */
    private DMatrixRMaj stack(int[] p, Random rnd, int k) {
        int d = config.embd();
        DMatrixRMaj m = new DMatrixRMaj(p.length + k, d);
        for (int i = 0; i < p.length + k; i++) {
            int pos = i < p.length ? i : rnd.nextInt(p.length);
            int tok = i < p.length ? p[i] : rnd.nextInt(config.vocab());
            float[] r = pub.layer0Rows(pos, new int[] {tok}).data;
            for (int j = 0; j < d; j++) {
                m.set(i, j, r[j]);
            }
        }
        return m;
    }

    /** A fresh Gaussian mixing matrix (non-orthogonal; κ grows with its size), as GELO draws one per call. */
    private static DMatrixRMaj mixing(int m, Random rnd) {
        DMatrixRMaj a = new DMatrixRMaj(m, m);
        for (int i = 0; i < a.data.length; i++) {
            a.data[i] = rnd.nextGaussian();
        }
        return a;
    }

    /** An orthonormal basis of U's row space (rows), from a QR of Uᵀ; numerically rank-revealing enough here. */
    private static DMatrixRMaj orthonormalRows(DMatrixRMaj u) {
        DMatrixRMaj ut = CommonOps_DDRM.transpose(u, null);
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(ut.numRows, ut.numCols);
        qr.decompose(ut.copy());
        DMatrixRMaj q = qr.getQ(null, true); // d × min(d, m)
        return CommonOps_DDRM.transpose(q, null);
    }

    /** The vocabulary entry at position {@code pos} whose first-layer input has the smallest relative residual. */
    private int decode(DMatrixRMaj basis, int pos) {
        Matrix cand = pub.layer0Inputs(pos);
        int d = cand.cols, best = 0;
        double bestRes = Double.POSITIVE_INFINITY;
        double[] coef = new double[basis.numRows];
        for (int v = 0; v < cand.rows; v++) {
            double norm = 0;
            for (int j = 0; j < d; j++) {
                norm += (double) cand.data[v * d + j] * cand.data[v * d + j];
            }
            double proj = 0;
            for (int r = 0; r < basis.numRows; r++) {
                double c = 0;
                for (int j = 0; j < d; j++) {
                    c += basis.data[r * d + j] * cand.data[v * d + j];
                }
                coef[r] = c;
                proj += c * c;
            }
            double res = Math.max(0, norm - proj) / Math.max(norm, 1e-300);
            if (res < bestRes) {
                bestRes = res;
                best = v;
            }
        }
        return best;
    }

    /** What the trusted side pays in accuracy: unmixing a float32 product {@code (U·W)} with {@code A⁻¹}, against X·W. */
    private double unmixError(DMatrixRMaj a, DMatrixRMaj u, DMatrixRMaj x) {
        Random r = new Random(1);
        int d = config.embd();
        DMatrixRMaj w = new DMatrixRMaj(d, d);
        for (int i = 0; i < w.data.length; i++) {
            w.data[i] = r.nextGaussian() / Math.sqrt(d);
        }
        DMatrixRMaj uw = new DMatrixRMaj(u.numRows, d), xw = new DMatrixRMaj(x.numRows, d), rec = new DMatrixRMaj(u.numRows, d);
        CommonOps_DDRM.mult(u, w, uw);
        for (int i = 0; i < uw.data.length; i++) {
            uw.data[i] = (float) uw.data[i]; // the executor's float32 result
        }
        CommonOps_DDRM.mult(x, w, xw);
        DMatrixRMaj inv = a.copy();
        CommonOps_DDRM.invert(inv);
        CommonOps_DDRM.mult(inv, uw, rec);
        CommonOps_DDRM.subtractEquals(rec, xw);
        return NormOps_DDRM.normF(rec) / NormOps_DDRM.normF(xw);
    }
}
