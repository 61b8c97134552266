package org.privllm.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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
 */
public final class VectorMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** {@code HALVES[k]} moves lane {@code i + (length >> (k+1))} onto lane {@code i}. */
    private static final VectorShuffle<Float>[] HALVES = halves(S);

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
    private static VectorShuffle<Float>[] halves(VectorSpecies<Float> s) {
        int n = Integer.numberOfTrailingZeros(s.length());
        VectorShuffle<Float>[] out = new VectorShuffle[n];
        for (int k = 0; k < n; k++) {
            int shift = s.length() >> (k + 1);
            out[k] = VectorShuffle.fromOp(s, i -> (i + shift) % s.length());
        }
        return out;
    }

    /** The sum of a preferred-species vector's lanes in a fixed pairwise order. */
    public static float sum(FloatVector v) {
        for (VectorShuffle<Float> h : HALVES) {
            v = v.add(v.rearrange(h));
        }
        return v.lane(0);
    }

    /**
     * {@code e^x} per lane within 2 ulp for {@code x} in [−87.3, 88] (Cephes' expf polynomial after
     * {@code x = n·ln 2 + r}); inputs outside are clamped to that range, NaN stays NaN.
     */
    public static FloatVector exp(FloatVector x) {
        x = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector n = x.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(1.9875691500E-4f, 1.3981999507E-3f);
        p = horner(p, r, 8.3334519073E-3f);
        p = horner(p, r, 4.1665795894E-2f);
        p = horner(p, r, 1.6666665459E-1f);
        p = horner(p, r, 5.0000001201E-1f);
        p = p.fma(r.mul(r), r).add(1f);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats());
    }

    private static FloatVector horner(FloatVector p, FloatVector r, float c) {
        return p.fma(r, FloatVector.broadcast(p.species(), c));
    }

    /** {@code tanh(x) = 1 − 2/(e^{2x} + 1)} per lane (absolute error below 1e-7; ±1 beyond |x| ≈ 9). */
    public static FloatVector tanh(FloatVector x) {
        FloatVector e = exp(x.mul(2f));
        return FloatVector.broadcast(x.species(), 1f).sub(FloatVector.broadcast(x.species(), 2f).div(e.add(1f)));
    }
}
