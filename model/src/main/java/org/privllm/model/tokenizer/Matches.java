package org.privllm.model.tokenizer;

import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A text cut into consecutive spans, each a match of some pattern or the gap between two: HuggingFace's
 * {@code Pattern::find_matches}, the input of a {@link SplitBehavior}. Spans are char offsets.
 */
final class Matches {
    private final IntList spans = new IntList(16); // (start, end, 1 if a match else 0) per span

    private Matches() {}

    int size() {
        return spans.size() / 3;
    }

    int start(int i) {
        return spans.get(3 * i);
    }

    int end(int i) {
        return spans.get(3 * i + 1);
    }

    boolean isMatch(int i) {
        return spans.get(3 * i + 2) != 0;
    }

    private void add(int start, int end, boolean match) {
        spans.add(start);
        spans.add(end);
        spans.add(match ? 1 : 0);
    }

    /**
     * The matches of {@code pattern} and the gaps between them. Like Oniguruma's iterator, an empty match
     * right where the previous match ended is not reported (Java's find would report it).
     */
    static Matches of(Pattern pattern, String text, boolean invert) {
        Matches m = new Matches();
        if (text.isEmpty()) {
            m.add(0, 0, invert);
            return m;
        }
        Matcher matcher = pattern.matcher(text);
        int prev = 0;
        int lastMatchEnd = -1;
        while (matcher.find()) {
            int start = matcher.start();
            int end = matcher.end();
            if (start == end && start == lastMatchEnd) continue;
            if (prev != start) m.add(prev, start, invert);
            m.add(start, end, !invert);
            prev = end;
            lastMatchEnd = end;
        }
        if (prev != text.length()) m.add(prev, text.length(), invert);
        return m;
    }

    /** Every character that satisfies {@code test} is a match of its own; the stretches between are gaps. */
    static Matches ofChars(IntPredicate test, String text) {
        Matches m = new Matches();
        if (text.isEmpty()) {
            m.add(0, 0, false);
            return m;
        }
        int gapStart = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int next = i + Character.charCount(cp);
            if (test.test(cp)) {
                if (gapStart < i) m.add(gapStart, i, false);
                m.add(i, next, true);
                gapStart = next;
            }
            i = next;
        }
        if (gapStart < text.length()) m.add(gapStart, text.length(), false);
        return m;
    }
}
