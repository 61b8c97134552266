package org.privllm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Rotary position embedding in HuggingFace's {@code rotate_half} convention: within each head
 * vector of width {@code headDim}, the pair {@code (i, i + headDim/2)} is rotated by the angle
 * {@code position · invFreq[i]}. The angles and their cosines and sines are computed in double and
 * tabulated (as float) per position on first use, so the hot loop is four loads and six
 * multiply-adds per pair.
 */
public final class Rope {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private final int headDim;
    private final int half;
    private final double[] invFreq;
    /** cos and sin of position p's angles at {@code [p·half, (p+1)·half)}; grown on demand. */
    private float[] cos = new float[0];
    private float[] sin = new float[0];
    private int tabulated;

    /** @param inverseFrequencies {@code headDim/2} angular frequencies (radians per position) */
    public Rope(int headDim, double[] inverseFrequencies) {
        if (headDim <= 0 || headDim % 2 != 0 || inverseFrequencies.length != headDim / 2) {
            throw new IllegalArgumentException("rotary embedding needs an even head width and headDim/2 frequencies, got "
                    + headDim + " and " + inverseFrequencies.length);
        }
        this.headDim = headDim;
        this.half = headDim / 2;
        this.invFreq = inverseFrequencies.clone();
    }

    public int headDim() {
        return headDim;
    }

    /**
     * Rotates {@code heads} consecutive head vectors in each row {@code r} of {@code x}, starting at
     * column {@code col}, by {@code positions[r]}. Call from one thread at a time (the table grows here).
     */
    public void rotate(Matrix x, int col, int heads, int[] positions) {
        if (positions.length != x.rows || col < 0 || col + heads * headDim > x.cols) {
            throw new IllegalArgumentException("rotary embedding of " + heads + " heads of " + headDim + " at column "
                    + col + " in " + x.shape() + " with " + positions.length + " positions");
        }
        int max = 0;
        for (int p : positions) {
            if (p < 0) {
                throw new IllegalArgumentException("negative position " + p);
            }
            max = Math.max(max, p);
        }
        long t0 = Profile.start();
        tabulate(max + 1);
        for (int r = 0; r < x.rows; r++) {
            int t = positions[r] * half;
            for (int h = 0, o = r * x.cols + col; h < heads; h++, o += headDim) {
                rotateHead(x.data, o, t);
            }
        }
        Profile.stop(Profile.Kind.ROPE, t0);
    }

    /** {@code (x1, x2) ← (x1·cos − x2·sin, x2·cos + x1·sin)} over the head at {@code o}, angles at {@code t}. */
    private void rotateHead(float[] x, int o, int t) {
        int i = 0;
        for (int bound = S.loopBound(half); i < bound; i += S.length()) {
            FloatVector x1 = FloatVector.fromArray(S, x, o + i), x2 = FloatVector.fromArray(S, x, o + half + i);
            FloatVector c = FloatVector.fromArray(S, cos, t + i), s = FloatVector.fromArray(S, sin, t + i);
            x1.mul(c).sub(x2.mul(s)).intoArray(x, o + i);
            x2.mul(c).add(x1.mul(s)).intoArray(x, o + half + i);
        }
        for (; i < half; i++) {
            float x1 = x[o + i], x2 = x[o + half + i], c = cos[t + i], s = sin[t + i];
            x[o + i] = x1 * c - x2 * s;
            x[o + half + i] = x2 * c + x1 * s;
        }
    }

    /** Extends the table to at least {@code positions} positions (doubling, so growth is amortised). */
    private void tabulate(int positions) {
        if (positions <= tabulated) {
            return;
        }
        int n = Math.max(positions, Math.min(2 * tabulated, Integer.MAX_VALUE / 2 / half));
        float[] c = java.util.Arrays.copyOf(cos, n * half), s = java.util.Arrays.copyOf(sin, n * half);
        for (int p = tabulated; p < n; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * invFreq[i];
                c[p * half + i] = (float) Math.cos(angle);
                s[p * half + i] = (float) Math.sin(angle);
            }
        }
        cos = c;
        sin = s;
        tabulated = n;
    }
}
