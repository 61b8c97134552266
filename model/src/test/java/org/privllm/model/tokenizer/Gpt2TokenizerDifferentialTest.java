package org.privllm.model.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our BPE (from the written vocab.json + merges.txt) against jtokkit's r50k_base — an independent
 * implementation of the same vocabulary — on a few thousand generated strings.
 */
class Gpt2TokenizerDifferentialTest {
    private static final String[] WORDS = {
        "the", "The", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Hello", "world", "HELLO", "tokenizer",
        "privacy", "obfuscation", "GPT", "transformer", "antidisestablishmentarianism", "a", "I", "x", "naïve", "café",
        "Zürich", "façade", "résumé", "Straße", "über", "ñandú"
    };
    private static final String[] CONTRACTIONS = {
        "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL", "'D", "don't", "I'm", "we'll",
        "they're", "it's", "you've", "she'd", "O'Neil", "rock'n'roll", "''", "'", "'x"
    };
    private static final String[] SCRIPTS = {
        "Привет мир", "Ελληνικά γράμματα", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "こんにちは世界", "你好，世界",
        "안녕하세요", "สวัสดีครับ", "ሰላም", "Բարեւ", "გამარჯობა", "ᚠᚢᚦᚨᚱᚲ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𐌀𐌁𐌂", "Ꭰ Ꭱ Ꭲ", "Tiếng Việt",
        "e\u0301\u0302", "ﬁ ﬂ", "Ａｂｃ１２３", "ǅǈǋ", "ʰʲʷ", "ㄅㄆㄇ", "ꦗꦮ"
    };
    private static final String[] EMOJI = {
        "😀", "🤖", "🦜", "👍🏽", "👨‍👩‍👧‍👦", "👩‍🔬", "🏳️‍🌈", "🇩🇪🇯🇵", "❤️", "☺︎", "#️⃣", "🧑🏿‍🚀", "🫠", "🀄", "♥", "✔"
    };
    private static final String[] SPACES = {
        " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "\t\t ", " \n ", "\u00a0", "\u3000", "\u2028", "\u2003\u2009",
        "\u000b\u000c", "\u0085", " \t\n\r", "        "
    };
    private static final String[] NUMBERS = {
        "0", "7", "42", "2024", "3.14159", "1,000,000", "-17", "+1e-9", "0x1F", "٣٤٥", "१२३", "１２３", "Ⅻ", "½", "²³",
        "٫", "12345678901234567890", "v1.2.3", "#1", "1st", "2nd"
    };
    private static final String[] CODE = {
        "for (int i = 0; i < n; i++) {", "}", "    return x;", "if x == None:\n    pass", "a->b", "a::b", "x += 1;",
        "#include <stdio.h>", "<div class=\"x\">", "</div>", "SELECT * FROM t WHERE id = 1;", "λx.x", "$var",
        "@Override", "// comment", "/* block */", "\"\"\"docstring\"\"\"", "{\"key\": [1, 2, 3]}", "=>", "!==", "::",
        "https://example.com/path?q=1&r=2", "user@example.org", "...", "—", "–", "…", "«»", "¿¡"
    };
    private static final String[][] POOLS = {WORDS, CONTRACTIONS, SCRIPTS, EMOJI, SPACES, NUMBERS, CODE};

    @Test
    void agreesWithJtokkitR50kBase(@TempDir Path dir) {
        Gpt2Tokenizer.writeGpt2Files(dir);
        Gpt2Tokenizer tok = Gpt2Tokenizer.load(dir);
        Encoding r50k = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
        List<String> corpus = corpus(new Random(20260425), 3000);

        long start = System.nanoTime();
        List<int[]> ours = new ArrayList<>(corpus.size());
        for (String s : corpus) ours.add(tok.encode(s));
        long elapsedMs = (System.nanoTime() - start) / 1_000_000;

        for (int i = 0; i < corpus.size(); i++) {
            String s = corpus.get(i);
            int[] expected = r50k.encodeOrdinary(s).toArray();
            assertThat(ours.get(i)).as("string %d: %s", i, escape(s)).containsExactly(expected);
            assertThat(tok.decode(expected)).as("round trip %d: %s", i, escape(s)).isEqualTo(s);
        }
        // Cold cache included; generous bound for a shared 2-core machine.
        assertThat(elapsedMs).as("encoding %d strings", corpus.size()).isLessThan(2000);
    }

    static List<String> corpus(Random random, int count) {
        List<String> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            StringBuilder sb = new StringBuilder();
            int pieces = 1 + random.nextInt(i % 10 == 0 ? 40 : 8);
            for (int p = 0; p < pieces; p++) {
                int kind = random.nextInt(10);
                if (kind < 7) {
                    String[] pool = POOLS[kind];
                    sb.append(pool[random.nextInt(pool.length)]);
                } else if (kind == 7) {
                    randomCodePoints(random, sb, 1 + random.nextInt(6));
                } else if (kind == 8) {
                    // long runs exercise the long-piece merge path
                    String unit = random.nextBoolean() ? " " : POOLS[random.nextInt(POOLS.length)][0];
                    sb.append(unit.repeat(1 + random.nextInt(random.nextInt(10) == 0 ? 300 : 20)));
                }
                if (random.nextInt(3) > 0) sb.append(random.nextInt(5) == 0 ? SPACES[random.nextInt(SPACES.length)] : " ");
            }
            out.add(sb.toString());
        }
        return out;
    }

    /** Arbitrary scalar values (no lone surrogates, which have no UTF-8 form) weighted towards small ones. */
    private static void randomCodePoints(Random random, StringBuilder sb, int n) {
        for (int k = 0; k < n; k++) {
            int cp;
            do {
                cp = switch (random.nextInt(4)) {
                    case 0 -> random.nextInt(0x80);
                    case 1 -> random.nextInt(0x800);
                    case 2 -> random.nextInt(0x10000);
                    default -> random.nextInt(0x110000);
                };
            } while (cp >= 0xD800 && cp <= 0xDFFF);
            sb.appendCodePoint(cp);
        }
    }

    private static String escape(String s) {
        StringBuilder sb = new StringBuilder();
        s.codePoints().forEach(cp -> {
            if (cp >= 0x20 && cp < 0x7F) sb.append((char) cp);
            else sb.append(String.format("\\u{%X}", cp));
        });
        return sb.toString();
    }
}
