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
        DMatrixRMaj fast = DenseMask.blockedGramSchmidt(d, new Random(11));
        DMatrixRMaj reference = DenseMask.orthogonal(d, new Random(11)).toDense(); // d <= 512: EJML QR path
        double max = 0;
        for (int i = 0; i < fast.data.length; i++) {
            max = Math.max(max, Math.abs(fast.data[i] - reference.data[i]));
        }
        assertThat(max).isLessThan(1e-4);
    }
}
