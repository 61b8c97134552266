package org.privllm.cli;

import java.nio.file.Path;
import org.privllm.model.Gpt2Model;
import org.privllm.model.tokenizer.Tokenizer;
import org.privllm.model.tokenizer.Tokenizers;
import picocli.CommandLine.Option;

/** {@code --model DIR}: a HuggingFace GPT-2 directory; without it, the built-in default checkpoint. */
final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR",
            description = "HuggingFace GPT-2 directory (config.json, model.safetensors, optional tokenizer: tokenizer.json or vocab.json + merges.txt). "
                    + "Default: a built-in random GPT-2 with the real GPT-2 tokenizer.")
    Path model;

    private Gpt2Model loaded;

    Path dir() {
        return model != null ? model : DefaultCheckpoint.ensure();
    }

    Gpt2Model load() {
        if (loaded == null) {
            loaded = Gpt2Model.load(dir());
        }
        return loaded;
    }

    /**
     * The tokenizer of the directory ({@code tokenizer.json}, or GPT-2's {@code vocab.json} + {@code merges.txt}),
     * or null when it has none (prompts are then given as ids).
     */
    Tokenizer tokenizer() {
        return Tokenizers.present(dir()) ? Tokenizers.load(dir()) : null;
    }
}
