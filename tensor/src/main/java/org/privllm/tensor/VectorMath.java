package org.privllm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Lane sums and transcendental functions whose results do not depend on whether the JIT has compiled the
 * caller. The Vector API leaves the order of {@code reduceLanes(ADD)} open and maps {@code EXP}/{@code TANH}
 * to SVML stubs once compiled but to {@code StrictMath} in its Java fallback, so the same row could give
 * different last bits early in a run (interpreted) and later (compiled) — and a row alone and in a batch
 * would then differ. Everything here is built from IEEE-exact lane operations (add, multiply, fused
 * multiply-add, fixed shuffles), which give the same bits either way.
 *
 * <p>{@link #exp} works on an array, not on a vector value: a method that takes or returns a vector is
 * only fast when the JIT inlines it, and C2 refuses to once the method was compiled on its own into more
 * than {@code InlineSmallCode} bytes; every vector then lives on the heap (prefill's GELU ran 10× slower).
 * A lane sum is a one-line fold over {@link #FOLDS} written where it is needed, for the same reason.
 */
public final class VectorMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /**
     * {@code FOLDS[k]} moves lane {@code i + (length >> (k+1))} onto lane {@code i}: the lane sum of {@code v}
     * in a fixed pairwise order is {@code for (h : FOLDS) v = v.add(v.rearrange(h));} then {@code v.lane(0)}.
     */
    static final VectorShuffle<Float>[] FOLDS = folds(S);

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    /** Adding and subtracting 1.5·2²³ rounds a float of magnitude below 2²² to the nearest integer. */
    private static final float ROUND = 12582912f;
    /** e^x for x below this is under float's normal range: the result is clamped there (≈ 1e-38, not 0). */
    private static final float EXP_MIN = -87.33654f;
    /** e^88 ≈ 1.65e38 is float's largest power-of-two scale we form (2^127). */
    private static final float EXP_MAX = 88.0f;

    private VectorMath() {}

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] folds(VectorSpecies<Float> s) {
        int n = Integer.numberOfTrailingZeros(s.length());
        VectorShuffle<Float>[] out = new VectorShuffle[n];
        for (int k = 0; k < n; k++) {
            int shift = s.length() >> (k + 1);
            out[k] = VectorShuffle.fromOp(s, i -> (i + shift) % s.length());
        }
        return out;
    }

    /**
     * The first index of the largest of {@code x[off..off+n)}, exactly as the scan
     * {@code if (x[i] > x[best]) best = i} from {@code best = 0} finds it: equal values (and {@code ±0}) go to the
     * first, a NaN is never picked unless it is the first value. The maximum in vectors, then the first lane equal
     * to it; with a NaN anywhere, the scan itself. Greedy decoding's pick: the scan was 1 % of batch-8 decode.
     */
    public static int argmax(float[] x, int off, int n) {
        if (n <= 1) {
            return 0; // as the scan
        }
        int bound = S.loopBound(n), i = 0;
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (; i < bound; i += S.length()) {
            vmax = vmax.max(FloatVector.fromArray(S, x, off + i)); // Math.max: a NaN lane stays NaN
        }
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        if (Float.isNaN(max)) {
            return argmaxScan(x, off, n);
        }
        for (i = 0; i < bound; i += S.length()) {
            VectorMask<Float> at = FloatVector.fromArray(S, x, off + i).eq(max);
            if (at.anyTrue()) {
                return i + at.firstTrue();
            }
        }
        for (; i < n; i++) {
            if (x[off + i] == max) {
                return i;
            }
        }
        throw new AssertionError("no value equals the maximum");
    }

    private static int argmaxScan(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (x[off + i] > x[off + best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * {@code x[i] = e^x[i]} in place over the whole vectors of {@code [from, to)}, within 2 ulp for inputs in
     * [−87.3, 88] (Cephes' expf polynomial after {@code x = n·ln 2 + r}); inputs outside are clamped to that
     * range, NaN stays NaN. Returns where the vectors end: the caller does the last {@code < LANES} values.
     */
    public static int exp(float[] x, int from, int to) {
        int i = from, bound = from + S.loopBound(to - from);
        FloatVector ln2Hi = FloatVector.broadcast(S, -LN2_HI), ln2Lo = FloatVector.broadcast(S, -LN2_LO);
        FloatVector c1 = FloatVector.broadcast(S, 1.3981999507E-3f), c2 = FloatVector.broadcast(S, 8.3334519073E-3f);
        FloatVector c3 = FloatVector.broadcast(S, 4.1665795894E-2f), c4 = FloatVector.broadcast(S, 1.6666665459E-1f);
        FloatVector c5 = FloatVector.broadcast(S, 5.0000001201E-1f), c0 = FloatVector.broadcast(S, 1.9875691500E-4f);
        for (; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, i).max(EXP_MIN).min(EXP_MAX);
            FloatVector n = v.mul(LOG2E).add(ROUND).sub(ROUND);
            FloatVector r = n.fma(ln2Hi, v);
            r = n.fma(ln2Lo, r);
            FloatVector p = r.fma(c0, c1).fma(r, c2).fma(r, c3).fma(r, c4).fma(r, c5);
            p = p.fma(r.mul(r), r).add(1f);
            IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
            p.mul(bits.reinterpretAsFloats()).intoArray(x, i);
        }
        return i;
    }
}
