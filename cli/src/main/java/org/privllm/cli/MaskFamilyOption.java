package org.privllm.cli;

import org.privllm.trusted.mask.MaskFamily;
import picocli.CommandLine.Option;

/** {@code --masks FAMILY}: one declaration for every command that takes a mask family. */
final class MaskFamilyOption {
    static final String DEFAULT = "orthogonal";

    @Option(names = "--masks", paramLabel = "FAMILY",
            description = "Mask family: orthogonal, gaussian[:K], block:B, perm (default " + DEFAULT + ").")
    String masks;

    /** The parsed family (a one-line error for an unknown one). */
    MaskFamily family() {
        return MaskFamily.parse(toString());
    }

    /** Whether the user named a family (the seed level's option: it implies {@code --privacy seed}). */
    boolean given() {
        return masks != null;
    }

    @Override
    public String toString() {
        return masks == null ? DEFAULT : masks;
    }
}
