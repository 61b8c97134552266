package org.privllm.trusted.mask;

import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;

/**
 * A secret invertible {@code d×d} matrix {@code N}, acting on row vectors from the right. Each family
 * applies itself at its own cost (a permutation with scaling in O(n·d), a block-diagonal mask in
 * O(n·d·b), a dense mask in O(n·d²)); nothing here multiplies by a dense {@code N} unless the mask is
 * dense. The algebra runs in double (see {@link Dense}); the float overloads round the result.
 *
 * <p>A mask is a secret: implementations print only their family and dimension, and exceptions name
 * shapes only.
 */
public interface Mask {

    int dim();

    /** {@code X·N} for {@code X: n×d}. */
    DMatrixRMaj apply(DMatrixRMaj x);

    /** {@code X·N⁻¹} for {@code X: n×d}. */
    DMatrixRMaj applyInverse(DMatrixRMaj x);

    /** The mask {@code N⁻ᵀ} (what the key side needs so that {@code N_Q·N_Kᵀ = I}). */
    Mask transposeInverse();

    /** Largest singular value of {@code N}. */
    double maxSingularValue();

    /** Smallest singular value of {@code N}. */
    double minSingularValue();

    /** Short family name for reports ("orthogonal", "perm", ...). */
    String family();

    /** {@code N⁻¹·W} for {@code W: d×m}, computed as {@code (Wᵀ·N⁻ᵀ)ᵀ} at the family's own cost. */
    default DMatrixRMaj leftInverse(DMatrixRMaj w) {
        if (w.numRows != dim()) {
            throw new IllegalArgumentException("mask of dim " + dim() + " cannot left-multiply " + Dense.shape(w));
        }
        return Dense.transpose(transposeInverse().apply(Dense.transpose(w)));
    }

    /** {@code κ₂(N) = σ_max / σ_min}. */
    default double conditionNumber() {
        return maxSingularValue() / minSingularValue();
    }

    /** {@code N} as a dense matrix (for tests and small experiments). */
    default DMatrixRMaj toDense() {
        DMatrixRMaj eye = new DMatrixRMaj(dim(), dim());
        for (int i = 0; i < dim(); i++) {
            eye.set(i, i, 1);
        }
        return apply(eye);
    }

    default Matrix apply(Matrix x) {
        return Dense.toFloat(apply(Dense.of(x)));
    }

    default Matrix applyInverse(Matrix x) {
        return Dense.toFloat(applyInverse(Dense.of(x)));
    }

    default Matrix leftInverse(Matrix w) {
        return Dense.toFloat(leftInverse(Dense.of(w)));
    }

    /** Throws unless {@code x} has {@code dim()} columns. */
    default void checkCols(DMatrixRMaj x) {
        if (x.numCols != dim()) {
            throw new IllegalArgumentException("mask of dim " + dim() + " applied to " + Dense.shape(x));
        }
    }
}
