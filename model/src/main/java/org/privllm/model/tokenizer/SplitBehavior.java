package org.privllm.model.tokenizer;

import java.util.function.Consumer;

/** What a splitting pre-tokenizer does with its matches: HuggingFace's {@code SplitDelimiterBehavior}. */
enum SplitBehavior {
    /** Matches are dropped, gaps kept. */
    REMOVED,
    /** Matches and gaps are pieces of their own. */
    ISOLATED,
    /** A match joins the piece before it. */
    MERGED_WITH_PREVIOUS,
    /** A match joins the piece after it. */
    MERGED_WITH_NEXT,
    /** Adjacent matches form one piece (and adjacent gaps). */
    CONTIGUOUS;

    /** tokenizer.json's spelling ("Removed", "MergedWithNext", …), or null when unknown. */
    static SplitBehavior fromJson(String name) {
        return switch (name) {
            case "Removed" -> REMOVED;
            case "Isolated" -> ISOLATED;
            case "MergedWithPrevious" -> MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> MERGED_WITH_NEXT;
            case "Contiguous" -> CONTIGUOUS;
            default -> null;
        };
    }

    /** Cuts {@code piece} at {@code m} (spans over its text) and passes on the non-empty pieces in order. */
    void split(PreTokenizer.Piece piece, Matches m, Consumer<PreTokenizer.Piece> out) {
        int n = m.size();
        int[] starts = new int[n];
        int[] ends = new int[n];
        int count = 0;
        switch (this) {
            case REMOVED, ISOLATED -> {
                for (int i = 0; i < n; i++) {
                    if (this == REMOVED && m.isMatch(i)) continue;
                    starts[count] = m.start(i);
                    ends[count++] = m.end(i);
                }
            }
            case CONTIGUOUS, MERGED_WITH_PREVIOUS -> {
                boolean previousMatch = false;
                for (int i = 0; i < n; i++) {
                    boolean match = m.isMatch(i);
                    boolean join = this == CONTIGUOUS ? match == previousMatch : match && !previousMatch;
                    if (join && count > 0) {
                        ends[count - 1] = m.end(i);
                    } else {
                        starts[count] = m.start(i);
                        ends[count++] = m.end(i);
                    }
                    previousMatch = match;
                }
            }
            case MERGED_WITH_NEXT -> { // the same walk backwards, then reversed
                boolean previousMatch = false;
                int[] revStarts = new int[n];
                int[] revEnds = new int[n];
                for (int i = n - 1; i >= 0; i--) {
                    boolean match = m.isMatch(i);
                    if (match && !previousMatch && count > 0) {
                        revStarts[count - 1] = m.start(i);
                    } else {
                        revStarts[count] = m.start(i);
                        revEnds[count++] = m.end(i);
                    }
                    previousMatch = match;
                }
                for (int i = 0; i < count; i++) {
                    starts[i] = revStarts[count - 1 - i];
                    ends[i] = revEnds[count - 1 - i];
                }
            }
        }
        String text = piece.text();
        for (int i = 0; i < count; i++) {
            if (starts[i] == ends[i]) continue;
            out.accept(new PreTokenizer.Piece(text.substring(starts[i], ends[i]), piece.atInputStart() && starts[i] == 0));
        }
    }
}
