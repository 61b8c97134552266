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

    /** This model as a {@link DecoderConfig} instance (the weights are shared). */
    public DecoderModel decoder() {
        return Gpt2Adapter.model(this);
    }

    /** The plaintext engine over this model ({@link DecoderForward} on {@link PlainDecoderOps}). */
    public DecoderForward plainForward() {
        return decoder().plainForward();
    }
}
