package org.privllm.trusted.privacy;

import java.security.SecureRandom;
import java.util.Random;

/**
 * How the blinded levels ({@link PrivacyLevel#STRONG}, {@link PrivacyLevel#TWO_PARTY}) blind.
 *
 * @param level        strong or two-party
 * @param rho          pad-to-signal ratio: each pad entry has standard deviation {@code rho} times the layer
 *                     input's calibrated RMS, so one padded coordinate carries at most {@code ½·log₂(1 + 1/ρ²)} bits
 * @param poolCapacity strong only: pad products {@code T·W} made ahead of time per (layer, rows), 0 = online
 * @param rowBucket    every blinded call's rows rounded up to a multiple of this with rows of pad alone (blinded
 *                     zero rows, their outputs dropped), so the executors see row counts in buckets, not the
 *                     batch's real count — under {@code serve}, each request's prompt length; 1 = the real count
 * @param random       keys the pad streams: {@link SecureRandom} by default, seeded only for experiments
 */
public record BlindingConfig(PrivacyLevel level, double rho, int poolCapacity, int rowBucket, Random random) {
    /**
     * The default ratio, 2²⁰ ≈ 10⁶ (picked from the leakage lab's curve, docs/leakage.md): every attack is at
     * chance far below it, and float64 still cancels the pad to ~1e-8 of the signal.
     */
    public static final double DEFAULT_RHO = 0x1p20;

    public BlindingConfig {
        if (level == PrivacyLevel.SEED) {
            throw new IllegalArgumentException("the seed level is configured by ObfuscationConfig");
        }
        if (!(rho > 0) || !Double.isFinite(rho)) {
            throw new IllegalArgumentException("pad ratio must be positive and finite, got " + rho);
        }
        if (poolCapacity < 0) {
            throw new IllegalArgumentException("pad pool capacity must be >= 0, got " + poolCapacity);
        }
        if (rowBucket < 1) {
            throw new IllegalArgumentException("--row-bucket must be >= 1, got " + rowBucket);
        }
        if (poolCapacity > 0 && level != PrivacyLevel.STRONG) {
            throw new IllegalArgumentException("--pad-pool applies to --privacy strong only (two-party needs no pad products)");
        }
    }

    public static BlindingConfig of(PrivacyLevel level) {
        return new BlindingConfig(level, DEFAULT_RHO, 0, 1, new SecureRandom());
    }

    public BlindingConfig withRho(double r) {
        return new BlindingConfig(level, r, poolCapacity, rowBucket, random);
    }

    public BlindingConfig withPadPool(int capacity) {
        return new BlindingConfig(level, rho, capacity, rowBucket, random);
    }

    public BlindingConfig withRowBucket(int bucket) {
        return new BlindingConfig(level, rho, poolCapacity, bucket, random);
    }

    /** The rows a call of {@code rows} real rows sends: rounded up to a multiple of {@link #rowBucket}. */
    public int sentRows(int rows) {
        return (int) Math.min(Integer.MAX_VALUE, ((long) rows + rowBucket - 1) / rowBucket * rowBucket);
    }

    /** Reproducible (not secure) pads, for experiments and tests. */
    public BlindingConfig withSeed(long seed) {
        return new BlindingConfig(level, rho, poolCapacity, rowBucket, new Random(seed));
    }

    @Override
    public String toString() {
        return "BlindingConfig[" + level + ", rho=" + rho + (poolCapacity > 0 ? ", pad pool " + poolCapacity : "")
                + (rowBucket > 1 ? ", row bucket " + rowBucket : "") + "]";
    }
}
