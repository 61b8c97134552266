package org.privllm.server.http;

import java.util.List;
import org.privllm.model.tokenizer.StreamDecoder;
import org.privllm.model.tokenizer.Tokenizer;

/**
 * Turns one sequence's tokens into the text a client sees: stop token ids produce no text, stop strings end the
 * text just before their first occurrence, and text that could be the start of a stop string is held back until
 * it cannot (so a streamed response never shows part of a stop string). Not thread-safe.
 */
public final class TextStream {
    private final StreamDecoder decoder;
    private final int[] stopIds;
    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private final StringBuilder all = new StringBuilder();
    private boolean stopped;

    /**
     * @param prompt the prompt's ids: they prime the decoder (their text is not shown), so the answer's text is
     *               what follows the prompt's in the decoded whole — what {@code privllm generate} prints after the
     *               prompt (a SentencePiece-style decoder strips a leading space only at the start of the text)
     */
    TextStream(Tokenizer tokenizer, int[] prompt, int[] stopIds, List<String> stops) {
        this.decoder = tokenizer == null ? null : tokenizer.streamDecoder();
        if (decoder != null) {
            for (int id : prompt) {
                decoder.push(id);
            }
        }
        this.stopIds = stopIds.clone();
        this.stops = stops;
    }

    /** The whole text a client is sent for the generated {@code ids} (no stop strings): for checks of an answer. */
    public static String text(Tokenizer tokenizer, int[] prompt, int[] stopIds, int[] ids) {
        TextStream t = new TextStream(tokenizer, prompt, stopIds, List.of());
        for (int id : ids) {
            t.push(id);
        }
        t.finish();
        return t.text();
    }

    /** Whether a stop string (or stop token) has ended the text. */
    boolean stopped() {
        return stopped;
    }

    /** Adds a token; returns the text that can be shown now (possibly empty). */
    String push(int token) {
        if (stopped) {
            return "";
        }
        for (int s : stopIds) {
            if (s == token) {
                stopped = true;
                return finishPending();
            }
        }
        if (decoder == null) {
            return "";
        }
        pending.append(decoder.push(token));
        return release(false);
    }

    /** The end of the sequence: everything still held back that is not cut by a stop string. */
    String finish() {
        if (stopped) {
            return "";
        }
        if (decoder != null) {
            pending.append(decoder.flush());
        }
        return release(true);
    }

    /** All text shown so far. */
    String text() {
        return all.toString();
    }

    private String finishPending() {
        if (decoder != null) {
            pending.append(decoder.flush());
        }
        String out = cut();
        if (out == null) {
            out = pending.toString();
        }
        pending.setLength(0);
        all.append(out);
        return out;
    }

    /** The pending text before the first stop string, or null when none occurs (sets {@link #stopped}). */
    private String cut() {
        int first = -1;
        for (String s : stops) {
            int at = pending.indexOf(s);
            if (at >= 0 && (first < 0 || at < first)) {
                first = at;
            }
        }
        if (first < 0) {
            return null;
        }
        stopped = true;
        return pending.substring(0, first);
    }

    private String release(boolean end) {
        String cut = cut();
        String out;
        if (cut != null) {
            out = cut;
            pending.setLength(0);
        } else {
            int hold = end ? 0 : holdBack();
            out = pending.substring(0, pending.length() - hold);
            pending.delete(0, pending.length() - hold);
        }
        all.append(out);
        return out;
    }

    /** Length of the longest suffix of the pending text that is a proper prefix of a stop string. */
    private int holdBack() {
        int hold = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, pending.length()); k > hold; k--) {
                if (pending.substring(pending.length() - k).equals(s.substring(0, k))) {
                    hold = k;
                    break;
                }
            }
        }
        return hold;
    }
}
