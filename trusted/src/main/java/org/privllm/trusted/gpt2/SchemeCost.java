package org.privllm.trusted.gpt2;

import org.privllm.model.DecoderConfig;
import org.privllm.model.Gpt2Adapter;
import org.privllm.model.Gpt2Config;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscationMode;

/**
 * What the masked scheme must cost beyond plaintext, from its operation counts: the mask
 * applications the trusted domain performs per token (at each family's own cost) and, in pad mode
 * with online compensation, the extra {@code T·W·N_out} products. Used to predict the
 * obfuscated/plaintext time ratio: decode is bound by bytes read, prefill by FLOPs.
 */
public final class SchemeCost {
    private SchemeCost() {}

    /** Predicted time ratios (obfuscated / plaintext) for decode and prefill. */
    public record Prediction(double decodeRatio, double prefillRatio, double plainDecodeBytes, double maskDecodeBytes,
                             double plainPrefillFlops, double maskPrefillFlops) {}

    /**
     * @param promptTokens prefill length (rows per prefill call)
     * @param onlinePads   pad mode computing the compensation on the trusted side per call (no pool)
     */
    public static Prediction predict(Gpt2Config c, MaskFamily family, ObfuscationMode mode, boolean onlinePads,
                                     int promptTokens) {
        return predict(Gpt2Adapter.config(c), family, mode, onlinePads, promptTokens);
    }

    /** The seed scheme's prediction for a GPT-2-shaped {@link DecoderConfig} (the seed level runs GPT-2 only). */
    public static Prediction predict(DecoderConfig c, MaskFamily family, ObfuscationMode mode, boolean onlinePads,
                                     int promptTokens) {
        int d = c.hidden(), in = c.inner();
        double linearParams = linearParams(c);
        double headParams = (double) c.vocab() * d;
        double plainBytes = 4 * (linearParams + headParams);
        // Per layer per token: N₁ (d), N₂⁻¹ (d), N₃ (d), N₄⁻¹ (inner), N₅ (inner), N₆⁻¹ (d); head: N₇ (d) and the O(V) unpermute.
        double maskBytes = c.layers() * (4 * maskBytes(family, d) + 2 * maskBytes(family, in)) + maskBytes(family, d)
                + 8.0 * c.vocab();
        double maskFlopsPerRow = c.layers() * (4 * maskFlops(family, d) + 2 * maskFlops(family, in)) + maskFlops(family, d);
        double extraBytes = 0, extraFlopsPerRow = 0;
        if (mode == ObfuscationMode.PAD && onlinePads) {
            // C_T = T·W'·N_out per call: a second pass over every weight plus the output mask.
            extraBytes = plainBytes;
            extraFlopsPerRow = 2 * linearParams;
        }
        double plainFlopsPerRow = 2 * linearParams;
        double decode = (plainBytes + maskBytes + extraBytes) / plainBytes;
        double prefill = (plainFlopsPerRow + maskFlopsPerRow + extraFlopsPerRow) / plainFlopsPerRow;
        return new Prediction(decode, prefill, plainBytes, maskBytes + extraBytes, plainFlopsPerRow * promptTokens,
                (maskFlopsPerRow + extraFlopsPerRow) * promptTokens);
    }

    /**
     * A float64 multiply-add costs two float32 ones on the vector units (half the lanes): the blinded
     * levels' products run wide.
     */
    public static final double WIDE_COST = 2.0;

    /**
     * The blinded levels' predicted time ratios to plaintext, from their operation counts: every weight
     * pass — one per executor, plus the trusted {@code T·W} at the strong level with online pads — reads
     * the float32 weights once (decode) and does the plaintext's multiply-adds in float64 (prefill); the
     * pads add one Gaussian draw (and, decode, 16 bytes) per input value. With in-process executors all
     * passes share this machine's cores, so the ratio counts them all.
     *
     * @param passes weight passes per token: executors, plus one for online strong pads
     */
    public static Prediction predictBlinded(DecoderConfig c, int passes, int promptTokens) {
        return predictBlinded(c, passes, promptTokens, org.privllm.trusted.privacy.TrustedWork.PER_GAUSSIAN, 16);
    }

    /**
     * {@link #predictBlinded(DecoderConfig, int, int)} with one pad value's cost given in plaintext units: the
     * FLOPs a plaintext prefill does, and the bytes a plaintext decode step reads, in the time one Gaussian pad
     * value takes to draw. {@code bench} measures both on the machine (the draw's time against the plaintext
     * run's FLOP and byte rates) for its calibrated prediction; 0 for pads made off the request path (a pool).
     */
    public static Prediction predictBlinded(DecoderConfig c, int passes, int promptTokens, double padValueFlops,
                                            double padValueBytes) {
        double weights = linearParams(c) + (double) c.vocab() * c.hidden();
        double padValues = linearInputs(c); // one pad value per linear input per token
        double plainBytes = 4 * weights, plainFlops = 2 * weights;
        double blindedBytes = passes * plainBytes + padValueBytes * padValues;
        double blindedFlops = passes * WIDE_COST * plainFlops + padValueFlops * padValues;
        return new Prediction(blindedBytes / plainBytes, blindedFlops / plainFlops, plainBytes, blindedBytes - plainBytes,
                plainFlops * promptTokens, (blindedFlops - plainFlops) * promptTokens);
    }

    /**
     * Parameters of every block's linear layers (without biases): the fused q/k/v ({@code d × (H + 2·KV)·hd}),
     * the output projection ({@code H·hd × d}), the fused {@code [gate | up]} or up ({@code d × upWidth}) and
     * down ({@code inner × d}).
     */
    public static double linearParams(DecoderConfig c) {
        long d = c.hidden();
        return (double) c.layers() * (d * c.qkvWidth() + (long) c.qWidth() * d + d * c.upWidth() + (long) c.inner() * d);
    }

    /** Linear-layer input values per token (what the blinded levels pad): each block's four inputs and the head's. */
    public static double linearInputs(DecoderConfig c) {
        return (double) c.layers() * (2L * c.hidden() + c.qWidth() + c.inner()) + c.hidden();
    }

    /** Bytes of float32 mask data read to apply a mask of this family to one row of width d. */
    static double maskBytes(MaskFamily f, int d) {
        return switch (f) {
            case MaskFamily.Orthogonal o -> 4.0 * d * d;
            case MaskFamily.Gaussian g -> 4.0 * d * d;
            case MaskFamily.BlockOrthogonal b -> 4.0 * d * Math.min(b.blockSize(), d);
            case MaskFamily.Permutation p -> 12.0 * d;
        };
    }

    /** FLOPs to apply a mask of this family to one row of width d. */
    static double maskFlops(MaskFamily f, int d) {
        return switch (f) {
            case MaskFamily.Orthogonal o -> 2.0 * d * d;
            case MaskFamily.Gaussian g -> 2.0 * d * d;
            case MaskFamily.BlockOrthogonal b -> 2.0 * d * Math.min(b.blockSize(), d);
            case MaskFamily.Permutation p -> d;
        };
    }
}
