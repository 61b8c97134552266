package org.privllm.trusted.mask;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.NormOps_DDRM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.tensor.Matrix;
import org.privllm.testing.Cases;
import org.privllm.trusted.linalg.Dense;

class MaskTest {

    private static final String[] FAMILIES = {"orthogonal", "gaussian", "block:4", "block:7", "perm", "composite"};

    /** A mask of the named family; "composite" is diag(orthogonal, perm, gaussian) as c_attn would use. */
    static Mask sample(String family, int d, Random rnd) {
        if (family.equals("composite")) {
            int a = Math.max(1, d / 3), b = Math.max(1, (d - a) / 2), c = d - a - b;
            List<Mask> blocks = c > 0
                    ? List.of(DenseMask.orthogonal(a, rnd), PermutationMask.random(b, 0.5, 2, rnd), DenseMask.gaussian(c, 1e4, rnd))
                    : List.of(DenseMask.orthogonal(a, rnd), PermutationMask.random(d - a, 0.5, 2, rnd));
            return new BlockDiagonalMask(blocks);
        }
        return MaskFamily.parse(family).sample(d, rnd);
    }

    private static void assertClose(DMatrixRMaj expected, DMatrixRMaj actual) {
        assertThat(actual.numRows).isEqualTo(expected.numRows);
        assertThat(actual.numCols).isEqualTo(expected.numCols);
        double scale = Math.max(1, NormOps_DDRM.normPInf(expected));
        for (int i = 0; i < expected.data.length; i++) {
            assertThat(Math.abs(actual.data[i] - expected.data[i])).isLessThanOrEqualTo(1e-9 * scale);
        }
    }

    static Stream<Arguments> everyOperationMatchesTheDenseMatrix() {
        return Cases.of(60, 13_000, d -> new Object[] {d.oneOf(FAMILIES), d.intIn(2, 37), d.intIn(1, 9), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] family={0}, d={1}, n={2}, seed={3}")
    @MethodSource
    void everyOperationMatchesTheDenseMatrix(String family, int d, int n, long seed) {
        Random rnd = new Random(seed);
        Mask mask = sample(family, d, rnd);
        DMatrixRMaj dense = mask.toDense();
        DMatrixRMaj inv = new DMatrixRMaj(d, d);
        assertThat(CommonOps_DDRM.invert(dense.copy(), inv)).isTrue();
        DMatrixRMaj x = Dense.gaussian(n, d, 1, rnd), w = Dense.gaussian(d, n + 2, 1, rnd);

        assertThat(mask.dim()).isEqualTo(d);
        assertClose(mult(x, dense), mask.apply(x));
        assertClose(mult(x, inv), mask.applyInverse(x));
        assertClose(mult(inv, w), mask.leftInverse(w));
        assertClose(x, mask.applyInverse(mask.apply(x)));
        DMatrixRMaj invT = new DMatrixRMaj(d, d);
        CommonOps_DDRM.transpose(inv, invT);
        assertClose(invT, mask.transposeInverse().toDense());
        // N·N_Kᵀ = I with N_K = N⁻ᵀ (the attention identity)
        assertClose(CommonOps_DDRM.identity(d), mult(dense, Dense.transpose(mask.transposeInverse().toDense())));
        double cond = NormOps_DDRM.conditionP2(dense);
        assertThat(mask.conditionNumber()).isCloseTo(cond, org.assertj.core.data.Percentage.withPercentage(1e-6));
    }

    private static DMatrixRMaj mult(DMatrixRMaj a, DMatrixRMaj b) {
        DMatrixRMaj c = new DMatrixRMaj(a.numRows, b.numCols);
        CommonOps_DDRM.mult(a, b, c);
        return c;
    }

    @Test
    void floatOverloadsRoundTheDoubleResult() {
        Random rnd = new Random(5);
        Mask m = DenseMask.orthogonal(9, rnd);
        Matrix x = new Matrix(2, 9);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = (float) rnd.nextGaussian();
        }
        Matrix back = m.applyInverse(m.apply(x));
        for (int i = 0; i < x.data.length; i++) {
            assertThat(back.data[i]).isCloseTo(x.data[i], org.assertj.core.data.Offset.offset(1e-5f));
        }
    }

    @Test
    void orthogonalMasksAreOrthogonalAndSignFixed() {
        Mask m = DenseMask.orthogonal(16, new Random(1));
        DMatrixRMaj q = m.toDense();
        assertClose(CommonOps_DDRM.identity(16), mult(Dense.transpose(q), q));
        assertThat(m.conditionNumber()).isEqualTo(1.0);
        assertThat(m.transposeInverse()).isSameAs(m);
    }

    @Test
    void blockMasksAreBlockDiagonalWithASmallerLastBlock() {
        BlockDiagonalMask m = BlockDiagonalMask.orthogonal(10, 4, new Random(2));
        assertThat(m.blocks()).extracting(Mask::dim).containsExactly(4, 4, 2);
        DMatrixRMaj dense = m.toDense();
        for (int i = 0; i < 10; i++) {
            for (int j = 0; j < 10; j++) {
                if (i / 4 != j / 4) {
                    assertThat(dense.get(i, j)).isZero();
                }
            }
        }
    }

    @Test
    void permutationScalesStayInRange() {
        PermutationMask m = PermutationMask.random(50, 0.5, 2, new Random(3));
        DMatrixRMaj dense = m.toDense();
        for (int i = 0; i < 50; i++) {
            int nonZero = 0;
            for (int j = 0; j < 50; j++) {
                double v = dense.get(i, j);
                if (v != 0) {
                    nonZero++;
                    assertThat(v).isBetween(0.5, 2.0);
                }
            }
            assertThat(nonZero).isOne();
        }
        assertThatThrownBy(() -> new PermutationMask(new int[] {0, 0}, new double[] {1, 1}))
                .hasMessage("not a permutation of 0..1");
        assertThatThrownBy(() -> new PermutationMask(new int[] {1, 0}, new double[] {1, -1}))
                .hasMessage("permutation scales must be positive and finite");
    }

    @Test
    void gaussianMasksBeyondTheBoundAreNeverReturned() {
        // d = 12: the condition number of a 12×12 Gaussian is usually well above 30, so most draws are
        // rejected; every returned mask must still be within the bound (checked independently by SVD).
        Random rnd = new Random(7);
        for (int i = 0; i < 20; i++) {
            Mask m = DenseMask.gaussian(12, 30, rnd);
            assertThat(NormOps_DDRM.conditionP2(m.toDense())).isLessThanOrEqualTo(30 * (1 + 1e-9));
        }
        // with a bound no draw can meet, the sampler refuses instead of returning a bad mask
        assertThatThrownBy(() -> DenseMask.gaussian(12, 1.0001, new Random(8)))
                .hasMessageContaining("gaussian masks refuse d = 12 under condition bound 1.0001");
        // and sizes whose typical condition number ruins float32 precision are refused outright
        assertThatThrownBy(() -> DenseMask.gaussian(3072, 1e9, new Random(8)))
                .hasMessageContaining("gaussian masks refuse d = 3072");
    }

    @Test
    void gaussianSamplerRejectsDrawsThatAnUnboundedSamplerWouldReturn() {
        // The same random stream: an unbounded sampler's first draw is ill-conditioned (> 30), so the
        // bounded sampler must have skipped it and returned a different matrix.
        DenseMask first = DenseMask.gaussian(12, 1e300, new Random(9));
        assertThat(first.conditionNumber()).isGreaterThan(30);
        DenseMask bounded = DenseMask.gaussian(12, 30, new Random(9));
        assertThat(bounded.conditionNumber()).isLessThanOrEqualTo(30);
        assertThat(bounded.toDense().data).isNotEqualTo(first.toDense().data);
    }

    @Test
    void familiesParseAndPrintWithoutSecrets() {
        assertThat(MaskFamily.parse("orthogonal")).isInstanceOf(MaskFamily.Orthogonal.class);
        assertThat(MaskFamily.parse("gaussian")).isEqualTo(new MaskFamily.Gaussian(1e3));
        assertThat(MaskFamily.parse("gaussian:100")).isEqualTo(new MaskFamily.Gaussian(100));
        assertThat(MaskFamily.parse(" Block:64 ")).isEqualTo(new MaskFamily.BlockOrthogonal(64));
        assertThat(MaskFamily.parse("perm")).isEqualTo(new MaskFamily.Permutation(0.5, 2));
        for (String bad : new String[] {"", "block", "block:0", "block:x", "gaussian:0.5", "orthogonal:3", "dct"}) {
            assertThatThrownBy(() -> MaskFamily.parse(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("expected orthogonal, gaussian[:maxCondition], block:<size> or perm");
        }
        Random rnd = new Random(4);
        for (String f : new String[] {"orthogonal", "gaussian", "block:3", "perm", "composite"}) {
            Mask m = sample(f, 8, rnd);
            String s = m + " " + m.transposeInverse();
            assertThat(s).doesNotContainPattern("\\d\\.\\d").contains("d=8");
        }
    }

    @Test
    void shapeErrorsNameShapesOnly() {
        Mask m = DenseMask.orthogonal(4, new Random(1));
        assertThatThrownBy(() -> m.apply(new DMatrixRMaj(2, 3))).hasMessage("mask of dim 4 applied to 2x3");
        assertThatThrownBy(() -> m.leftInverse(new DMatrixRMaj(3, 3))).hasMessage("mask of dim 4 cannot left-multiply 3x3");
        Mask p = PermutationMask.random(4, 1, 1, new Random(1));
        assertThatThrownBy(() -> p.leftInverse(new DMatrixRMaj(3, 3))).hasMessage("mask of dim 4 cannot left-multiply 3x3");
    }
}
