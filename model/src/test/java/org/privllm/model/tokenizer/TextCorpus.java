package org.privllm.model.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Deterministic awkward text for the tokenizer differential tests: a hand-written list of hard cases,
 * then strings drawn from {@code new SplittableRandom(seed + i)} — each a mix of fragments (words,
 * contractions, numbers, scripts, emoji sequences, whitespace runs, code, special tokens) and random
 * code points from chosen Unicode ranges, with the occasional unpaired surrogate. String {@code i} of
 * a corpus is the same on every run, so a failure names its index and reruns exactly.
 */
final class TextCorpus {
    private TextCorpus() {}

    static final List<String> AWKWARD = List.of(
            "", " ", "  ", "\t", "\n", "\r\n", " \n ", "\n\n\n", "   leading", "trailing   ", "\t\tindented",
            "a\r\nb\rc\nd", "\u000b\u000c", "\u0085", "\u00a0", "\u3000", "\u2028\u2029", "\u200b", "\ufeffbom",
            "  two  spaces  ", " \t \n \r\n ", "x \n\n y", "end\n", "\n\nstart", "tab\tbetween\twords",
            "0", "12", "123", "1234", "12345678901234567890", "3.14159", "1,000,000", "-17", "+1e-9", "0x1F",
            "٣٤٥", "१२३", "１２３", "Ⅻ", "½", "²³", "v1.2.3", "1st 2nd 3rd",
            "你好，世界", "日本語のテキスト", "한국어 텍스트", "中文English混合", "Ａｂｃ", "𠀀𠀁", "々〆〇",
            "😀", "👍🏽", "👨‍👩‍👧‍👦", "👩🏿‍🔬", "🏳️‍🌈", "🇩🇪🇯🇵", "❤️", "#️⃣", "🧑🏿‍🚀", "🫠", "☺︎", "a😀b😀c",
            "e\u0301", "a\u0308\u0301", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", "ﬁ ﬂ", "\u00c5 A\u030a", "ǅǈǋ", "İstanbul", "ΣΑΣ ς",
            "straße STRASSE", "ſ 'ſ K", "ﾊﾝｶｸ", "ℌℑℜ",
            "مرحبا بالعالم", "שָׁלוֹם עוֹלָם", "\u200f\u200eltr", "ا ل م", "فارسی ۱۲۳",
            "\u0000", "\u0001\u0002\u0003", "\u007f", "\u001b[31mred\u001b[0m", "\u0080\u009f",
            "don't", "I'LL", "we've", "She'S", "O'Neil", "'s", "''", "rock'n'roll", "it’s", "'S'T'RE'VE'M'LL'D",
            "https://example.com/path?q=1&r=2#frag", "user@example.org", "for (int i = 0; i < n; i++) {\n    x += 1;\n}",
            "def f(x):\n\treturn x**2\n", "<div class=\"x\">", "SELECT * FROM t WHERE id = 1;", "{\"key\": [1, 2, 3]}",
            "a->b::c", "    return x;", "#include <stdio.h>", "$var @Override", "!!!???...", "—–…«»¿¡",
            "<s>", "</s>", "<unk>", "<s>hello", "hello</s>", " <s> ", "<s><s>", "<s> <s>", "a<s>b</s>c",
            "<|im_start|>", "<|im_end|>", "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
            "<|endoftext|>", "<think>\n\n</think>\n\n", "<tool_call>{}</tool_call>", "<|im_start", "im_start|>",
            "<<s>>", "<|im_start|><|im_end|>", "<s>\u00a0x", "x<|endoftext|> y", "<|fim_prefix|>a<|fim_suffix|>",
            "a\ud800b", "\udc00", "x\ud83d", "\ud83d\ude00\ud83d", "\udfff\ud800",
            "Hello, World! How's it going?", "The quick brown fox jumps over the lazy dog.", "ÀÉÎÕÜ àéîõü",
            "Ελληνικά γράμματα", "Привет, мир!", "नमस्ते दुनिया", "สวัสดีครับ", "ሰላም", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𐌀𐌁𐌂",
            "Tiếng Việt", "ꦗꦮ", "ᚠᚢᚦ", "word ".repeat(300), "a".repeat(1000), "9".repeat(200), "\n".repeat(50),
            " ".repeat(100), "😀".repeat(50), "ab".repeat(400) + "\u0301");

    private static final String[] WORDS = {
        "the", "The", "quick", "brown", "fox", "Hello", "world", "HELLO", "tokenizer", "privacy", "a", "I", "x",
        "naïve", "café", "Zürich", "Straße", "ñandú", "antidisestablishmentarianism", "GPT", "LLaMA", "Qwen3"
    };
    private static final String[] CONTRACTIONS = {
        "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL", "'D", "don't", "I'm", "we'll",
        "it's", "O'Neil", "'", "'x", "’s"
    };
    private static final String[] SCRIPTS = {
        "Привет мир", "Ελληνικά", "مرحبا", "שלום", "नमस्ते", "こんにちは", "你好", "안녕하세요", "สวัสดี", "ሰላም",
        "Բարեւ", "გამარჯობა", "e\u0301\u0302", "Ａｂｃ１２３", "ʰʲʷ", "ㄅㄆㄇ", "עִבְרִית", "اَلْعَرَبِيَّة"
    };
    private static final String[] EMOJI = {
        "😀", "🤖", "👍🏽", "👨‍👩‍👧‍👦", "👩‍🔬", "🏳️‍🌈", "🇩🇪", "❤️", "#️⃣", "🧑🏿‍🚀", "🫠", "🀄", "♥", "✔", "\u200d", "\ufe0f"
    };
    private static final String[] SPACES = {
        " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "\t\t ", " \n ", "\u00a0", "\u3000", "\u2028", "\u2003\u2009",
        "\u000b\u000c", "\u0085", " \t\n\r", "        ", "\r", "\u200b"
    };
    private static final String[] NUMBERS = {
        "0", "7", "42", "2024", "3.14159", "1,000,000", "-17", "+1e-9", "0x1F", "٣٤٥", "१२३", "１２３", "Ⅻ", "½", "²³",
        "12345678901234567890", "v1.2.3", "#1", "1st", "100%"
    };
    private static final String[] CODE = {
        "for (int i = 0; i < n; i++) {", "}", "    return x;", "if x == None:\n    pass", "a->b", "x += 1;",
        "#include <stdio.h>", "<div class=\"x\">", "</div>", "SELECT * FROM t;", "λx.x", "$var", "@Override",
        "// comment", "/* block */", "{\"key\": [1, 2, 3]}", "=>", "!==", "::", "https://example.com/a?b=c&d=e",
        "user@example.org", "...", "—", "…", "«»", "¿¡", "\\n", "\"\"\""
    };
    private static final String[] SPECIAL = {
        "<s>", "</s>", "<unk>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<tool_call>",
        "<|im_start|>user\n", "<|im_start|>assistant\n", "<|", "|>", "<0x41>", "▁", "Ġ"
    };
    private static final String[][] POOLS = {WORDS, CONTRACTIONS, SCRIPTS, EMOJI, SPACES, NUMBERS, CODE, SPECIAL};

    /** Code point ranges for random characters: Latin to CJK, combining marks, controls, emoji, astral letters. */
    private static final int[][] RANGES = {
        {0x20, 0x7E}, {0x00, 0x1F}, {0x7F, 0x9F}, {0xA0, 0xFF}, {0x100, 0x24F}, {0x300, 0x36F}, {0x370, 0x3FF},
        {0x400, 0x4FF}, {0x590, 0x5FF}, {0x600, 0x6FF}, {0x900, 0x97F}, {0xE00, 0xE7F}, {0x1100, 0x11FF},
        {0x2000, 0x206F}, {0x2070, 0x209F}, {0x20A0, 0x20CF}, {0x2100, 0x27BF}, {0x3000, 0x30FF}, {0x4E00, 0x9FFF},
        {0xAC00, 0xD7A3}, {0xE000, 0xE0FF}, {0xFE00, 0xFE0F}, {0xFF00, 0xFFEF}, {0x1F300, 0x1FAFF}, {0x1D400, 0x1D7FF},
        {0x20000, 0x2A6DF}, {0x10000, 0x1007F}, {0x1F1E6, 0x1F1FF}, {0x1F3FB, 0x1F3FF}
    };

    /** {@link #AWKWARD} followed by random strings up to {@code count} strings in all. */
    static List<String> corpus(long seed, int count) {
        List<String> out = new ArrayList<>(AWKWARD);
        for (int i = 0; out.size() < count; i++) out.add(random(new SplittableRandom(seed + i)));
        return out;
    }

    /** One random string: 1–12 parts, each a fragment or a run of random code points. */
    static String random(SplittableRandom rnd) {
        StringBuilder sb = new StringBuilder();
        int parts = 1 + rnd.nextInt(12);
        for (int p = 0; p < parts; p++) {
            int kind = rnd.nextInt(10);
            if (kind < 6) {
                String[] pool = POOLS[rnd.nextInt(POOLS.length)];
                sb.append(pool[rnd.nextInt(pool.length)]);
            } else if (kind < 9) {
                int[] range = RANGES[rnd.nextInt(RANGES.length)];
                for (int n = 1 + rnd.nextInt(6); n > 0; n--) sb.appendCodePoint(range[0] + rnd.nextInt(range[1] - range[0] + 1));
            } else {
                sb.append(rnd.nextInt(20) == 0 ? (char) (0xD800 + rnd.nextInt(0x800)) : ' '); // rarely an unpaired surrogate
            }
            if (rnd.nextInt(3) == 0) sb.append(SPACES[rnd.nextInt(SPACES.length)]);
        }
        return sb.toString();
    }
}
