package org.privllm.model.tokenizer;

/**
 * The character classes HuggingFace's Rust code uses, spelled out for Java, whose own predicates
 * differ: {@code Character.isWhitespace} leaves out no-break spaces and counts U+001C..U+001F, and
 * {@code Character.toLowerCase(int)} is the simple mapping where Rust's {@code char::to_lowercase} is
 * the full one.
 */
final class Unicode {
    private Unicode() {}

    /** Rust's {@code char::is_whitespace} (the White_Space property; also onig's and Rust regex's {@code \s}). */
    static boolean isWhiteSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F
                || cp == 0x3000;
    }

    /** Rust regex's Unicode {@code \w}: Alphabetic, marks, decimal digits, connector punctuation, joiners. */
    static boolean isWordCharacter(int cp) {
        if (Character.isAlphabetic(cp) || cp == 0x200C || cp == 0x200D) return true;
        int type = Character.getType(cp);
        return type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK
                || type == Character.COMBINING_SPACING_MARK || type == Character.DECIMAL_DIGIT_NUMBER
                || type == Character.CONNECTOR_PUNCTUATION;
    }

    /** The Punctuation pre-tokenizer's test: ASCII punctuation (symbols such as {@code $+<=>^`|~} included) or a P* category. */
    static boolean isPunctuation(int cp) {
        if (cp < 0x80) return cp > 0x20 && cp < 0x7F && !Character.isLetterOrDigit(cp);
        return switch (Character.getType(cp)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                    Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                    Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    /** Rust's {@code char::is_numeric}: categories Nd, Nl and No. */
    static boolean isNumeric(int cp) {
        int type = Character.getType(cp);
        return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER || type == Character.OTHER_NUMBER;
    }

    /**
     * Rust's {@code char::to_lowercase} per character: the full mapping without context, so a final Σ
     * stays σ (no final-sigma rule) and İ becomes "i̇". U+0130 is the one character whose unconditional
     * lowercase is two characters.
     */
    static String lowercase(String s) {
        StringBuilder out = new StringBuilder(s.length());
        s.codePoints().forEach(cp -> {
            if (cp == 0x130) out.append("i\u0307");
            else out.appendCodePoint(Character.toLowerCase(cp));
        });
        return out.toString();
    }

    /** {@code s} with every unpaired surrogate (not representable in UTF-8) replaced by U+FFFD. */
    static String replaceLoneSurrogates(String s) {
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean paired = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
            if (paired) {
                if (out != null) out.append(c).append(s.charAt(i + 1));
                i++;
            } else if (Character.isSurrogate(c)) {
                if (out == null) out = new StringBuilder(s.length()).append(s, 0, i);
                out.append(Utf8.REPLACEMENT);
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? s : out.toString();
    }
}
