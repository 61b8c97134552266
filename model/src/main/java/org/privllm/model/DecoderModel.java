package org.privllm.model;

import java.nio.file.Files;
import java.nio.file.Path;

/** A loaded decoder checkpoint directory: config and weights. */
public record DecoderModel(Path dir, DecoderConfig config, DecoderWeights weights) {

    /** Loads a Llama-family checkpoint (llama, mistral, qwen2, qwen3). */
    public static DecoderModel load(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new ModelFormatException(dir + ": not a directory (a HuggingFace checkpoint directory is needed)");
        }
        DecoderConfig c = LlamaCheckpoint.config(dir);
        return new DecoderModel(dir, c, LlamaCheckpoint.weights(dir, c));
    }

    /** The plaintext engine over this model. */
    public DecoderForward plainForward() {
        return new DecoderForward(config, weights, new PlainDecoderOps(config, weights));
    }
}
