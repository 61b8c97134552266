package org.privllm.model.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import org.privllm.model.ModelFormatException;

/** Finds and loads the tokenizer of a checkpoint folder. */
public final class Tokenizers {
    private Tokenizers() {}

    /**
     * The ids that end generation: the config's {@code eos_token_id}s, then the tokenizer's
     * ({@code generation_config.json}'s, or its own end-of-text token) that lie inside the model's vocabulary.
     * What {@code privllm generate} and {@code privllm serve} stop on.
     */
    public static int[] stopIds(org.privllm.model.DecoderConfig config, Tokenizer tok) {
        java.util.LinkedHashSet<Integer> ids = new java.util.LinkedHashSet<>(config.specialTokens().eos());
        if (tok != null) {
            for (int id : tok.eosIds()) {
                if (id >= 0 && id < config.vocab()) {
                    ids.add(id);
                }
            }
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** True when {@code dir} holds a tokenizer {@link #load} can read. */
    public static boolean present(Path dir) {
        return HfTokenizer.present(dir) || Gpt2Tokenizer.present(dir);
    }

    /**
     * {@code tokenizer.json} (with {@code tokenizer_config.json}) → {@link HfTokenizer}; else GPT-2's
     * {@code vocab.json} + {@code merges.txt} → {@link Gpt2Tokenizer}; else a one-line
     * {@link ModelFormatException}.
     */
    public static Tokenizer load(Path dir) {
        if (!Files.isDirectory(dir)) throw new ModelFormatException(dir + ": not a directory");
        if (HfTokenizer.present(dir)) return HfTokenizer.load(dir);
        if (Gpt2Tokenizer.present(dir)) return Gpt2Tokenizer.load(dir);
        throw new ModelFormatException(dir + ": no tokenizer (expected " + HfTokenizer.TOKENIZER_FILE + ", or "
                + Gpt2Tokenizer.VOCAB_FILE + " and " + Gpt2Tokenizer.MERGES_FILE + ")");
    }
}
