package org.privllm.model.tokenizer;

import java.util.Arrays;

/**
 * Turns tokens into text as they are generated. A character whose UTF-8 bytes are spread over
 * several tokens (emoji, CJK) is held back until its last byte arrives, so the pieces returned by
 * {@link #push} followed by {@link #flush} always concatenate to {@link Gpt2Tokenizer#decode} of
 * the same ids. Not thread-safe; one per generated sequence.
 */
public final class StreamDecoder {
    private final Gpt2Tokenizer tokenizer;
    private byte[] pending = new byte[16];
    private int pendingLength;

    StreamDecoder(Gpt2Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds one token and returns the text it completes (possibly empty). */
    public String push(int id) {
        byte[] bytes = tokenizer.tokenBytes(id);
        if (pendingLength + bytes.length > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + bytes.length));
        }
        System.arraycopy(bytes, 0, pending, pendingLength, bytes.length);
        pendingLength += bytes.length;
        return drain(false);
    }

    /** Returns whatever is still held back (an incomplete character becomes U+FFFD) and resets. */
    public String flush() {
        return drain(true);
    }

    private String drain(boolean endOfInput) {
        StringBuilder sb = new StringBuilder(pendingLength);
        int used = Utf8.decode(pending, 0, pendingLength, endOfInput, sb);
        System.arraycopy(pending, used, pending, 0, pendingLength - used);
        pendingLength -= used;
        return sb.toString();
    }
}
