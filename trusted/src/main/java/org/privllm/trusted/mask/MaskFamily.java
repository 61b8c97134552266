package org.privllm.trusted.mask;

import java.util.Locale;
import java.util.Random;

/**
 * A way to sample masks, parsed from {@code orthogonal | gaussian[:maxCondition] | block:b | perm}.
 * {@link #toString()} gives the spec back.
 */
public sealed interface MaskFamily {

    /** Draws a fresh {@code d×d} mask. */
    Mask sample(int d, Random rnd);

    /** Dense Haar-orthogonal (the default). */
    record Orthogonal() implements MaskFamily {
        public Mask sample(int d, Random rnd) { return DenseMask.orthogonal(d, rnd); }
        public String toString() { return "orthogonal"; }
    }

    /** Dense Gaussian, resampled while its condition number exceeds {@code maxCondition}. */
    record Gaussian(double maxCondition) implements MaskFamily {
        /**
         * Default bound. Float32 on the wire loses about κ·2⁻²⁴ relative accuracy per masked product; over a
         * whole model κ = 1e4 measured logit errors around 1e-3 (beyond the end-to-end tolerance), κ = 1e3 stays
         * within it. A d×d Gaussian's condition number is typically ≈ 4.7·d, so this bound serves d up to ~500.
         */
        public static final double DEFAULT_MAX_CONDITION = 1e3;
        public Mask sample(int d, Random rnd) { return DenseMask.gaussian(d, maxCondition, rnd); }
        public String toString() { return "gaussian:" + maxCondition; }
    }

    /** Block-diagonal orthogonal with block size {@code blockSize} (the last block may be smaller). */
    record BlockOrthogonal(int blockSize) implements MaskFamily {
        public Mask sample(int d, Random rnd) { return BlockDiagonalMask.orthogonal(d, blockSize, rnd); }
        public String toString() { return "block:" + blockSize; }
    }

    /** Permutation with positive scales log-uniform in {@code [minScale, maxScale]}. */
    record Permutation(double minScale, double maxScale) implements MaskFamily {
        public Mask sample(int d, Random rnd) { return PermutationMask.random(d, minScale, maxScale, rnd); }
        public String toString() { return "perm"; }
    }

    MaskFamily DEFAULT = new Orthogonal();

    /** Parses a family spec; the message of the exception lists the accepted forms. */
    static MaskFamily parse(String spec) {
        String s = spec == null ? "" : spec.trim().toLowerCase(Locale.ROOT);
        String[] parts = s.split(":", -1);
        try {
            switch (parts[0]) {
                case "orthogonal" -> {
                    if (parts.length == 1) {
                        return new Orthogonal();
                    }
                }
                case "gaussian" -> {
                    if (parts.length == 1) {
                        return new Gaussian(Gaussian.DEFAULT_MAX_CONDITION);
                    }
                    double k = Double.parseDouble(parts[1]);
                    if (parts.length == 2 && k >= 1 && !Double.isInfinite(k)) {
                        return new Gaussian(k);
                    }
                }
                case "block" -> {
                    if (parts.length == 2) {
                        int b = Integer.parseInt(parts[1]);
                        if (b > 0) {
                            return new BlockOrthogonal(b);
                        }
                    }
                }
                case "perm" -> {
                    if (parts.length == 1) {
                        return new Permutation(0.5, 2);
                    }
                }
                default -> { }
            }
        } catch (NumberFormatException e) {
            // fall through to the common message
        }
        throw new IllegalArgumentException("unknown mask family '" + spec
                + "' (expected orthogonal, gaussian[:maxCondition], block:<size> or perm)");
    }
}
