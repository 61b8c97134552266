package org.privllm.trusted.obf;

import java.security.SecureRandom;
import java.util.Random;
import org.privllm.trusted.mask.MaskFamily;

/**
 * How a {@link TrustedSession} obfuscates.
 *
 * @param mode          mask or pad mode
 * @param scope         per-call or per-session masks
 * @param family        family of {@code N_in}, {@code N_out}
 * @param loraFamily    family of the adapter mask {@code U (r×r)}
 * @param padPool       pads from a precomputed {@link PadPool} (per-session scope only) instead of online
 * @param poolCapacity  pads kept ready per (layer, rows)
 * @param padStd        standard deviation of pad entries
 * @param random        randomness for masks and pads: {@link SecureRandom} by default, seeded for experiments
 */
public record ObfuscationConfig(ObfuscationMode mode, MaskScope scope, MaskFamily family, MaskFamily loraFamily,
                                boolean padPool, int poolCapacity, double padStd, Random random) {
    public ObfuscationConfig {
        if (padPool && scope != MaskScope.PER_SESSION) {
            throw new IllegalArgumentException("a pad pool needs per-session masks: compensations are bound to N_out");
        }
        if (padPool && mode != ObfuscationMode.PAD) {
            throw new IllegalArgumentException("a pad pool only makes sense in pad mode");
        }
        if (!(padStd > 0) || Double.isInfinite(padStd)) {
            throw new IllegalArgumentException("pad standard deviation must be positive and finite");
        }
    }

    /** Mask mode, per-session, dense orthogonal masks, secure randomness. */
    public static ObfuscationConfig defaults() {
        return new ObfuscationConfig(ObfuscationMode.MASK, MaskScope.PER_SESSION, MaskFamily.DEFAULT,
                MaskFamily.DEFAULT, false, 8, 1.0, new SecureRandom());
    }

    public ObfuscationConfig withMode(ObfuscationMode m) {
        return new ObfuscationConfig(m, scope, family, loraFamily, padPool, poolCapacity, padStd, random);
    }

    public ObfuscationConfig withScope(MaskScope s) {
        return new ObfuscationConfig(mode, s, family, loraFamily, padPool, poolCapacity, padStd, random);
    }

    public ObfuscationConfig withFamily(MaskFamily f) {
        return new ObfuscationConfig(mode, scope, f, loraFamily, padPool, poolCapacity, padStd, random);
    }

    public ObfuscationConfig withLoraFamily(MaskFamily f) {
        return new ObfuscationConfig(mode, scope, family, f, padPool, poolCapacity, padStd, random);
    }

    public ObfuscationConfig withPadPool(int capacity) {
        return new ObfuscationConfig(ObfuscationMode.PAD, scope, family, loraFamily, true, capacity, padStd, random);
    }

    public ObfuscationConfig withPadStd(double std) {
        return new ObfuscationConfig(mode, scope, family, loraFamily, padPool, poolCapacity, std, random);
    }

    /** A seeded (reproducible, not secure) configuration for experiments and tests. */
    public ObfuscationConfig withSeed(long seed) {
        return new ObfuscationConfig(mode, scope, family, loraFamily, padPool, poolCapacity, padStd, new Random(seed));
    }

    @Override
    public String toString() {
        return "ObfuscationConfig[" + mode + ", " + scope + ", " + family + ", lora " + loraFamily
                + (padPool ? ", pad pool " + poolCapacity : "") + "]";
    }
}
