package org.privllm.model.tokenizer;

import java.util.OptionalInt;

/**
 * Text to token ids and back, for one model's vocabulary: GPT-2's {@link Gpt2Tokenizer} or a
 * HuggingFace {@code tokenizer.json} ({@link HfTokenizer}); {@link Tokenizers#load} picks one for a
 * checkpoint folder.
 *
 * <p>Every implementation is plain Java. Tokenizing runs in the trusted domain, which sees the prompt,
 * so it loads no native code (HuggingFace's Rust library ships as a native library inside a jar): the
 * trusted computing base stays this code and the JDK. The Rust library serves only as the tests'
 * oracle. Implementations are immutable and thread-safe.
 */
public interface Tokenizer {
    /** Token ids of {@code text}, with the special tokens the model's own rules add (e.g. Llama's {@code <s>}). */
    default int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * Token ids of {@code text}; with {@code addSpecialTokens == false} only the text's own tokens (for
     * text that already spells its special tokens, such as a rendered chat template). Special tokens
     * written in the text ({@code <|im_start|>}, {@code </s>}) are matched whole either way. Unpaired
     * surrogates, which a Java string may hold but UTF-8 cannot, are read as U+FFFD.
     */
    int[] encode(String text, boolean addSpecialTokens);

    /**
     * Text of {@code ids}, special tokens included. An id with no token (a model's embedding may have more rows than
     * its tokenizer has tokens) adds nothing, as in HuggingFace; a negative id is an IllegalArgumentException.
     */
    default String decode(int[] ids) {
        return decode(ids, false);
    }

    /** Text of {@code ids}; with {@code skipSpecialTokens} the special tokens are left out (HF's {@code skip_special_tokens=True}). */
    String decode(int[] ids, boolean skipSpecialTokens);

    /** Number of embedding rows the vocabulary needs: largest token id + 1. */
    int vocabSize();

    /** Ids that end generation (may be several, e.g. Llama 3's end-of-turn and end-of-text); empty when unknown. */
    int[] eosIds();

    /** The id of the beginning-of-sequence token, if the model has one. */
    OptionalInt bosId();

    /** The id of a special or added token (one that is matched whole, e.g. {@code <s>}, {@code <|im_start|>}), by its text. */
    OptionalInt specialTokenId(String text);

    /** A fresh decoder for ids that arrive one at a time; its pieces concatenate to {@link #decode(int[])}. */
    default StreamDecoder streamDecoder() {
        return streamDecoder(false);
    }

    /** As {@link #streamDecoder()}; the pieces concatenate to {@code decode(ids, skipSpecialTokens)}. */
    StreamDecoder streamDecoder(boolean skipSpecialTokens);
}
