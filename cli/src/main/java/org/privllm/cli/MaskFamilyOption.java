package org.privllm.cli;

import org.privllm.trusted.mask.MaskFamily;
import picocli.CommandLine.Option;

/** {@code --masks FAMILY}: one declaration for every command that takes a mask family. */
final class MaskFamilyOption {
    @Option(names = "--masks", defaultValue = "orthogonal", paramLabel = "FAMILY",
            description = "Mask family: orthogonal, gaussian[:K], block:B, perm (default ${DEFAULT-VALUE}).")
    String masks = "orthogonal";

    /** The parsed family (a one-line error for an unknown one). */
    MaskFamily family() {
        return MaskFamily.parse(masks);
    }

    @Override
    public String toString() {
        return masks;
    }
}
