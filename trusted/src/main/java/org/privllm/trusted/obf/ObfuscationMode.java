package org.privllm.trusted.obf;

/** How an input is hidden (DESIGN §1). */
public enum ObfuscationMode {
    /** {@code X̃ = X·N_in}. */
    MASK,
    /** {@code X̃ = (X − T)·N_in}, with the compensation {@code C_T = T·W'·N_out} sent alongside. */
    PAD
}
