package org.privllm.model.tokenizer;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A tokenizer.json {@code normalizer}: rewrites each stretch of text between added tokens before it is
 * pre-tokenized (HuggingFace normalizes every such stretch on its own, so a {@code Prepend} applies
 * after each special token too).
 */
sealed interface Normalizer {
    String normalize(String s);

    /** {@code Sequence}: the normalizers one after the other. */
    record Sequence(List<Normalizer> normalizers) implements Normalizer {
        @Override
        public String normalize(String s) {
            for (Normalizer n : normalizers) s = n.normalize(s);
            return s;
        }
    }

    /** {@code NFC}, {@code NFD}, {@code NFKC}, {@code NFKD}. */
    record UnicodeForm(java.text.Normalizer.Form form) implements Normalizer {
        @Override
        public String normalize(String s) {
            return java.text.Normalizer.normalize(s, form);
        }
    }

    /** {@code Prepend}: puts {@code prefix} in front of non-empty text. */
    record Prepend(String prefix) implements Normalizer {
        @Override
        public String normalize(String s) {
            return s.isEmpty() ? s : prefix + s;
        }
    }

    /** {@code Replace}: every match of a literal or regex pattern becomes {@code content}. */
    record Replace(Pattern pattern, String content) implements Normalizer {
        @Override
        public String normalize(String s) {
            return pattern.matcher(s).replaceAll(Matcher.quoteReplacement(content));
        }
    }

    /** {@code Lowercase}: Rust's per-character full lowercase mapping. */
    record Lowercase() implements Normalizer {
        @Override
        public String normalize(String s) {
            return Unicode.lowercase(s);
        }
    }

    /** {@code Strip}: removes leading and/or trailing white space (Unicode White_Space). */
    record Strip(boolean left, boolean right) implements Normalizer {
        @Override
        public String normalize(String s) {
            int from = 0;
            int to = s.length();
            while (left && from < to && Unicode.isWhiteSpace(s.codePointAt(from))) from += Character.charCount(s.codePointAt(from));
            while (right && to > from && Unicode.isWhiteSpace(s.codePointBefore(to))) to -= Character.charCount(s.codePointBefore(to));
            return s.substring(from, to);
        }
    }
}
