package org.privllm.trusted.mask;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

/** The blocked Gram–Schmidt sampler used for wide dense orthogonal masks. */
class OrthogonalSamplerTest {

    static double maxOffIdentity(DMatrixRMaj q) {
        DMatrixRMaj qtq = new DMatrixRMaj(q.numCols, q.numCols);
        CommonOps_DDRM.multTransA(q, q, qtq);
        double m = 0;
        for (int i = 0; i < qtq.numRows; i++) {
            for (int j = 0; j < qtq.numCols; j++) {
                m = Math.max(m, Math.abs(qtq.get(i, j) - (i == j ? 1 : 0)));
            }
        }
        return m;
    }

    @Test
    void wideMasksAreOrthogonalToFloatPrecision() {
        DenseMask m = DenseMask.orthogonal(700, new Random(3));
        assertThat(maxOffIdentity(m.toDense())).isLessThan(1e-5);
        assertThat(m.transposeInverse()).isSameAs(m);
    }

    @Test
    void blockedGramSchmidtIsTheQOfTheSameGaussian() {
        // Same random stream: the blocked sampler must give the same Q as the QR (with positive R) of the
        // same Gaussian matrix — i.e. exactly the Haar construction, only computed differently.
        int d = 200;
        org.privllm.tensor.Matrix columns = new org.privllm.trusted.linalg.GaussianStream(new Random(11)).gaussian(d, d, 1);
        DMatrixRMaj fast = org.privllm.trusted.linalg.Dense.of(DenseMask.blockedGramSchmidt(columns));
        DMatrixRMaj reference = DenseMask.householderQ(columns); // d <= 512: EJML QR path
        assertThat(maxOffIdentity(fast)).isLessThan(1e-5);
        double max = 0;
        for (int i = 0; i < fast.data.length; i++) {
            max = Math.max(max, Math.abs(fast.data[i] - reference.data[i]));
        }
        assertThat(max).isLessThan(1e-4);
    }

    @Test
    void anIllConditionedPanelFallsBackToHouseholderAndStaysOrthogonal() {
        // The last column almost repeats the one before: the last panel's Gram matrix is singular in float32,
        // so Cholesky QR fails there and the Householder QR must take over.
        int d = 200;
        org.privllm.tensor.Matrix columns = new org.privllm.trusted.linalg.GaussianStream(new Random(12)).gaussian(d, d, 1);
        for (int j = 0; j < d; j++) {
            columns.set(d - 1, j, columns.get(d - 2, j) + 1e-5f * columns.get(d - 1, j));
        }
        DMatrixRMaj fast = org.privllm.trusted.linalg.Dense.of(DenseMask.blockedGramSchmidt(columns));
        assertThat(maxOffIdentity(fast)).isLessThan(1e-5);
        DMatrixRMaj reference = DenseMask.householderQ(columns);
        double max = 0;
        for (int i = 0; i < d; i++) {
            for (int j = 0; j < d - 2; j++) { // the near-duplicate's direction is itself only known to ~1e-2
                max = Math.max(max, Math.abs(fast.get(i, j) - reference.get(i, j)));
            }
        }
        assertThat(max).isLessThan(1e-4);
    }
}
