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
import org.privllm.trusted.linalg.GaussianStream;

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

    /**
     * {@code N} and {@code N⁻¹} in float64; null for a wide orthogonal mask, which is held only as the packed
     * float32 {@code N} and {@code Nᵀ}: the blocked sampler makes it orthogonal to float32 rounding anyway, so
     * float64 copies would hold no extra accuracy — only 150 MB per 3072-wide mask, 24 of them in a GPT-2 124M
     * session. The float64 path unpacks it per call.
     */
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
     * Gaussian matrix (without the sign fix Q is not uniformly distributed). The Gaussian comes from a
     * {@link GaussianStream} keyed from {@code rnd}: a 3072-wide mask is 9.4M entries.
     */
    public static DenseMask orthogonal(int d, Random rnd) {
        checkDim(d);
        Matrix columns = new GaussianStream(rnd).gaussian(d, d, 1);
        DenseMask m;
        if (d > BLOCKED_QR_MIN_DIM) {
            Matrix q = blockedGramSchmidt(columns);
            m = new DenseMask(null, null, 1, 1, "orthogonal");
            m.packedN = PackedWeight.pack(q);
            m.packedInv = PackedWeight.packTransposed(q);
        } else {
            m = orthogonalOf(householderQ(columns));
        }
        m.transposeInverse = m; // Q⁻ᵀ = Q
        return m;
    }

    private static DenseMask orthogonalOf(DMatrixRMaj q) {
        return new DenseMask(q, Dense.transpose(q), 1, 1, "orthogonal");
    }

    /** The sign-fixed Householder Q of the square Gaussian whose columns are the rows of {@code columns}, in float64. */
    static DMatrixRMaj householderQ(Matrix columns) {
        return signFixedQ(Dense.transpose(Dense.of(columns)));
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
     * The same Q — of the Gaussian's QR with positive diag R, i.e. Haar — by block classical Gram–Schmidt
     * with reorthogonalisation (BCGS2, "twice is enough") on the packed float32 kernels: the columns
     * (rows of {@code columns}) are orthonormalised in panels of 64; each panel is projected off the
     * earlier ones twice and then factored by Cholesky QR, also twice (CholQR2: its R has a positive
     * diagonal, which is the sign convention Haar needs). Orthogonality ‖QᵀQ − I‖ stays at float32
     * rounding (~1e-6), far below what the float32 wire resolves.
     */
    static Matrix blockedGramSchmidt(Matrix columns) {
        int d = columns.cols;
        // Row j of `done` is the j-th orthonormal column of Q.
        Matrix done = new Matrix(0, d);
        for (int from = 0; from < columns.rows; from += PANEL) {
            Matrix panel = columns.rows(from, Math.min(columns.rows, from + PANEL));
            projectOff(panel, done);
            double kappa = choleskyQr(panel);
            if (Double.isInfinite(kappa)) {
                // CholQR squares the condition number: a rare ill-conditioned panel (mostly the last, a small
                // square Gaussian) takes the Householder QR instead — the same Q, computed stably.
                householderRows(panel);
            } else {
                choleskyQr(panel);
            }
            if (kappa > REORTHOGONALISE_ABOVE) {
                // The projection's float32 error grew by κ when the panel was normalised: one more round, now on
                // an orthonormal panel (exact arithmetic would make it the identity, so Q is unchanged).
                projectOff(panel, done);
                choleskyQr(panel);
            }
            float[] grown = java.util.Arrays.copyOf(done.data, done.data.length + panel.data.length);
            System.arraycopy(panel.data, 0, grown, done.data.length, panel.data.length);
            done = new Matrix(done.rows + panel.rows, d, grown);
        }
        return done.transpose();
    }

    /** Projects the rows of {@code panel} off the row space of {@code done} (orthonormal rows), twice, in place. */
    private static Matrix projectOff(Matrix panel, Matrix done) {
        if (done.rows > 0) {
            PackedWeight donePacked = PackedWeight.pack(done); // both passes reuse it
            for (int pass = 0; pass < 2; pass++) {
                Matrix c = Kernels.matmulTransposed(done, panel).transpose(); // b×k projections
                Kernels.axpy(-1f, Kernels.matmul(c, donePacked, null).data, 0, panel.data, 0, panel.data.length);
            }
        }
        return panel;
    }

    /** Panel condition (estimated from the Cholesky pivots) above which a panel is re-orthogonalised. */
    private static final double REORTHOGONALISE_ABOVE = 30;

    /** The rows of {@code p} replaced, in place, by the sign-fixed Householder Q of their span (in float64). */
    private static void householderRows(Matrix p) {
        Matrix q = Dense.toFloat(householderQ(p)).transpose();
        System.arraycopy(q.data, 0, p.data, 0, p.data.length);
    }

    /**
     * One Cholesky QR step on the rows of {@code p} (b×d, b ≤ d), in place: {@code p ← L⁻¹·p} with
     * {@code L·Lᵀ = p·pᵀ}, L lower triangular with a positive diagonal (so {@code R = Lᵀ} is the QR's R
     * with positive diagonal). Returns an estimate of p's condition number (the spread of L's diagonal); infinity,
     * with {@code p} untouched, when {@code p·pᵀ} is not numerically positive definite.
     */
    private static double choleskyQr(Matrix p) {
        int b = p.rows;
        Matrix gram = Kernels.matmulTransposed(p, p);
        double[] l = new double[b * b];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = gram.get(i, j);
                for (int k = 0; k < j; k++) {
                    sum -= l[i * b + k] * l[j * b + k];
                }
                if (i == j) {
                    if (!(sum > 0)) {
                        return Double.POSITIVE_INFINITY;
                    }
                    l[i * b + i] = Math.sqrt(sum);
                } else {
                    l[i * b + j] = sum / l[j * b + j];
                }
            }
        }
        // L⁻¹ by forward substitution, column by column.
        Matrix inv = new Matrix(b, b);
        for (int c = 0; c < b; c++) {
            double[] x = new double[b];
            for (int i = c; i < b; i++) {
                double sum = i == c ? 1 : 0;
                for (int k = c; k < i; k++) {
                    sum -= l[i * b + k] * x[k];
                }
                x[i] = sum / l[i * b + i];
                inv.set(i, c, (float) x[i]);
            }
        }
        System.arraycopy(Kernels.matmul(inv, p).data, 0, p.data, 0, p.data.length);
        double max = 0, min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < b; i++) {
            max = Math.max(max, l[i * b + i]);
            min = Math.min(min, l[i * b + i]);
        }
        return max / min;
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
        return n != null ? n.numRows : packedN.inDim();
    }

    private DMatrixRMaj n() {
        return n != null ? n : Dense.of(packedN.toMatrix());
    }

    private DMatrixRMaj nInv() {
        return nInv != null ? nInv : Dense.of(packedInv.toMatrix());
    }

    /** {@code N⁻¹} in float32. */
    private Matrix nInvFloat() {
        return nInv != null ? Dense.toFloat(nInv) : packedInv.toMatrix();
    }

    @Override
    public DMatrixRMaj apply(DMatrixRMaj x) {
        checkCols(x);
        return Dense.mul(x, n());
    }

    @Override
    public DMatrixRMaj applyInverse(DMatrixRMaj x) {
        checkCols(x);
        return Dense.mul(x, nInv());
    }

    @Override
    public DMatrixRMaj leftInverse(DMatrixRMaj w) {
        if (w.numRows != dim()) {
            throw new IllegalArgumentException("mask of dim " + dim() + " cannot left-multiply " + Dense.shape(w));
        }
        return Dense.mul(nInv(), w);
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
        return Kernels.matmul(nInvFloat(), w);
    }

    @Override
    public synchronized Mask transposeInverse() {
        if (transposeInverse == null) {
            DenseMask t = new DenseMask(Dense.transpose(nInv()), Dense.transpose(n()), 1 / sMin, 1 / sMax, family);
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
        return n != null ? n.copy() : n();
    }

    @Override
    public String toString() {
        return "DenseMask[" + family + ", d=" + dim() + "]";
    }
}
