package org.privllm.trusted.mask;

import java.security.SecureRandom;
import java.util.Random;

/**
 * A {@link MaskFamily} bound to a source of randomness: {@link SecureRandom} by default, a seeded
 * {@link Random} for reproducible experiments. Thread-safe as far as its {@code Random} is.
 */
public final class MaskFactory {
    private final MaskFamily family;
    private final Random random;

    public MaskFactory(MaskFamily family, Random random) {
        this.family = family;
        this.random = random;
    }

    /** Secure randomness. */
    public MaskFactory(MaskFamily family) {
        this(family, new SecureRandom());
    }

    public static MaskFactory parse(String spec, Random random) {
        return new MaskFactory(MaskFamily.parse(spec), random);
    }

    public Mask sample(int d) {
        return family.sample(d, random);
    }

    public MaskFamily family() {
        return family;
    }

    public Random random() {
        return random;
    }

    @Override
    public String toString() {
        return "MaskFactory[" + family + "]";
    }
}
