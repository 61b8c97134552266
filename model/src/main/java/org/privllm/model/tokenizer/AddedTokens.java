package org.privllm.model.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The added tokens of a tokenizer.json ({@code <s>}, {@code <|im_start|>}, {@code <think>} …): found in
 * the text before anything else and never split. As HuggingFace's {@code AddedVocabulary}: tokens with
 * {@code normalized: false} are matched in the raw text, those with {@code normalized: true} (their
 * content normalized too) in each normalized stretch between; matching is leftmost-longest; a
 * {@code single_word} token matches only between non-word characters, {@code lstrip}/{@code rstrip}
 * take the white space on their left/right into the token.
 */
final class AddedTokens {
    /** One entry of tokenizer.json's {@code added_tokens}. */
    record Token(int id, String content, boolean singleWord, boolean lstrip, boolean rstrip, boolean normalized,
            boolean special) {}

    /** A stretch of text: an added token's ({@code id >= 0}) or text between them ({@code id == -1}); char offsets. */
    record Segment(int start, int end, int id) {
        boolean isToken() {
            return id >= 0;
        }
    }

    private final Trie raw;
    private final Trie normalized;

    /** @param normalizer applied to the content of {@code normalized} tokens; may be null */
    AddedTokens(List<Token> tokens, Normalizer normalizer) {
        raw = new Trie();
        normalized = new Trie();
        for (Token t : tokens) {
            if (t.content().isEmpty()) continue;
            if (t.normalized()) normalized.add(normalizer == null ? t.content() : normalizer.normalize(t.content()), t);
            else raw.add(t.content(), t);
        }
    }

    /** Splits raw text at the non-normalized added tokens. */
    List<Segment> splitRaw(String text) {
        return raw.split(text);
    }

    /** Splits a normalized stretch at the normalized added tokens. */
    List<Segment> splitNormalized(String text) {
        return normalized.split(text);
    }

    /** A character trie over token contents: leftmost-longest matching as Aho-Corasick's LeftmostLongest. */
    private static final class Trie {
        private final Node root = new Node();
        private boolean empty = true;

        private static final class Node {
            final Map<Character, Node> next = new HashMap<>(4);
            Token token; // a token ends here
        }

        void add(String pattern, Token token) {
            Node n = root;
            for (int i = 0; i < pattern.length(); i++) n = n.next.computeIfAbsent(pattern.charAt(i), c -> new Node());
            if (n.token == null) n.token = token; // the first of equal patterns wins, as in Aho-Corasick
            empty = false;
        }

        /** The segments of {@code text}: HuggingFace's {@code find_matches}. */
        List<Segment> split(String text) {
            List<Segment> out = new ArrayList<>();
            int startOffset = 0; // end of the previous token
            for (int at = 0; !empty && at < text.length(); ) {
                Match match = longestAt(text, at);
                if (match == null) {
                    at++;
                    continue;
                }
                Token t = match.token();
                int start = at;
                int stop = match.end();
                at = stop; // the search goes on after the match whether or not it is used
                if (t.singleWord()) {
                    boolean spaceBefore = start == 0 || !Unicode.isWordCharacter(text.codePointBefore(start));
                    boolean spaceAfter = stop == text.length() || !Unicode.isWordCharacter(text.codePointAt(stop));
                    if (!spaceBefore || !spaceAfter) continue;
                }
                if (t.lstrip()) {
                    int s = start;
                    while (s > 0 && Unicode.isWhiteSpace(text.codePointBefore(s))) s -= Character.charCount(text.codePointBefore(s));
                    start = Math.max(s, startOffset);
                }
                if (t.rstrip()) {
                    while (stop < text.length() && Unicode.isWhiteSpace(text.codePointAt(stop))) stop += Character.charCount(text.codePointAt(stop));
                }
                if (startOffset < start) out.add(new Segment(startOffset, start, -1));
                out.add(new Segment(start, stop, t.id()));
                startOffset = stop;
            }
            if (startOffset < text.length() || out.isEmpty()) out.add(new Segment(startOffset, text.length(), -1));
            return out;
        }

        private record Match(int end, Token token) {}

        /** The longest pattern that starts at {@code at}, or null. */
        private Match longestAt(String text, int at) {
            Node n = root;
            Match best = null;
            for (int i = at; i < text.length(); i++) {
                n = n.next.get(text.charAt(i));
                if (n == null) break;
                if (n.token != null) best = new Match(i + 1, n.token);
            }
            return best;
        }
    }
}
