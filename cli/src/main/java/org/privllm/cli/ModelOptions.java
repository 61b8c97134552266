package org.privllm.cli;

import java.nio.file.Path;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderModel;
import org.privllm.model.Gpt2Model;
import org.privllm.model.tokenizer.Tokenizer;
import org.privllm.model.tokenizer.Tokenizers;
import picocli.CommandLine.Option;

/**
 * {@code --model DIR}: a HuggingFace checkpoint directory of any supported family (GPT-2, Llama, Mistral,
 * Qwen2, Qwen3); without it, the built-in default checkpoint.
 */
final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR",
            description = "HuggingFace checkpoint directory: GPT-2, Llama, Mistral, Qwen2 or Qwen3 (config.json, "
                    + "model.safetensors or shards; optional tokenizer: tokenizer.json or vocab.json + merges.txt). "
                    + "Default: the built-in stories260K (a small trained Llama-architecture model with its tokenizer).")
    Path model;

    private DecoderModel loaded;
    private Gpt2Model gpt2;

    Path dir() {
        return model != null ? model : DefaultCheckpoint.ensure();
    }

    /**
     * The model, whatever its family (opened once): its weights are read when an engine needs them, at float32
     * only for those that use float32 weights ({@link DecoderModel#open}).
     */
    DecoderModel load() {
        if (loaded == null) {
            loaded = gpt2 != null ? gpt2.decoder() : DecoderModel.open(dir());
        }
        return loaded;
    }

    /**
     * The model as GPT-2, for the commands that run on GPT-2 only so far ({@code what}: e.g. "experiment
     * summary"); any other family is a one-line error naming it.
     */
    Gpt2Model gpt2(String what) {
        if (gpt2 == null) {
            Architecture a = loaded != null ? loaded.architecture() : DecoderModel.architecture(dir());
            if (a != Architecture.GPT2) {
                throw new IllegalArgumentException(what + " runs on GPT-2 only so far, and " + dir() + " is " + a.modelType());
            }
            gpt2 = Gpt2Model.load(dir());
        }
        return gpt2;
    }

    /**
     * The tokenizer of the directory ({@code tokenizer.json}, or GPT-2's {@code vocab.json} + {@code merges.txt}),
     * or null when it has none (prompts are then given as ids).
     */
    Tokenizer tokenizer() {
        return Tokenizers.present(dir()) ? Tokenizers.load(dir()) : null;
    }
}
