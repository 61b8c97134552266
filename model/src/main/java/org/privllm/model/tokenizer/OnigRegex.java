package org.privllm.model.tokenizer;

import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Translates the regex dialect of tokenizer.json (HuggingFace compiles it with Oniguruma, Ruby syntax,
 * UTF-8) to {@code java.util.regex}. Most syntax means the same in both — alternation, classes,
 * {@code (?i:…)}, look-around, atomic groups, possessive {@code ?+ *+ ++}, {@code \p{L}} and
 * {@code \p{N}} — but a few escapes do not, and are rewritten:
 *
 * <ul>
 *   <li>{@code \s \w \d} are Unicode in Oniguruma (White_Space; Alphabetic|Mark|Decimal_Number|
 *       Connector_Punctuation; Decimal_Number) and written out as explicit classes here, so that no
 *       Java flag decides (UNICODE_CHARACTER_CLASS counts joiners as word characters);
 *   <li>{@code \h} is a hex digit in Oniguruma (horizontal space in Java), {@code \v} is U+000B;
 *   <li>{@code \p{Han}}-style script names become Java's {@code \p{IsHan}}, {@code \p{^L}} becomes
 *       {@code \P{L}}; POSIX brackets such as {@code [[:alpha:]]} get their Unicode meaning;
 *   <li>Ruby's {@code (?m)} is Java's dotall {@code (?s)}; {@code ^ $} are always line anchors and
 *       {@code .} excludes only {@code \n} (MULTILINE, UNIX_LINES); {@code (?i)} folds Unicode case.
 * </ul>
 *
 * Anything without a faithful translation ({@code \K}, subexpression calls, Ruby's {@code {n,m}+}, an
 * unknown property) is refused with an IllegalArgumentException naming it, never guessed.
 */
final class OnigRegex {
    private static final int FLAGS = Pattern.UNICODE_CASE | Pattern.UNIX_LINES | Pattern.MULTILINE;

    private static final String SPACE = "\\t-\\r\\x{85}\\p{Z}";
    /** Oniguruma's word characters ({@code [\\w]}, {@code \\p{Word}}, {@code [[:word:]]}): Alphabetic, marks, decimal digits, connectors. */
    private static final String WORD = "\\p{IsAlphabetic}\\p{M}\\p{Nd}\\p{Pc}";
    /** A bare {@code \\w} (outside a class) also matches ² ³ ¹ ¼ ½ ¾: Oniguruma reads Latin-1 from its byte table there. */
    private static final String BARE_WORD = WORD + "\\xB2\\xB3\\xB9\\xBC-\\xBE";
    private static final String HEX = "0-9a-fA-F";

    private static final Set<String> CATEGORIES = Set.of("L", "LU", "LL", "LT", "LM", "LO", "LC", "M", "MN", "MC", "ME",
            "N", "ND", "NL", "NO", "P", "PC", "PD", "PS", "PE", "PI", "PF", "PO", "S", "SM", "SC", "SK", "SO", "Z", "ZS",
            "ZL", "ZP", "C", "CC", "CF", "CS", "CO", "CN");
    private static final Map<String, String> LONG_CATEGORIES = Map.ofEntries(Map.entry("LETTER", "L"),
            Map.entry("UPPERCASELETTER", "Lu"), Map.entry("LOWERCASELETTER", "Ll"), Map.entry("TITLECASELETTER", "Lt"),
            Map.entry("MODIFIERLETTER", "Lm"), Map.entry("OTHERLETTER", "Lo"), Map.entry("MARK", "M"),
            Map.entry("COMBININGMARK", "M"), Map.entry("NONSPACINGMARK", "Mn"), Map.entry("SPACINGMARK", "Mc"),
            Map.entry("ENCLOSINGMARK", "Me"), Map.entry("NUMBER", "N"), Map.entry("DECIMALNUMBER", "Nd"),
            Map.entry("LETTERNUMBER", "Nl"), Map.entry("OTHERNUMBER", "No"), Map.entry("PUNCTUATION", "P"),
            Map.entry("SYMBOL", "S"), Map.entry("SEPARATOR", "Z"), Map.entry("SPACESEPARATOR", "Zs"),
            Map.entry("OTHER", "C"), Map.entry("CONTROL", "Cc"), Map.entry("FORMAT", "Cf"));
    private static final Map<String, String> BINARY_PROPERTIES = Map.ofEntries(Map.entry("ALPHABETIC", "Alphabetic"),
            Map.entry("WHITESPACE", "White_Space"),
            Map.entry("LOWERCASE", "Lowercase"), Map.entry("UPPERCASE", "Uppercase"), Map.entry("IDEOGRAPHIC", "Ideographic"),
            Map.entry("JOINCONTROL", "Join_Control"), Map.entry("EMOJI", "Emoji"),
            Map.entry("EMOJIPRESENTATION", "Emoji_Presentation"), Map.entry("EXTENDEDPICTOGRAPHIC", "Extended_Pictographic"),
            Map.entry("EMOJIMODIFIER", "Emoji_Modifier"), Map.entry("EMOJIMODIFIERBASE", "Emoji_Modifier_Base"),
            Map.entry("EMOJICOMPONENT", "Emoji_Component"), Map.entry("HEXDIGIT", "Hex_Digit"));
    /**
     * Oniguruma's Unicode POSIX brackets as the inside of a Java class, as measured against HuggingFace's
     * build (which differ from Oniguruma's documentation: punct includes every symbol, cntrl is Cc only,
     * alpha is the Alphabetic property, so Ⅻ and Ⓐ are letters and U+0301 is not).
     */
    private static final Map<String, String> POSIX = Map.ofEntries(Map.entry("alnum", "\\p{IsAlphabetic}\\p{Nd}"),
            Map.entry("alpha", "\\p{IsAlphabetic}"), Map.entry("blank", "\\p{Zs}\\t"), Map.entry("cntrl", "\\p{Cc}"),
            Map.entry("digit", "\\p{Nd}"), Map.entry("lower", "\\p{IsLowercase}"), Map.entry("upper", "\\p{IsUppercase}"),
            Map.entry("punct", "\\p{P}\\p{S}"), Map.entry("space", SPACE), Map.entry("xdigit", HEX),
            Map.entry("word", "\\p{IsAlphabetic}\\p{M}\\p{Nd}\\p{Pc}"));

    private OnigRegex() {}

    /** Compiles an Oniguruma pattern; IllegalArgumentException (one line) when it cannot be translated. */
    static Pattern compile(String onig) {
        String java = translate(onig);
        try {
            return Pattern.compile(java, FLAGS);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("regex " + quote(onig) + " is not valid: " + e.getDescription());
        }
    }

    /** Compiles a literal string pattern ({@code {"String": …}} in tokenizer.json). */
    static Pattern literal(String s) {
        return Pattern.compile(Pattern.quote(s));
    }

    static String translate(String re) {
        StringBuilder out = new StringBuilder(re.length() + 16);
        int depth = 0; // nesting of character classes
        int i = 0;
        while (i < re.length()) {
            char c = re.charAt(i);
            if (c == '\\') {
                i = escape(re, i, depth > 0, out);
            } else if (c == '[') {
                if (depth > 0 && re.startsWith("[:", i)) {
                    i = posixBracket(re, i, out);
                    continue;
                }
                depth++;
                out.append('[');
                i++;
                if (i < re.length() && re.charAt(i) == '^') out.append(re.charAt(i++));
                if (i < re.length() && re.charAt(i) == ']') { // a leading ']' is literal in Oniguruma
                    out.append("\\]");
                    i++;
                }
            } else if (c == ']' && depth > 0) {
                depth--;
                out.append(']');
                i++;
            } else if (depth == 0 && c == '(' && re.startsWith("(?", i)) {
                i = group(re, i, out);
            } else if (depth == 0 && c == '{') {
                int close = re.indexOf('}', i);
                if (close > 0 && re.substring(i + 1, close).matches("\\d*,?\\d*") && close + 1 < re.length()
                        && re.charAt(close + 1) == '+') {
                    throw unsupported(re, "'" + re.substring(i, close + 2) + "' (a repeated interval in Ruby syntax)");
                }
                out.append(c);
                i++;
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }

    private static int escape(String re, int at, boolean inClass, StringBuilder out) {
        if (at + 1 >= re.length()) throw unsupported(re, "a trailing backslash");
        char e = re.charAt(at + 1);
        int next = at + 2;
        switch (e) {
            case 's' -> out.append(inClass ? SPACE : "[" + SPACE + "]");
            case 'S' -> out.append("[^" + SPACE + "]");
            case 'w' -> out.append(inClass ? WORD : "[" + BARE_WORD + "]");
            case 'W' -> out.append("[^" + (inClass ? WORD : BARE_WORD) + "]");
            case 'd' -> out.append("\\p{Nd}");
            case 'D' -> out.append("\\P{Nd}");
            case 'h' -> out.append(inClass ? HEX : "[" + HEX + "]");
            case 'H' -> out.append("[^" + HEX + "]");
            case 'v' -> out.append("\\x0B");
            case 'p', 'P' -> {
                if (next >= re.length() || re.charAt(next) != '{') throw unsupported(re, "\\" + e + " without {name}");
                int close = re.indexOf('}', next);
                if (close < 0) throw unsupported(re, "an unclosed \\" + e + "{");
                out.append(property(re, re.substring(next + 1, close), e == 'P'));
                next = close + 1;
            }
            case 't', 'n', 'r', 'f', 'a', 'e', 'x', 'u', 'c', 'A', 'z', 'Z', 'b', 'B', 'G', 'R', 'X', 'k' ->
                    out.append('\\').append(e);
            default -> {
                if (Character.isLetter(e)) throw unsupported(re, "the escape \\" + e);
                out.append('\\').append(e); // an escaped symbol or a backreference digit
            }
        }
        return next;
    }

    private static String property(String re, String rawName, boolean negatedEscape) {
        boolean negated = negatedEscape;
        String name = rawName.strip();
        if (name.startsWith("^")) {
            negated = !negated;
            name = name.substring(1);
        }
        String key = name.replaceAll("[\\s_-]", "").toUpperCase(Locale.ROOT);
        String posix = POSIX.get(key.toLowerCase(Locale.ROOT));
        if (posix != null) return (negated ? "[^" : "[") + posix + "]"; // \p{Alpha} means [[:alpha:]] in Oniguruma
        String java;
        if (CATEGORIES.contains(key)) {
            java = key.length() == 1 ? key : key.charAt(0) + key.substring(1).toLowerCase(Locale.ROOT);
        } else if (LONG_CATEGORIES.containsKey(key)) {
            java = LONG_CATEGORIES.get(key);
        } else if (BINARY_PROPERTIES.containsKey(key)) {
            java = "Is" + BINARY_PROPERTIES.get(key);
        } else {
            try {
                java = "Is" + Character.UnicodeScript.forName(name).name();
            } catch (IllegalArgumentException e) {
                throw unsupported(re, "the property \\p{" + rawName + "}");
            }
        }
        return (negated ? "\\P{" : "\\p{") + java + "}";
    }

    private static int posixBracket(String re, int at, StringBuilder out) {
        int close = re.indexOf(":]", at + 2);
        if (close < 0) throw unsupported(re, "an unclosed POSIX bracket");
        String name = re.substring(at + 2, close);
        boolean negated = name.startsWith("^");
        String body = POSIX.get(negated ? name.substring(1) : name);
        if (body == null) throw unsupported(re, "the POSIX bracket [:" + name + ":]");
        out.append(negated ? "[^" + body + "]" : body);
        return close + 2;
    }

    /** {@code (?flags)} and {@code (?flags:…)}: Ruby's m is Java's s; other group kinds pass through. */
    private static int group(String re, int at, StringBuilder out) {
        int i = at + 2;
        int end = i;
        while (end < re.length() && "imx-".indexOf(re.charAt(end)) >= 0) end++;
        if (end == i || end >= re.length() || (re.charAt(end) != ')' && re.charAt(end) != ':')) {
            out.append("(?");
            return i;
        }
        if (re.substring(i, end).indexOf('x') >= 0) throw unsupported(re, "extended mode (?x)");
        out.append("(?").append(re.substring(i, end).replace('m', 's'));
        return end;
    }

    private static IllegalArgumentException unsupported(String re, String what) {
        return new IllegalArgumentException("regex " + quote(re) + ": " + what + " is not supported");
    }

    private static String quote(String re) {
        String s = re.length() > 80 ? re.substring(0, 77) + "..." : re;
        return "'" + s.replace("\n", "\\n").replace("\r", "\\r") + "'";
    }
}
