package org.privllm.trusted.mask;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.trusted.linalg.Dense;

/**
 * A dense mask: {@code N} and {@code N⁻¹} held explicitly, applied by a dense product (O(n·d²)).
 * Two samplers: {@link #orthogonal} (the default family, κ = 1) and {@link #gaussian} (κ bounded by
 * rejection: a draw beyond the bound is discarded, never returned).
 */
public final class DenseMask implements Mask {
    /** Draws before a Gaussian sampler gives up on its bound. */
    static final int MAX_DRAWS = 1000;
    /** Largest Gaussian mask sampled: each draw needs an O(d³) SVD, and beyond this κ ≈ 4.7·d ruins float32 accuracy. */
    public static final int MAX_GAUSSIAN_DIM = 1024;

    private final DMatrixRMaj n;
    private final DMatrixRMaj nInv;
    private final double sMax;
    private final double sMin;
    private final String family;
    private Mask transposeInverse;
    /** Float32 copies of N and N⁻¹ packed for the vectorised kernels (built on first float use). */
    private volatile PackedWeight packedN;
    private volatile PackedWeight packedInv;

    private DenseMask(DMatrixRMaj n, DMatrixRMaj nInv, double sMax, double sMin, String family) {
        this.n = n;
        this.nInv = nInv;
        this.sMax = sMax;
        this.sMin = sMin;
        this.family = family;
    }

    /**
     * A Haar-random orthogonal matrix: {@code Q·diag(sign(diag R))} from the QR factorisation of a
     * Gaussian matrix (without the sign fix Q is not uniformly distributed).
     */
    public static DenseMask orthogonal(int d, Random rnd) {
        checkDim(d);
        DMatrixRMaj q = d > BLOCKED_QR_MIN_DIM ? blockedGramSchmidt(d, rnd) : signFixedQ(Dense.gaussian(d, d, 1, rnd));
        DenseMask m = new DenseMask(q, Dense.transpose(q), 1, 1, "orthogonal");
        m.transposeInverse = m; // Q⁻ᵀ = Q
        return m;
    }

    /** Above this size the Q factor comes from {@link #blockedGramSchmidt} (EJML's QR takes ~30 s at d = 3072). */
    static final int BLOCKED_QR_MIN_DIM = 512;
    private static final int PANEL = 64;

    /** {@code Q·diag(sign(diag R))} of a (tall or square) matrix: the Q of its QR with a positive diagonal R. */
    private static DMatrixRMaj signFixedQ(DMatrixRMaj a) {
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(a.numRows, a.numCols);
        if (!qr.decompose(a.copy())) {
            throw new IllegalStateException("QR of a " + a.numRows + "x" + a.numCols + " Gaussian failed");
        }
        DMatrixRMaj q = qr.getQ(null, true);
        DMatrixRMaj r = qr.getR(null, true);
        for (int j = 0; j < a.numCols; j++) {
            if (r.get(j, j) < 0) {
                for (int i = 0; i < a.numRows; i++) {
                    q.set(i, j, -q.get(i, j));
                }
            }
        }
        return q;
    }

    /**
     * The same distribution — Q of a Gaussian's QR with positive diag R, i.e. Haar — by block classical
     * Gram–Schmidt with reorthogonalisation (BCGS2, "twice is enough"): the columns are orthonormalised in
     * panels of 64; each panel is projected off the earlier ones twice with the packed float32 kernels
     * (≈ 2·d³ flops at GEMM speed) and then factored in double. Orthogonality ‖QᵀQ − I‖ stays at float32
     * rounding (~1e-6), far below what the float32 wire resolves.
     */
    static DMatrixRMaj blockedGramSchmidt(int d, Random rnd) {
        DMatrixRMaj g = Dense.gaussian(d, d, 1, rnd);
        // Work on rows: row j of `done` is the j-th orthonormal column of Q.
        Matrix done = new Matrix(0, d);
        Matrix gt = Dense.toFloat(Dense.transpose(g));
        for (int from = 0; from < d; from += PANEL) {
            int to = Math.min(d, from + PANEL);
            Matrix panel = gt.rows(from, to);
            for (int pass = 0; pass < 2 && done.rows > 0; pass++) {
                Matrix c = Kernels.matmulTransposed(panel, done);          // b×k projections
                Matrix proj = Kernels.matmul(c, done);                      // b×d
                for (int i = 0; i < panel.data.length; i++) {
                    panel.data[i] -= proj.data[i];
                }
            }
            DMatrixRMaj q = signFixedQ(Dense.transpose(Dense.of(panel))); // d×b, orthonormal columns
            Matrix rows = Dense.toFloat(Dense.transpose(q));
            float[] grown = java.util.Arrays.copyOf(done.data, done.data.length + rows.data.length);
            System.arraycopy(rows.data, 0, grown, done.data.length, rows.data.length);
            done = new Matrix(done.rows + rows.rows, d, grown);
        }
        return Dense.transpose(Dense.of(done));
    }

    /**
     * A Gaussian matrix with {@code N(0, 1/d)} entries whose condition number is at most
     * {@code maxCondition}; draws beyond the bound are discarded.
     *
     * @throws IllegalArgumentException if no draw meets the bound within {@value #MAX_DRAWS} tries
     */
    public static DenseMask gaussian(int d, double maxCondition, Random rnd) {
        checkDim(d);
        if (!(maxCondition >= 1)) {
            throw new IllegalArgumentException("condition bound must be >= 1, got " + maxCondition);
        }
        if (d > MAX_GAUSSIAN_DIM) {
            throw new IllegalArgumentException("gaussian masks refuse d = " + d + " (at most " + MAX_GAUSSIAN_DIM
                    + "): a d×d Gaussian's condition number is about 4.7·d, too large for float32 wire precision; "
                    + "use orthogonal, block:B or perm");
        }
        if (maxCondition < 2.0 * d) {
            throw new IllegalArgumentException("gaussian masks refuse d = " + d + " under condition bound " + maxCondition
                    + ": a d×d Gaussian rarely has κ below 2·d (typically about 4.7·d); raise the bound (gaussian:K) "
                    + "or use orthogonal, block:B or perm");
        }
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(d, d, false, false, true);
        for (int draw = 0; draw < MAX_DRAWS; draw++) {
            DMatrixRMaj g = Dense.gaussian(d, d, 1 / Math.sqrt(d), rnd);
            if (!svd.decompose(g.copy())) {
                continue;
            }
            double max = 0, min = Double.POSITIVE_INFINITY;
            for (double s : svd.getSingularValues()) {
                max = Math.max(max, s);
                min = Math.min(min, s);
            }
            if (!(min > 0) || max / min > maxCondition) {
                continue; // rejected: this draw is never used
            }
            DMatrixRMaj inv = new DMatrixRMaj(d, d);
            if (!CommonOps_DDRM.invert(g, inv)) {
                continue;
            }
            return new DenseMask(g, inv, max, min, "gaussian");
        }
        throw new IllegalArgumentException("no Gaussian " + d + "x" + d + " mask within condition bound "
                + maxCondition + " after " + MAX_DRAWS + " draws");
    }

    private static void checkDim(int d) {
        if (d <= 0) {
            throw new IllegalArgumentException("mask dimension must be positive, got " + d);
        }
    }

    @Override
    public int dim() {
        return n.numRows;
    }

    @Override
    public DMatrixRMaj apply(DMatrixRMaj x) {
        checkCols(x);
        return Dense.mul(x, n);
    }

    @Override
    public DMatrixRMaj applyInverse(DMatrixRMaj x) {
        checkCols(x);
        return Dense.mul(x, nInv);
    }

    @Override
    public DMatrixRMaj leftInverse(DMatrixRMaj w) {
        if (w.numRows != dim()) {
            throw new IllegalArgumentException("mask of dim " + dim() + " cannot left-multiply " + Dense.shape(w));
        }
        return Dense.mul(nInv, w);
    }

    /**
     * {@code X·N} at wire precision: the activations crossing the boundary are float32, so the per-token
     * masking runs on the packed float kernels (multithreaded, vectorised) instead of a double product.
     */
    @Override
    public Matrix apply(Matrix x) {
        if (x.cols != dim()) {
            throw new IllegalArgumentException("mask of dim " + dim() + " applied to " + x.shape());
        }
        PackedWeight p = packedN;
        if (p == null) {
            packedN = p = PackedWeight.pack(Dense.toFloat(n));
        }
        return Kernels.matmul(x, p, null);
    }

    @Override
    public Matrix applyInverse(Matrix x) {
        if (x.cols != dim()) {
            throw new IllegalArgumentException("mask of dim " + dim() + " applied to " + x.shape());
        }
        PackedWeight p = packedInv;
        if (p == null) {
            packedInv = p = PackedWeight.pack(Dense.toFloat(nInv));
        }
        return Kernels.matmul(x, p, null);
    }

    /** {@code N⁻¹·W} at wire precision on the packed kernels. */
    @Override
    public Matrix leftInverse(Matrix w) {
        if (w.rows != dim()) {
            throw new IllegalArgumentException("mask of dim " + dim() + " cannot left-multiply " + w.shape());
        }
        return Kernels.matmul(Dense.toFloat(nInv), w);
    }

    @Override
    public synchronized Mask transposeInverse() {
        if (transposeInverse == null) {
            DenseMask t = new DenseMask(Dense.transpose(nInv), Dense.transpose(n), 1 / sMin, 1 / sMax, family);
            t.transposeInverse = this;
            transposeInverse = t;
        }
        return transposeInverse;
    }

    @Override
    public double maxSingularValue() {
        return sMax;
    }

    @Override
    public double minSingularValue() {
        return sMin;
    }

    @Override
    public String family() {
        return family;
    }

    @Override
    public DMatrixRMaj toDense() {
        return n.copy();
    }

    @Override
    public String toString() {
        return "DenseMask[" + family + ", d=" + dim() + "]";
    }
}
