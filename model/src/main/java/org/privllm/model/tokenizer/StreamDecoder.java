package org.privllm.model.tokenizer;

import java.util.function.IntFunction;

/**
 * Turns tokens into text as they are generated, for any {@link Tokenizer}. The pieces returned by
 * {@link #push} followed by {@link #flush} always concatenate to the tokenizer's {@code decode} of the
 * same ids: both run the same {@link Decoder} stages, which hold back only what a later token could
 * still change — a character whose UTF-8 bytes are spread over several tokens (emoji, CJK), a run of
 * byte-fallback tokens, a character a strip may still remove — so no piece ends in half a character
 * and the leading-space rules of SentencePiece-style decoders apply once, at the start of the text.
 * Not thread-safe; one per generated sequence.
 */
public final class StreamDecoder {
    private final IntFunction<String> tokenText;
    private final Decoder decoder;
    private final StringBuilder out = new StringBuilder();
    private Decoder.Stage stage;

    /**
     * @param tokenText the token string of an id as the decoder expects it, or null for an id to skip (a special
     *     token when skipping them, an id with no token); throws IllegalArgumentException for a negative id
     */
    StreamDecoder(IntFunction<String> tokenText, Decoder decoder) {
        this.tokenText = tokenText;
        this.decoder = decoder;
        this.stage = decoder.open(Decoder.collector(out), false);
    }

    /** Adds one token and returns the text it completes (possibly empty). */
    public String push(int id) {
        String token = tokenText.apply(id);
        if (token != null) stage.push(token);
        return take();
    }

    /** Returns whatever is still held back (an incomplete character becomes U+FFFD) and starts a new text. */
    public String flush() {
        stage.end();
        stage = decoder.open(Decoder.collector(out), false);
        return take();
    }

    private String take() {
        String s = out.toString();
        out.setLength(0);
        return s;
    }
}
