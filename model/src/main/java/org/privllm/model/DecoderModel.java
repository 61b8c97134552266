package org.privllm.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A decoder checkpoint directory, whatever its family: its config, and its weights read from the directory
 * when first needed ({@link #open}) or given in memory.
 *
 * <p>The plaintext engine ({@link #plainForward}) reads the weights a piece at a time and keeps its linear
 * weights packed only, so a model whose float32 {@link #weights} were never asked for holds no float32 copy of
 * them; the protected engines ask for them.
 */
public final class DecoderModel {
    private final Path dir;
    private final DecoderConfig config;
    /** Every weight at float32: given, or read by the first {@link #weights()}; null until then. */
    private DecoderWeights weights;

    /** A model whose weights are in memory already. */
    public DecoderModel(Path dir, DecoderConfig config, DecoderWeights weights) {
        this.dir = dir;
        this.config = Objects.requireNonNull(config);
        this.weights = Objects.requireNonNull(weights);
    }

    private DecoderModel(Path dir, DecoderConfig config) {
        this.dir = dir;
        this.config = config;
    }

    /**
     * Loads a HuggingFace checkpoint directory of any supported family, by its {@code config.json}: GPT-2
     * or the Llama family ({@link LlamaCheckpoint}: llama, mistral, qwen2, qwen3), every weight read at float32
     * now. Anything else, and any missing or misshapen tensor, is a one-line {@link ModelFormatException} naming it.
     */
    public static DecoderModel load(Path dir) {
        DecoderModel m = open(dir);
        m.weights();
        return m;
    }

    /**
     * Opens a checkpoint directory as {@link #load} does, reading its config now and its weights when first
     * needed: {@link #weights()} reads them all at float32 (and keeps them), {@link #plainForward} a piece at a
     * time (and keeps none). A missing or misshapen tensor is then refused there.
     */
    public static DecoderModel open(Path dir) {
        Architecture a = architecture(dir);
        DecoderConfig c = a == Architecture.GPT2 ? Gpt2Adapter.config(Gpt2Config.load(dir), dir) : LlamaCheckpoint.config(dir);
        return new DecoderModel(dir, c);
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

    public Path dir() {
        return dir;
    }

    public DecoderConfig config() {
        return config;
    }

    public Architecture architecture() {
        return config.architecture();
    }

    /** Every weight at float32: for an opened model, read from the checkpoint by the first call and kept. */
    public synchronized DecoderWeights weights() {
        if (weights == null) {
            try (WeightReader r = WeightReader.open(dir, config)) {
                weights = r.readAll();
            }
        }
        return weights;
    }

    /**
     * The weights a piece at a time: those in memory when there are (given, or read by {@link #weights()}), else
     * from the checkpoint, so that nothing is kept; close it.
     */
    public synchronized WeightReader reader() {
        return weights != null ? WeightReader.of(weights) : WeightReader.open(dir, config);
    }

    /** The plaintext engine over this model, its weights {@link PlainDecoderOps.Storage#NATIVE native}. */
    public DecoderForward plainForward() {
        try (WeightReader r = reader()) {
            return PlainDecoderOps.forward(config, r, PlainDecoderOps.Storage.NATIVE);
        }
    }
}
