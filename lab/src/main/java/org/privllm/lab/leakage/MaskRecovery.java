package org.privllm.lab.leakage;

import java.util.Arrays;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.dense.row.factory.LinearSolverFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.linsol.LinearSolverDense;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;

/**
 * Attack 7: the input mask of an uploaded weight {@code W̃ = N⁻¹·W·N_out}, recovered from {@code W̃} and the
 * public {@code W} alone, for any invertible {@code N} (the attacker knows the family, as the scheme is public).
 * <ul>
 *   <li>{@link #structure}: c_attn's output mask is block-diagonal per head, so each of its 3H blocks
 *       {@code W̃_b = N⁻¹·W_b·M_b} has the column space {@code N⁻¹·colspace(W_b)}. With 3H > d/d_h blocks this
 *       fixes {@code N⁻¹} up to a scalar, Gaussian masks included: a homogeneous linear system.</li>
 *   <li>{@link #permutation}: for permutation-with-scaling masks {@code log|W̃|} is {@code log|W|} with rows and
 *       columns permuted plus a row and a column effect; double-centring removes both, after which each row of
 *       W̃ is a public row with its entries permuted, so sorted rows match exactly.</li>
 * </ul>
 */
final class MaskRecovery {
    /** Largest structure system solved densely (unknowns {@code d·d_h}; 4096 → a 128 MB normal matrix). */
    static final int MAX_STRUCTURE_UNKNOWNS = 4096;
    /** Sorted ranks compared per row by {@link #permutation} (the profiles agree exactly, a sample suffices). */
    static final int PROFILE_RANKS = 256;

    private MaskRecovery() {}

    /** A recovered inverse input mask, up to a positive global factor: {@code x̂ = x̃·N̂⁻¹}. */
    interface Unmasking {
        Matrix unmask(Matrix masked);
    }

    /** {@code x̂ = x̃·M} for a dense estimate {@code M} of {@code N⁻¹}. */
    record DenseUnmasking(Matrix inverse) implements Unmasking {
        @Override
        public Matrix unmask(Matrix masked) {
            return Kernels.matmul(masked, inverse);
        }
    }

    // ---------------------------------------------------------------- structure solve (any invertible mask)

    /** Whether {@link #structure} is solved densely at this shape ({@code d·d_h} unknowns). */
    static boolean structureFeasible(int d, int heads) {
        return (long) d * (d / heads) <= MAX_STRUCTURE_UNKNOWNS;
    }

    /**
     * {@code N⁻¹} up to a scalar (of either sign) from c_attn's per-head block structure. With the Q blocks as
     * coordinates, {@code N⁻¹ = W̃_Q·E·W_Q⁻¹} where {@code E = diag(N_Q^h)⁻¹} has {@code H·d_h²} unknowns; every
     * K and V block c adds {@code (I − Π_c)·W̃_Q·E·Y_c = 0} with {@code Y_c = W_Q⁻¹·W_c} (public) and {@code Π_c}
     * the projector onto {@code colspace(W̃_c)}. E is the null vector of the normal matrix, whose (h, g) block is
     * {@code Σ_c (Y_{c,h}·Y_{c,g}ᵀ) ⊗ (A_{c,h}ᵀ·A_{c,g})} with {@code A_c = (I − Π_c)·W̃_Q}. The masked weight is
     * never inverted, so float32 rounding in it stays small in the answer.
     *
     * @return {@code M ≈ c·N⁻¹} ({@code d×d}), to be oriented by the caller
     */
    static Matrix structure(Matrix wTilde, Matrix wPublic, int heads) {
        int d = wPublic.rows, dh = d / heads, unknowns = heads * dh * dh;
        if (wPublic.cols != 3 * d || wTilde.cols != 3 * d || wTilde.rows != d || d % heads != 0) {
            throw new IllegalArgumentException("structure solve needs c_attn's d×3d shape, got " + wTilde.shape());
        }
        DMatrixRMaj pub = org.privllm.trusted.linalg.Dense.of(wPublic);
        DMatrixRMaj seen = org.privllm.trusted.linalg.Dense.of(wTilde);
        DMatrixRMaj wq = CommonOps_DDRM.extract(pub, 0, d, 0, d);
        DMatrixRMaj seenQ = CommonOps_DDRM.extract(seen, 0, d, 0, d);
        LinearSolverDense<DMatrixRMaj> lu = LinearSolverFactory_DDRM.lu(d);
        if (!lu.setA(wq.copy())) {
            throw new IllegalStateException("the public W_Q is singular");
        }
        DMatrixRMaj normal = new DMatrixRMaj(unknowns, unknowns);
        for (int c = heads; c < 3 * heads; c++) {
            DMatrixRMaj y = new DMatrixRMaj(d, dh);
            lu.solve(CommonOps_DDRM.extract(pub, 0, d, c * dh, (c + 1) * dh), y);
            DMatrixRMaj a = offSpan(seenQ, CommonOps_DDRM.extract(seen, 0, d, c * dh, (c + 1) * dh));
            DMatrixRMaj yyT = new DMatrixRMaj(d, d), aTa = new DMatrixRMaj(d, d);
            CommonOps_DDRM.multTransB(y, y, yyT);
            CommonOps_DDRM.multTransA(a, a, aTa);
            addKronecker(normal, yyT, aTa, heads, dh);
        }
        double[] e = nullVector(normal);
        DMatrixRMaj blockE = new DMatrixRMaj(d, d);
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < dh; i++) {
                for (int k = 0; k < dh; k++) {
                    blockE.set(h * dh + k, h * dh + i, e[h * dh * dh + i * dh + k]);
                }
            }
        }
        // M = W̃_Q·E·W_Q⁻¹, i.e. Mᵀ solves W_Qᵀ·Mᵀ = (W̃_Q·E)ᵀ
        DMatrixRMaj right = new DMatrixRMaj(d, d);
        CommonOps_DDRM.mult(seenQ, blockE, right);
        LinearSolverDense<DMatrixRMaj> luT = LinearSolverFactory_DDRM.lu(d);
        if (!luT.setA(CommonOps_DDRM.transpose(wq, null))) {
            throw new IllegalStateException("the public W_Q is singular");
        }
        DMatrixRMaj mT = new DMatrixRMaj(d, d);
        luT.solve(CommonOps_DDRM.transpose(right, null), mT);
        return org.privllm.trusted.linalg.Dense.toFloat(CommonOps_DDRM.transpose(mT, null));
    }

    /** {@code (I − Π)·x} with {@code Π} the orthogonal projector onto the column space of {@code span}. */
    private static DMatrixRMaj offSpan(DMatrixRMaj x, DMatrixRMaj span) {
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(span.numRows, span.numCols);
        if (!qr.decompose(span.copy())) {
            throw new IllegalStateException("QR of a masked block failed");
        }
        DMatrixRMaj q = qr.getQ(null, true);
        DMatrixRMaj qTx = new DMatrixRMaj(q.numCols, x.numCols);
        CommonOps_DDRM.multTransA(q, x, qTx);
        DMatrixRMaj out = x.copy();
        CommonOps_DDRM.multAdd(-1, q, qTx, out);
        return out;
    }

    /**
     * Adds {@code P_{hg} ⊗ Q_{hg}} to every (h, g) block of the normal matrix, P and Q being the (h, g) blocks of
     * {@code p} and {@code q}; unknown {@code (h, k, i)} (row k, column i of {@code E_h}, column-major vec) is
     * index {@code h·d_h² + i·d_h + k}.
     */
    private static void addKronecker(DMatrixRMaj normal, DMatrixRMaj p, DMatrixRMaj q, int heads, int dh) {
        int n = normal.numCols, block = dh * dh;
        org.privllm.tensor.Parallel.forRange(heads, 1, (from, to) -> {
            for (int h = from; h < to; h++) {
                for (int g = 0; g < heads; g++) {
                    for (int i = 0; i < dh; i++) {
                        for (int j = 0; j < dh; j++) {
                            double pij = p.get(h * dh + i, g * dh + j);
                            for (int k = 0; k < dh; k++) {
                                int row = (h * block + i * dh + k) * n + g * block + j * dh;
                                int qRow = (h * dh + k) * q.numCols + g * dh;
                                for (int l = 0; l < dh; l++) {
                                    normal.data[row + l] += pij * q.data[qRow + l];
                                }
                            }
                        }
                    }
                }
            }
        });
    }

    /**
     * The eigenvector of the smallest eigenvalue of a symmetric positive semi-definite matrix, by inverse
     * iteration on a Cholesky factor shifted just off singular (the gap to the next eigenvalue is many orders
     * larger than the shift, so a few steps converge).
     */
    static double[] nullVector(DMatrixRMaj psd) {
        int n = psd.numRows;
        double top = largestEigenvalue(psd);
        for (double shift = 1e-13 * top; ; shift *= 100) {
            DMatrixRMaj a = psd.copy();
            for (int i = 0; i < n; i++) {
                a.add(i, i, shift);
            }
            LinearSolverDense<DMatrixRMaj> chol = LinearSolverFactory_DDRM.chol(n);
            if (!chol.setA(a)) {
                if (shift > 1e-3 * top) {
                    throw new IllegalStateException("no null vector: the normal matrix is not semi-definite");
                }
                continue;
            }
            DMatrixRMaj v = new DMatrixRMaj(n, 1), next = new DMatrixRMaj(n, 1);
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(1);
            for (int i = 0; i < n; i++) {
                v.data[i] = rnd.nextDouble() - 0.5;
            }
            for (int it = 0; it < 8; it++) {
                chol.solve(v, next);
                double norm = org.ejml.dense.row.NormOps_DDRM.normF(next);
                CommonOps_DDRM.scale(1 / norm, next, v);
            }
            return v.data;
        }
    }

    /** The largest eigenvalue of a symmetric PSD matrix, roughly (power iteration). */
    private static double largestEigenvalue(DMatrixRMaj a) {
        int n = a.numRows;
        DMatrixRMaj v = new DMatrixRMaj(n, 1), w = new DMatrixRMaj(n, 1);
        Arrays.fill(v.data, 1 / Math.sqrt(n));
        double lambda = 0;
        for (int it = 0; it < 30; it++) {
            CommonOps_DDRM.mult(a, v, w);
            lambda = org.ejml.dense.row.NormOps_DDRM.normF(w);
            if (lambda == 0) {
                return 1;
            }
            CommonOps_DDRM.scale(1 / lambda, w, v);
        }
        return lambda;
    }

    /**
     * The sign that makes unmasked LayerNorm outputs LayerNorm outputs: {@code x = γ⊙n + β} with {@code Σ_j n_j = 0},
     * so {@code Σ_j x_j/γ_j = Σ_j β_j/γ_j}; for {@code x̂ = c·x} the two sides' signs give c's. +1 when undecided.
     */
    static int layerNormSign(Matrix xHat, float[] gamma, float[] beta) {
        double seen = 0, expected = 0;
        for (int j = 0; j < gamma.length; j++) {
            expected += beta[j] / gamma[j];
        }
        for (int r = 0; r < xHat.rows; r++) {
            for (int j = 0; j < gamma.length; j++) {
                seen += xHat.get(r, j) / gamma[j];
            }
        }
        return seen * expected < 0 ? -1 : 1;
    }

    // ---------------------------------------------------------------- permutation with scaling

    /**
     * The double-centred, sorted log-magnitude rows of a weight at {@link #PROFILE_RANKS} sampled ranks, and each
     * row's mean log-magnitude (what the scales shift).
     */
    record Profiles(float[][] sorted, double[] rowMeanLog) {}

    /**
     * {@code L = log|W|} minus its row means and column means plus the grand mean (invariant to any positive
     * row and column scaling), each row sorted and sampled; two passes over W, never a second copy of it.
     */
    static Profiles profiles(Matrix w) {
        int d = w.rows, m = w.cols;
        double[] rowMean = new double[d], colMean = new double[m];
        for (int r = 0; r < d; r++) {
            for (int c = 0; c < m; c++) {
                double l = log(w.data[r * m + c]);
                rowMean[r] += l;
                colMean[c] += l;
            }
        }
        double sum = 0;
        for (int r = 0; r < d; r++) {
            sum += rowMean[r];
            rowMean[r] /= m;
        }
        double grand = sum / ((double) d * m);
        for (int c = 0; c < m; c++) {
            colMean[c] /= d;
        }
        int[] ranks = PublicModel.evenlySpaced(m, PROFILE_RANKS);
        float[][] sorted = new float[d][];
        org.privllm.tensor.Parallel.forRange(d, 8, (from, to) -> {
            float[] row = new float[m];
            for (int r = from; r < to; r++) {
                for (int c = 0; c < m; c++) {
                    row[c] = (float) (log(w.data[r * m + c]) - rowMean[r] - colMean[c] + grand);
                }
                Arrays.sort(row);
                sorted[r] = new float[ranks.length];
                for (int k = 0; k < ranks.length; k++) {
                    sorted[r][k] = row[ranks[k]];
                }
            }
        });
        return new Profiles(sorted, rowMean);
    }

    private static double log(float x) {
        return Math.log(Math.abs(x) + 1e-30);
    }

    /**
     * Recovers a permutation-with-scaling input mask exactly: rows of {@code W̃} are matched to public rows by
     * their double-centred sorted profiles ({@code seen} against {@code pub}); the scale of input i is the
     * difference of the matched rows' mean log-magnitudes (up to one global factor).
     */
    static Attacks.RecoveredPermutation permutation(Profiles seen, Profiles pub) {
        int[] source = Attacks.assign(seen.sorted(), pub.sorted());
        double[] scale = new double[source.length];
        for (int i = 0; i < source.length; i++) {
            scale[i] = Math.exp(seen.rowMeanLog()[source[i]] - pub.rowMeanLog()[i]);
        }
        return new Attacks.RecoveredPermutation(source, scale);
    }
}
