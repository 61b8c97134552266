package org.privllm.model.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;

/** The streaming decode contract, checked on one id sequence. */
final class StreamingProperty {
    private StreamingProperty() {}

    /**
     * Pushing {@code ids} one at a time and flushing gives pieces that concatenate to
     * {@code decode(ids, skip)}; after every push the text so far is a prefix of that decode (nothing is
     * emitted early and corrected later: no U+FFFD for a character still arriving) and no piece ends in the
     * first half of a surrogate pair.
     */
    static void check(Tokenizer tok, int[] ids, boolean skip) {
        String full = tok.decode(ids, skip);
        StreamDecoder stream = tok.streamDecoder(skip);
        StringBuilder sofar = new StringBuilder();
        for (int k = 0; k < ids.length; k++) {
            String piece = stream.push(ids[k]);
            sofar.append(piece);
            if (!piece.isEmpty() && Character.isHighSurrogate(piece.charAt(piece.length() - 1))) {
                throw new AssertionError("piece ends in half a character after " + (k + 1) + " of " + Arrays.toString(ids));
            }
            if (!full.startsWith(sofar.toString())) {
                throw new AssertionError("streamed text is not a prefix of decode after " + (k + 1) + " of "
                        + Arrays.toString(ids) + " (skip=" + skip + "): " + HfTokenizerDifferentialTest.escape(sofar.toString())
                        + " vs " + HfTokenizerDifferentialTest.escape(full));
            }
        }
        sofar.append(stream.flush());
        assertThat(sofar.toString()).as("stream of %s (skip=%s)", Arrays.toString(ids), skip).isEqualTo(full);
    }
}
