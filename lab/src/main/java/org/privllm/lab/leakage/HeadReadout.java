package org.privllm.lab.leakage;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.CholeskyDecomposition_F64;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.Parallel;
import org.privllm.trusted.mask.MaskFamily;

/**
 * Attack 8: the generated tokens, read through the LM head under any invertible input mask. The executor
 * holds {@code W̃ = N⁻¹·wteᵀ·P·S}: its columns are positive multiples of the masked embeddings {@code N⁻¹·wte_v}.
 * <ol>
 *   <li>Whitening. Tyler's M-estimator of scatter is affine-equivariant and ignores each point's length, so
 *       on the columns it gives {@code N⁻¹·Σ·N⁻ᵀ} (Σ: the same estimator on the public embeddings) from the
 *       weight alone. Whitened unit columns are then the whitened unit embeddings turned by one unknown
 *       orthogonal {@code O}. For (block-)orthogonal masks no whitening is needed: they keep inner products.</li>
 *   <li>Correspondence. Inner products between whitened unit points are invariant under O, so every point's
 *       {@link #NEIGHBOURS} largest inner products with all the others (its neighbour profile) are the same on
 *       both sides: {@link #ANCHORS_PER_DIM}·d columns are matched to tokens by nearest profile.</li>
 *   <li>Orthogonal Procrustes on the matched pairs gives O, hence {@code N⁻¹ ∝ L̃·O·L⁻¹} (L̃, L: the Cholesky
 *       factors of the two scatters), with a positive factor: the columns' scales are positive.</li>
 *   <li>Readout. The masked head input {@code h̃ = h·N} (pads removed by attack 6) gives {@code h ∝ h̃·N⁻¹};
 *       the logits {@code h·wteᵀ} follow from the public embeddings, and their argmax is the greedy token.</li>
 * </ol>
 * Permutation masks take {@link MaskRecovery#permutation} on the head instead (exact and cheaper at 124M's
 * width, where Tyler's iterations cost minutes).
 */
final class HeadReadout {
    /** Largest inner products per neighbour profile. */
    static final int NEIGHBOURS = 8;
    /** Anchor columns per input dimension matched for Procrustes. */
    static final int ANCHORS_PER_DIM = 2;
    private static final int TYLER_MAX_ITERATIONS = 500;
    private static final double TYLER_TOLERANCE = 1e-12;
    /** A matched anchor farther than this from its rotated public point (unit vectors) is dropped as a mismatch. */
    private static final double INLIER = 0.1;
    private static final int PROFILE_CHUNK = 128;

    private final MaskRecovery.Unmasking inverse;
    private final Matrix publicHead;

    HeadReadout(MaskRecovery.Unmasking inverse, Matrix publicHead) {
        this.inverse = inverse;
        this.publicHead = publicHead;
    }

    /** Recovers the head's input mask from the masked head {@code headTilde} ({@code d×V}; once per session). */
    static HeadReadout recover(Matrix headTilde, MaskFamily family, PublicModel pub) {
        Matrix head = pub.weights().head();
        if (family instanceof MaskFamily.Permutation) {
            return new HeadReadout(MaskRecovery.permutation(MaskRecovery.profiles(headTilde), pub.headProfiles()), head);
        }
        boolean tyler = !preservesInnerProducts(family);
        Whitened seen = whiten(tyler ? headTilde.transpose() : null, headTilde, tyler);
        PublicProfiles known = pub.whitenedHead(tyler);
        int[] anchors = PublicModel.evenlySpaced(seen.unitRows().rows, ANCHORS_PER_DIM * seen.unitRows().cols);
        int[] tokens = nearestRows(neighbourProfiles(seen.unitRows(), anchors), known.profiles());
        DMatrixRMaj o = procrustes(PublicModel.gather(seen.unitRows(), anchors), known.unitRows(head, tokens));
        return new HeadReadout(new MaskRecovery.DenseUnmasking(inverseMask(seen.factor(), o, known.factor())), head);
    }

    /** Orthogonal and block-orthogonal masks keep inner products: the whitening step is the identity. */
    static boolean preservesInnerProducts(MaskFamily family) {
        return family instanceof MaskFamily.Orthogonal || family instanceof MaskFamily.BlockOrthogonal;
    }

    /** The greedy token of one head call from its (pad-free) masked input row. */
    int token(Matrix maskedInput) {
        float[] h = inverse.unmask(maskedInput).data;
        int d = publicHead.cols, best = 0;
        double bestLogit = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < publicHead.rows; v++) {
            double logit = Kernels.dot(h, 0, publicHead.data, v * d, d);
            if (logit > bestLogit) {
                bestLogit = logit;
                best = v;
            }
        }
        return best;
    }

    /** {@code N⁻¹ ∝ L̃·O·L⁻¹} as a right factor for rows (null factors: identity). */
    private static Matrix inverseMask(DMatrixRMaj seenFactor, DMatrixRMaj o, DMatrixRMaj knownFactor) {
        DMatrixRMaj m = o;
        if (seenFactor != null) {
            m = CommonOps_DDRM.mult(seenFactor, o, null);
        }
        if (knownFactor != null) {
            DMatrixRMaj inv = knownFactor.copy();
            if (!CommonOps_DDRM.invert(inv)) {
                throw new IllegalStateException("the public scatter is singular");
            }
            m = CommonOps_DDRM.mult(m, inv, null);
        }
        return org.privllm.trusted.linalg.Dense.toFloat(m);
    }

    // ---------------------------------------------------------------- whitening

    /**
     * Points (rows) whitened and scaled to unit length.
     *
     * @param factor   the lower Cholesky factor L of the points' Tyler scatter ({@code z = L⁻¹·x}); null: identity
     * @param unitRows the whitened unit points ({@code m×d})
     */
    record Whitened(DMatrixRMaj factor, Matrix unitRows) {}

    /**
     * The public side as attack 8 keeps it: the whitening factor and every token's neighbour profile
     * ({@code V×}{@link #NEIGHBOURS}); the whitened points themselves (154 MB at 124M) are recomputed for the
     * few tokens matched.
     */
    record PublicProfiles(DMatrixRMaj factor, Matrix profiles) {
        /** The whitened unit points of the given rows of {@code points}. */
        Matrix unitRows(Matrix points, int[] rows) {
            Matrix picked = PublicModel.gather(points, rows);
            return Attacks.unitRows(factor == null ? picked : whitened(picked, factor));
        }
    }

    /** The public embeddings' factor and neighbour profiles (once per model: {@code V²·d} multiply-adds). */
    static PublicProfiles publicProfiles(Matrix embeddings, boolean tyler) {
        Whitened w = whiten(embeddings, null, tyler);
        return new PublicProfiles(w.factor(), neighbourProfiles(w.unitRows(), PublicModel.evenlySpaced(w.unitRows().rows,
                w.unitRows().rows)));
    }

    /**
     * Unit points after {@link #tyler} whitening (or none): the rows of {@code rows}, or without Tyler the columns of
     * {@code columns} if given (one copy, not a transpose and then a normalised one).
     */
    static Whitened whiten(Matrix rows, Matrix columns, boolean tyler) {
        if (!tyler) {
            return new Whitened(null, columns != null ? unitColumns(columns) : Attacks.unitRows(rows));
        }
        DMatrixRMaj l = cholesky(tyler(rows));
        return new Whitened(l, Attacks.unitRows(whitened(rows, l)));
    }

    /** The columns of {@code w} as unit rows ({@code w.cols×w.rows}). */
    private static Matrix unitColumns(Matrix w) {
        double[] norm = new double[w.cols];
        for (int r = 0; r < w.rows; r++) {
            for (int c = 0; c < w.cols; c++) {
                norm[c] += (double) w.data[r * w.cols + c] * w.data[r * w.cols + c];
            }
        }
        Matrix out = new Matrix(w.cols, w.rows);
        for (int r = 0; r < w.rows; r++) {
            for (int c = 0; c < w.cols; c++) {
                out.data[c * w.rows + r] = (float) (w.data[r * w.cols + c] / Math.max(Math.sqrt(norm[c]), 1e-30));
            }
        }
        return out;
    }

    /**
     * Tyler's M-estimator of scatter of the rows ({@code m×d}), normalised to trace d: the fixed point of
     * {@code S = (d/m)·Σ x·xᵀ/(xᵀ·S⁻¹·x)}. It depends on each row only through its direction, and for rows
     * {@code x·Aᵀ} it is {@code A·S·Aᵀ} (up to the normalisation), which is what attack 8 uses.
     */
    static DMatrixRMaj tyler(Matrix rows) {
        int d = rows.cols;
        DMatrixRMaj s = CommonOps_DDRM.identity(d);
        for (int it = 0; it < TYLER_MAX_ITERATIONS; it++) {
            double[] q = quadraticForms(rows, cholesky(s));
            double[] w = new double[q.length];
            for (int r = 0; r < q.length; r++) {
                w[r] = 1 / Math.max(q[r], 1e-300);
            }
            DMatrixRMaj next = weightedScatter(rows, w);
            CommonOps_DDRM.scale(d / CommonOps_DDRM.trace(next), next);
            DMatrixRMaj diff = CommonOps_DDRM.subtract(next, s, null);
            double change = org.ejml.dense.row.NormOps_DDRM.normF(diff) / org.ejml.dense.row.NormOps_DDRM.normF(s);
            s = next;
            if (change < TYLER_TOLERANCE) {
                break;
            }
        }
        return s;
    }

    /** {@code ‖L⁻¹·x_r‖²} for every row (= {@code x_rᵀ·S⁻¹·x_r} with {@code S = L·Lᵀ}). */
    private static double[] quadraticForms(Matrix rows, DMatrixRMaj l) {
        int d = rows.cols;
        double[] q = new double[rows.rows];
        double[] ld = l.data;
        Parallel.forRange(rows.rows, 256, (from, to) -> {
            double[] y = new double[d];
            for (int r = from; r < to; r++) {
                int o = r * d;
                double sum = 0;
                for (int i = 0; i < d; i++) { // forward substitution L·y = x
                    double v = rows.data[o + i];
                    for (int k = 0; k < i; k++) {
                        v -= ld[i * d + k] * y[k];
                    }
                    y[i] = v / ld[i * d + i];
                    sum += y[i] * y[i];
                }
                q[r] = sum;
            }
        });
        return q;
    }

    /** {@code Σ_r w_r·x_r·x_rᵀ} in double, over row chunks in parallel. */
    static DMatrixRMaj weightedScatter(Matrix rows, double[] w) {
        int d = rows.cols;
        DMatrixRMaj total = new DMatrixRMaj(d, d);
        Parallel.forRange(rows.rows, 256, (from, to) -> {
            double[] part = new double[d * d];
            for (int r = from; r < to; r++) {
                int o = r * d;
                for (int i = 0; i < d; i++) {
                    double xi = w[r] * rows.data[o + i];
                    for (int j = 0; j <= i; j++) {
                        part[i * d + j] += xi * rows.data[o + j];
                    }
                }
            }
            synchronized (total) {
                for (int i = 0; i < d; i++) {
                    for (int j = 0; j <= i; j++) {
                        total.data[i * d + j] += part[i * d + j];
                        total.data[j * d + i] = total.data[i * d + j];
                    }
                }
            }
        });
        return total;
    }

    private static DMatrixRMaj cholesky(DMatrixRMaj s) {
        CholeskyDecomposition_F64<DMatrixRMaj> chol = DecompositionFactory_DDRM.chol(s.numRows, true);
        if (!chol.decompose(s.copy())) {
            throw new IllegalStateException("scatter matrix not positive definite");
        }
        return chol.getT(null);
    }

    /** Rows {@code x·L⁻ᵀ}, i.e. {@code L⁻¹·x} per point, in float. */
    private static Matrix whitened(Matrix rows, DMatrixRMaj l) {
        DMatrixRMaj inv = l.copy();
        if (!CommonOps_DDRM.invert(inv)) {
            throw new IllegalStateException("singular scatter factor");
        }
        return Kernels.matmulTransposed(rows, org.privllm.trusted.linalg.Dense.toFloat(inv));
    }

    // ---------------------------------------------------------------- correspondence

    /**
     * For each row in {@code which}, its {@link #NEIGHBOURS} largest inner products with every other row,
     * largest first ({@code which.length×k}): invariant to any orthogonal map of all rows.
     */
    static Matrix neighbourProfiles(Matrix unitRows, int[] which) {
        int k = NEIGHBOURS, m = unitRows.rows;
        Matrix out = new Matrix(which.length, k);
        org.privllm.tensor.PackedWeight all = org.privllm.tensor.PackedWeight.packTransposed(unitRows); // once: V×d at 124M
        for (int from = 0; from < which.length; from += PROFILE_CHUNK) {
            int to = Math.min(which.length, from + PROFILE_CHUNK), base = from;
            Matrix chunk = new Matrix(to - from, unitRows.cols);
            for (int i = from; i < to; i++) {
                System.arraycopy(unitRows.data, which[i] * unitRows.cols, chunk.data, (i - from) * unitRows.cols, unitRows.cols);
            }
            Matrix g = Kernels.matmul(chunk, all, null);
            Parallel.forRange(to - from, 8, (a, b) -> {
                for (int i = a; i < b; i++) {
                    topK(g.data, i * m, m, which[base + i], out.data, (base + i) * k, k);
                }
            });
        }
        return out;
    }

    /** The k largest of {@code a[o..o+m)} except index {@code self}, descending, into {@code out[oo..]}. */
    private static void topK(float[] a, int o, int m, int self, float[] out, int oo, int k) {
        java.util.Arrays.fill(out, oo, oo + k, Float.NEGATIVE_INFINITY);
        for (int j = 0; j < m; j++) {
            float v = a[o + j];
            if (j == self || v <= out[oo + k - 1]) {
                continue;
            }
            int at = k - 1;
            while (at > 0 && out[oo + at - 1] < v) {
                out[oo + at] = out[oo + at - 1];
                at--;
            }
            out[oo + at] = v;
        }
    }

    /** For each row of {@code queries}, the index of the nearest row of {@code table} (squared distance). */
    static int[] nearestRows(Matrix queries, Matrix table) {
        int[] best = new int[queries.rows];
        Parallel.forRange(queries.rows, 4, (from, to) -> {
            double[] dist = new double[table.rows];
            for (int i = from; i < to; i++) {
                Attacks.distances(table, queries.row(i), dist);
                best[i] = Attacks.argmin(dist);
            }
        });
        return best;
    }

    /**
     * The orthogonal O with {@code seen_a ≈ O·known_a} over aligned rows (Procrustes: {@code O = U·Vᵀ} for
     * {@code Σ seen·knownᵀ = U·Σ·Vᵀ}), refitted once on the pairs it maps within {@link #INLIER}.
     */
    static DMatrixRMaj procrustes(Matrix seen, Matrix known) {
        DMatrixRMaj o = procrustesFit(seen, known, null);
        int d = seen.cols, inliers = 0;
        boolean[] keep = new boolean[seen.rows];
        for (int a = 0; a < seen.rows; a++) {
            double err = 0;
            for (int i = 0; i < d; i++) {
                double rotated = 0;
                for (int j = 0; j < d; j++) {
                    rotated += o.get(i, j) * known.get(a, j);
                }
                double e = seen.get(a, i) - rotated;
                err += e * e;
            }
            keep[a] = Math.sqrt(err) < INLIER;
            inliers += keep[a] ? 1 : 0;
        }
        return inliers >= d && inliers < seen.rows ? procrustesFit(seen, known, keep) : o;
    }

    private static DMatrixRMaj procrustesFit(Matrix seen, Matrix known, boolean[] use) {
        int d = seen.cols;
        DMatrixRMaj cross = new DMatrixRMaj(d, d);
        for (int a = 0; a < seen.rows; a++) {
            if (use != null && !use[a]) {
                continue;
            }
            for (int i = 0; i < d; i++) {
                double si = seen.data[a * d + i];
                for (int j = 0; j < d; j++) {
                    cross.data[i * d + j] += si * known.data[a * d + j];
                }
            }
        }
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(d, d, true, true, false);
        if (!svd.decompose(cross)) {
            throw new IllegalStateException("Procrustes SVD failed");
        }
        DMatrixRMaj u = svd.getU(null, false), vt = svd.getV(null, true);
        return CommonOps_DDRM.mult(u, vt, null);
    }
}
