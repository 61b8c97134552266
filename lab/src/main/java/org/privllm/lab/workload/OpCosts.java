package org.privllm.lab.workload;

import org.privllm.trusted.mask.MaskFamily;

/**
 * FLOP and byte costs of one operation from its shape: the single source of truth that both the
 * live instrumentation and the execution plans of modelled strategies charge through. A
 * multiply-add counts 2; elementwise ops count the per-element constants below (conventions, stated
 * in every report).
 */
public final class OpCosts {
    private OpCosts() {}

    /** LayerNorm: mean, centre, square-sum, normalise, γ, β — about 8 flops per element. */
    public static final int LAYER_NORM_PER_ELEMENT = 8;
    /** gelu_new: x³, fused multiply-adds and tanh — about 8 flops per element. */
    public static final int ACTIVATION_PER_ELEMENT = 8;
    /** RoPE per rotated query or key element: {@code x·cos + rotate_half(x)·sin} with tabulated angles (as {@code TrustedWork}). */
    public static final int ROPE_PER_ELEMENT = 3;
    /** A RoPE-commuting head mask (a scaled 2×2 rotation per rotary pair): 4 multiplies, 2 adds, 2 scalings per pair. */
    public static final int ROTARY_MASK_PER_ELEMENT = 4;
    /** Softmax per score: scale, max, subtract and exp, sum, normalise. */
    public static final int SOFTMAX_PER_SCORE = 5;
    /** float32 on the wire and in activations. */
    public static final int FLOAT_BYTES = 4;
    /** The trusted algebra (masks, pads) runs in float64. */
    public static final int DOUBLE_BYTES = 8;

    /** {@code Y = X·W (+ (X·A)·B) (+ b)} for {@code X: n×in}, {@code W: in×out}, adapter rank {@code rank} (0: none). */
    public static long linear(long n, long in, long out, long rank, boolean bias) {
        long f = 2 * n * in * out;
        if (rank > 0) {
            f += 2 * n * in * rank + 2 * n * rank * out + n * out;
        }
        return f + (bias ? n * out : 0);
    }

    /**
     * Causal attention core for {@code t} new slots of each of {@code batch} sequences over {@code past}
     * cached slots: per head and attended key a score dot product, softmax and a value axpy.
     */
    public static long attentionCore(long batch, long t, long past, long heads, long headDim) {
        long keys = batch * (t * past + t * (t + 1) / 2); // row i attends past + i + 1 keys
        return keys * heads * (4 * headDim + SOFTMAX_PER_SCORE);
    }

    /** RoPE on {@code elements} query and key values. */
    public static long rope(long elements) {
        return ROPE_PER_ELEMENT * elements;
    }

    /** A RoPE-commuting head mask (or its inverse) on {@code n} rows of a {@code dim}-wide head. */
    public static long rotaryMask(long n, int dim) {
        return ROTARY_MASK_PER_ELEMENT * n * dim;
    }

    /** Bytes the trusted side keeps for one RoPE-commuting head mask: a scale, a cosine and a sine per pair. */
    public static long rotaryMaskBytes(int dim) {
        return 3L * DOUBLE_BYTES * (dim / 2);
    }

    public static long layerNorm(long n, long d) {
        return LAYER_NORM_PER_ELEMENT * n * d;
    }

    public static long activation(long n, long d) {
        return ACTIVATION_PER_ELEMENT * n * d;
    }

    /** One add (or subtract) per element: residuals, embeddings, pads, compensations. */
    public static long elementwise(long n, long d) {
        return n * d;
    }

    /** Applying a {@code dim×dim} mask of {@code family} (or its inverse) to {@code n} rows, at the family's own cost. */
    public static long mask(MaskFamily family, long n, int dim) {
        return switch (family) {
            case MaskFamily.Orthogonal o -> 2 * n * (long) dim * dim;
            case MaskFamily.Gaussian g -> 2 * n * (long) dim * dim;
            case MaskFamily.BlockOrthogonal b -> {
                long f = 0;
                for (int o = 0; o < dim; o += b.blockSize()) {
                    long s = Math.min(b.blockSize(), dim - o);
                    f += 2 * n * s * s;
                }
                yield f;
            }
            case MaskFamily.Permutation p -> n * dim;
        };
    }

    /** Bytes the trusted side keeps for one mask: dense {@code N} and {@code N⁻¹}, blocks of both, or a permutation with scales. */
    public static long maskBytes(MaskFamily family, int dim) {
        return switch (family) {
            case MaskFamily.Orthogonal o -> 2L * DOUBLE_BYTES * dim * dim;
            case MaskFamily.Gaussian g -> 2L * DOUBLE_BYTES * dim * dim;
            case MaskFamily.BlockOrthogonal b -> DOUBLE_BYTES * mask(b, 1, dim); // 2·Σ bᵢ² entries
            case MaskFamily.Permutation p -> (long) dim * (4 + DOUBLE_BYTES);
        };
    }
}
