package org.privllm.lab.leakage;

import java.util.ArrayList;
import java.util.List;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.MaskScope;
import org.privllm.trusted.obf.ObfuscationMode;

/**
 * One row of the leakage table: an execution strategy and, for the masked strategy, its mode, mask
 * family, scope and whether a private LoRA adapter is loaded.
 *
 * @param strategy the execution strategy (DESIGN §2)
 * @param mode     mask or pad mode (masked only, else null)
 * @param family   mask family (masked only, else null)
 * @param scope    mask scope (masked only, else null)
 * @param lora     a private adapter on c_attn and c_fc of every layer
 */
public record LeakageConfig(Strategy strategy, ObfuscationMode mode, MaskFamily family, MaskScope scope, boolean lora) {

    /** What runs where (the two reference rows synthesise the executor's plaintext view). */
    public enum Strategy {
        /** Everything on the executor: it sees token ids, activations and logits in plaintext. */
        PLAIN,
        /** Linear layers in plaintext on the executor, nonlinear ops trusted. */
        TRUSTED_NONLINEAR,
        /** The obfuscation scheme. */
        MASKED
    }

    public LeakageConfig {
        if ((strategy == Strategy.MASKED) != (mode != null && family != null && scope != null)) {
            throw new IllegalArgumentException("mode, family and scope are required exactly for the masked strategy");
        }
    }

    public static LeakageConfig plain() {
        return new LeakageConfig(Strategy.PLAIN, null, null, null, false);
    }

    public static LeakageConfig trustedNonlinear() {
        return new LeakageConfig(Strategy.TRUSTED_NONLINEAR, null, null, null, false);
    }

    public static LeakageConfig masked(ObfuscationMode mode, MaskFamily family, MaskScope scope, boolean lora) {
        return new LeakageConfig(Strategy.MASKED, mode, family, scope, lora);
    }

    /** Short row label, e.g. {@code mask/orthogonal/session} or {@code pad/perm/call+lora}. */
    public String name() {
        return switch (strategy) {
            case PLAIN -> "plain";
            case TRUSTED_NONLINEAR -> "trusted_nonlinear";
            case MASKED -> mode.name().toLowerCase() + "/" + family + "/"
                    + (scope == MaskScope.PER_CALL ? "call" : "session") + (lora ? "+lora" : "");
        };
    }

    /** The block size used for {@code block:B} on width {@code d}: a quarter of d, between 1 and 16. */
    public static int blockSize(int d) {
        return Math.max(1, Math.min(16, d / 4));
    }

    /**
     * The full grid: the two reference rows, then mode × family (orthogonal, gaussian, block:B, perm)
     * × scope × adapter.
     */
    public static List<LeakageConfig> all(int d) {
        List<LeakageConfig> all = new ArrayList<>(List.of(plain(), trustedNonlinear()));
        List<MaskFamily> families = List.of(MaskFamily.parse("orthogonal"), MaskFamily.parse("gaussian"),
                MaskFamily.parse("block:" + blockSize(d)), MaskFamily.parse("perm"));
        for (ObfuscationMode mode : ObfuscationMode.values()) {
            for (MaskFamily f : families) {
                for (MaskScope scope : MaskScope.values()) {
                    for (boolean lora : new boolean[] {false, true}) {
                        all.add(masked(mode, f, scope, lora));
                    }
                }
            }
        }
        return all;
    }
}
