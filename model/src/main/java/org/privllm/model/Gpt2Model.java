package org.privllm.model;

import java.nio.file.Files;
import java.nio.file.Path;

/** A loaded checkpoint directory: config and weights. */
public record Gpt2Model(Path dir, Gpt2Config config, Gpt2Weights weights) {

    public static Gpt2Model load(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new ModelFormatException(dir + ": not a directory (give --model a HuggingFace GPT-2 checkpoint directory)");
        }
        Gpt2Config c = Gpt2Config.load(dir);
        return new Gpt2Model(dir, c, Gpt2Weights.load(dir, c));
    }

    /** The plaintext engine over this model. */
    public Gpt2Forward plainForward() {
        return new Gpt2Forward(config, weights, new PlainOps(config, weights));
    }
}
