package org.privllm.trusted.privacy;

import java.util.Arrays;

/**
 * How much the untrusted side may learn (docs/threat-model.md, docs/leakage.md).
 *
 * <ul>
 *   <li>{@link #SEED}: the seed scheme (masks or mask + pads, attention on the executor). Kept for
 *       comparison and experiments: an executor that knows the public weights recovers the prompt.
 *   <li>{@link #STRONG}: one executor; every linear input is padded with fresh Gaussian noise about a
 *       million times the signal (float64 wire), the pad's product is removed in the trusted domain;
 *       attention, the KV cache and sampling stay trusted.
 *   <li>{@link #TWO_PARTY}: two executors that do not collude get additive shares {@code X + R} and
 *       {@code −R} of every linear input; attention, the KV cache and sampling stay trusted.
 * </ul>
 */
public enum PrivacyLevel {
    SEED("seed", 1),
    STRONG("strong", 1),
    TWO_PARTY("two-party", 2);

    private final String label;
    private final int parties;

    PrivacyLevel(String label, int parties) {
        this.label = label;
        this.parties = parties;
    }

    /** The name on the command line and in reports. */
    public String label() {
        return label;
    }

    /** Executors the level uses. */
    public int parties() {
        return parties;
    }

    public static PrivacyLevel parse(String s) {
        return Arrays.stream(values()).filter(l -> l.label.equals(s)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("--privacy must be seed, strong or two-party, got '" + s + "'"));
    }

    @Override
    public String toString() {
        return label;
    }
}
