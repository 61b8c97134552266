package org.privllm.trusted.mask;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.Matrix;

/**
 * A permutation with positive scaling: {@code N[j][π(j)] = s_j}, so column {@code j} of {@code X}
 * moves to column {@code π(j)} of {@code X·N}, scaled by {@code s_j}. Applied in O(n·d). Cheap, but it
 * preserves each row's multiset of magnitudes up to the scales — the weakest family, kept for the
 * elementwise-invariance experiments (a permutation commutes with GELU) and for the LM head.
 */
public final class PermutationMask implements Mask {
    private final int[] perm;
    private final double[] scale;
    private final double sMax;
    private final double sMin;

    /**
     * @param perm  {@code π} as an array ({@code perm[j] = π(j)}), a permutation of {@code 0..d-1}
     * @param scale positive finite scales {@code s_j}
     */
    public PermutationMask(int[] perm, double[] scale) {
        if (perm.length != scale.length || perm.length == 0) {
            throw new IllegalArgumentException("permutation of " + perm.length + " with " + scale.length + " scales");
        }
        boolean[] seen = new boolean[perm.length];
        double max = 0, min = Double.POSITIVE_INFINITY;
        for (int j = 0; j < perm.length; j++) {
            if (perm[j] < 0 || perm[j] >= perm.length || seen[perm[j]]) {
                throw new IllegalArgumentException("not a permutation of 0.." + (perm.length - 1));
            }
            seen[perm[j]] = true;
            if (!(scale[j] > 0) || Double.isInfinite(scale[j])) {
                throw new IllegalArgumentException("permutation scales must be positive and finite");
            }
            max = Math.max(max, scale[j]);
            min = Math.min(min, scale[j]);
        }
        this.perm = perm.clone();
        this.scale = scale.clone();
        this.sMax = max;
        this.sMin = min;
    }

    /** A uniform permutation with scales log-uniform in {@code [minScale, maxScale]}. */
    public static PermutationMask random(int d, double minScale, double maxScale, Random rnd) {
        if (d <= 0 || !(minScale > 0) || !(maxScale >= minScale)) {
            throw new IllegalArgumentException("bad permutation mask: d " + d + ", scales [" + minScale + ", " + maxScale + "]");
        }
        int[] p = new int[d];
        for (int i = 0; i < d; i++) {
            p[i] = i;
        }
        for (int i = d - 1; i > 0; i--) { // Fisher–Yates
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        double[] s = new double[d];
        double lo = Math.log(minScale), hi = Math.log(maxScale);
        for (int i = 0; i < d; i++) {
            s[i] = Math.exp(lo + (hi - lo) * rnd.nextDouble());
        }
        return new PermutationMask(p, s);
    }

    @Override
    public int dim() {
        return perm.length;
    }

    /** {@code X·N} at wire precision in O(n·d): column j moves to π(j), scaled. */
    @Override
    public Matrix apply(Matrix x) {
        int d = dim();
        if (x.cols != d) {
            throw new IllegalArgumentException("mask of dim " + d + " applied to " + x.shape());
        }
        Matrix y = new Matrix(x.rows, d);
        for (int i = 0; i < x.rows; i++) {
            int o = i * d;
            for (int j = 0; j < d; j++) {
                y.data[o + perm[j]] = (float) (scale[j] * x.data[o + j]);
            }
        }
        return y;
    }

    @Override
    public Matrix applyInverse(Matrix x) {
        int d = dim();
        if (x.cols != d) {
            throw new IllegalArgumentException("mask of dim " + d + " applied to " + x.shape());
        }
        Matrix y = new Matrix(x.rows, d);
        for (int i = 0; i < x.rows; i++) {
            int o = i * d;
            for (int j = 0; j < d; j++) {
                y.data[o + j] = (float) (x.data[o + perm[j]] / scale[j]);
            }
        }
        return y;
    }

    @Override
    public DMatrixRMaj apply(DMatrixRMaj x) {
        checkCols(x);
        int d = dim();
        DMatrixRMaj y = new DMatrixRMaj(x.numRows, d);
        for (int i = 0; i < x.numRows; i++) {
            int o = i * d;
            for (int j = 0; j < d; j++) {
                y.data[o + perm[j]] = scale[j] * x.data[o + j];
            }
        }
        return y;
    }

    @Override
    public DMatrixRMaj applyInverse(DMatrixRMaj x) {
        checkCols(x);
        int d = dim();
        DMatrixRMaj y = new DMatrixRMaj(x.numRows, d);
        for (int i = 0; i < x.numRows; i++) {
            int o = i * d;
            for (int j = 0; j < d; j++) {
                y.data[o + j] = x.data[o + perm[j]] / scale[j];
            }
        }
        return y;
    }

    @Override
    public Mask transposeInverse() {
        double[] inv = new double[scale.length];
        for (int j = 0; j < inv.length; j++) {
            inv[j] = 1 / scale[j];
        }
        return new PermutationMask(perm, inv); // (P·S)⁻ᵀ has the same pattern with inverted scales
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
        return "perm";
    }

    @Override
    public String toString() {
        return "PermutationMask[d=" + dim() + "]";
    }
}
