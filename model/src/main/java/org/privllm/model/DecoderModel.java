package org.privllm.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;

/** A loaded decoder checkpoint directory, whatever its family: config and weights. */
public record DecoderModel(Path dir, DecoderConfig config, DecoderWeights weights) {

    /**
     * Loads a HuggingFace checkpoint directory of any supported family, by its {@code config.json}: GPT-2
     * ({@link Gpt2Model}, through {@link Gpt2Adapter}) or the Llama family ({@link LlamaCheckpoint}: llama,
     * mistral, qwen2, qwen3). Anything else is a one-line {@link ModelFormatException} naming it.
     */
    public static DecoderModel load(Path dir) {
        Architecture a = architecture(dir);
        if (a == Architecture.GPT2) {
            return Gpt2Adapter.model(Gpt2Model.load(dir));
        }
        DecoderConfig c = LlamaCheckpoint.config(dir);
        return new DecoderModel(dir, c, LlamaCheckpoint.weights(dir, c));
    }

    /** A checkpoint directory's config alone (no weights read), whatever its family. */
    public static DecoderConfig loadConfig(Path dir) {
        return architecture(dir) == Architecture.GPT2 ? Gpt2Adapter.config(Gpt2Config.load(dir)) : LlamaCheckpoint.config(dir);
    }

    /**
     * The family a checkpoint directory's {@code config.json} names: its {@code model_type}, else its
     * {@code architectures}, else GPT-2 when it has GPT-2's own keys (old GPT-2 configs name neither).
     */
    public static Architecture architecture(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new ModelFormatException(dir + ": not a directory (a HuggingFace checkpoint directory is needed: "
                    + Architecture.all(false) + ")");
        }
        ConfigJson cj = ConfigJson.read(dir, "a HuggingFace checkpoint directory");
        if (cj.has("model_type")) {
            String type = cj.text("model_type", "");
            Architecture a = Architecture.byName(type);
            if (a == null) {
                throw cj.error("model_type '" + type + "' is not supported (" + Architecture.all(false) + ")");
            }
            return a;
        }
        JsonNode classes = cj.get("architectures");
        if (classes != null && classes.isArray() && !classes.isEmpty()) {
            String name = classes.get(0).asText();
            Architecture a = Architecture.byHfClass(name);
            if (a == null) {
                throw cj.error("architecture '" + name + "' is not supported (" + Architecture.all(true) + ")");
            }
            return a;
        }
        if (cj.has("n_embd")) {
            return Architecture.GPT2;
        }
        throw cj.error("names neither model_type nor architectures (" + Architecture.all(false) + ")");
    }

    public Architecture architecture() {
        return config.architecture();
    }

    /** The plaintext engine over this model. */
    public DecoderForward plainForward() {
        return new DecoderForward(config, weights, new PlainDecoderOps(config, weights));
    }
}
