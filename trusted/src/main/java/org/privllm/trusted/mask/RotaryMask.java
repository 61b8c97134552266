package org.privllm.trusted.mask;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.Matrix;

/**
 * A head mask that commutes with rotary position embedding (RoPE, HuggingFace's {@code rotate_half}
 * layout): on each rotary pair {@code (i, i + d/2)} it acts as the 2×2 block {@code s_i·R(φ_i)}, a
 * rotation by a secret angle times a secret positive scale, and as nothing else. RoPE at position
 * {@code p} rotates the same pair by {@code p·θ_i}; planar rotations commute, so
 * {@code RoPE_p(x·N) = RoPE_p(x)·N} for every position and every frequency table (Llama 3's scaled one
 * included). With the key mask {@code N_K = N_Q⁻ᵀ} (per pair {@code (s·R)⁻ᵀ = s⁻¹·R}: the same angle,
 * the inverse scale) scores are invariant: {@code RoPE(q·N_Q)·RoPE(k·N_K)ᵀ = RoPE(q)·RoPE(k)ᵀ}.
 *
 * <p>This is the whole of what commutes with RoPE when the pair frequencies are distinct (as the
 * standard {@code θ^(−2i/d)} are): pairs of equal frequency could also be mixed with each other, which
 * this class does not do. It is much weaker than a dense head mask: each pair's length is scaled by a
 * per-session constant and its direction turned by one, so the executor sees every pair's norm up to
 * that constant. Applied in O(n·d).
 */
public final class RotaryMask implements Mask {
    private final int half;
    private final double[] scale;
    private final double[] cos;
    private final double[] sin;
    private final double sMax, sMin;

    /**
     * @param scale positive finite scales {@code s_i}, one per pair ({@code d/2})
     * @param angle angles {@code φ_i} in radians, one per pair
     */
    public RotaryMask(double[] scale, double[] angle) {
        if (scale.length == 0 || scale.length != angle.length) {
            throw new IllegalArgumentException("rotary mask needs one scale and one angle per pair, got " + scale.length
                    + " and " + angle.length);
        }
        this.half = scale.length;
        this.scale = scale.clone();
        this.cos = new double[half];
        this.sin = new double[half];
        double max = 0, min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < half; i++) {
            if (!(scale[i] > 0) || Double.isInfinite(scale[i]) || !Double.isFinite(angle[i])) {
                throw new IllegalArgumentException("rotary mask scales must be positive and finite, angles finite");
            }
            cos[i] = Math.cos(angle[i]);
            sin[i] = Math.sin(angle[i]);
            max = Math.max(max, scale[i]);
            min = Math.min(min, scale[i]);
        }
        this.sMax = max;
        this.sMin = min;
    }

    private RotaryMask(double[] scale, double[] cos, double[] sin) {
        this.half = scale.length;
        this.scale = scale;
        this.cos = cos;
        this.sin = sin;
        double max = 0, min = Double.POSITIVE_INFINITY;
        for (double s : scale) {
            max = Math.max(max, s);
            min = Math.min(min, s);
        }
        this.sMax = max;
        this.sMin = min;
    }

    /** Angles uniform on the circle, scales log-uniform in {@code [minScale, maxScale]} (1 and 1: pure rotations). */
    public static RotaryMask random(int headDim, double minScale, double maxScale, Random rnd) {
        if (headDim <= 0 || headDim % 2 != 0) {
            throw new IllegalArgumentException("rotary mask needs an even head width, got " + headDim);
        }
        if (!(minScale > 0) || !(maxScale >= minScale) || Double.isInfinite(maxScale)) {
            throw new IllegalArgumentException("bad rotary mask scales [" + minScale + ", " + maxScale + "]");
        }
        int half = headDim / 2;
        double[] s = new double[half], a = new double[half];
        double lo = Math.log(minScale), hi = Math.log(maxScale);
        for (int i = 0; i < half; i++) {
            a[i] = 2 * Math.PI * rnd.nextDouble();
            s[i] = minScale == maxScale ? minScale : Math.exp(lo + (hi - lo) * rnd.nextDouble());
        }
        return new RotaryMask(s, a);
    }

    /**
     * The seed level's query/key head mask under a configured family: the family's nearest analogue that
     * commutes with RoPE — pure rotations (orthogonal, {@code N_K = N_Q}) for the orthogonal and block
     * families, rotations with scales log-uniform in [½, 2] for the Gaussian and permutation families (which
     * are not orthogonal either).
     */
    public static RotaryMask sample(int headDim, MaskFamily family, Random rnd) {
        boolean orthogonal = family instanceof MaskFamily.Orthogonal || family instanceof MaskFamily.BlockOrthogonal;
        return orthogonal ? random(headDim, 1, 1, rnd) : random(headDim, 0.5, 2, rnd);
    }

    @Override
    public int dim() {
        return 2 * half;
    }

    @Override
    public DMatrixRMaj apply(DMatrixRMaj x) {
        checkCols(x);
        DMatrixRMaj y = new DMatrixRMaj(x.numRows, dim());
        transform(x.data, y.data, x.numRows, false);
        return y;
    }

    @Override
    public DMatrixRMaj applyInverse(DMatrixRMaj x) {
        checkCols(x);
        DMatrixRMaj y = new DMatrixRMaj(x.numRows, dim());
        transform(x.data, y.data, x.numRows, true);
        return y;
    }

    /**
     * Per pair {@code (a, b)·s·R(φ) = s·(a·cos − b·sin, a·sin + b·cos)} (RoPE's own orientation), or the inverse
     * {@code (a·cos + b·sin, −a·sin + b·cos)/s}.
     */
    private void transform(double[] x, double[] y, int rows, boolean inverse) {
        int d = dim();
        for (int r = 0; r < rows; r++) {
            int o = r * d;
            for (int i = 0; i < half; i++) {
                double a = x[o + i], b = x[o + half + i], c = cos[i], s = inverse ? -sin[i] : sin[i];
                double k = inverse ? 1 / scale[i] : scale[i];
                y[o + i] = k * (a * c - b * s);
                y[o + half + i] = k * (a * s + b * c);
            }
        }
    }

    @Override
    public Matrix apply(Matrix x) {
        return transform(x, false);
    }

    @Override
    public Matrix applyInverse(Matrix x) {
        return transform(x, true);
    }

    private Matrix transform(Matrix x, boolean inverse) {
        int d = dim();
        if (x.cols != d) {
            throw new IllegalArgumentException("mask of dim " + d + " applied to " + x.shape());
        }
        Matrix y = new Matrix(x.rows, d);
        for (int r = 0; r < x.rows; r++) {
            int o = r * d;
            for (int i = 0; i < half; i++) {
                double a = x.data[o + i], b = x.data[o + half + i], c = cos[i], s = inverse ? -sin[i] : sin[i];
                double k = inverse ? 1 / scale[i] : scale[i];
                y.data[o + i] = (float) (k * (a * c - b * s));
                y.data[o + half + i] = (float) (k * (a * s + b * c));
            }
        }
        return y;
    }

    /** {@code (s·R)⁻ᵀ = s⁻¹·R}: the same angles, inverted scales (the key mask of a query mask). */
    @Override
    public Mask transposeInverse() {
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) {
            inv[i] = 1 / scale[i];
        }
        return new RotaryMask(inv, cos, sin);
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
        return "rotary";
    }

    @Override
    public String toString() {
        return "RotaryMask[d=" + dim() + "]";
    }
}
