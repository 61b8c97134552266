package org.privllm.model.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Oniguruma → java.util.regex translation (its agreement with HuggingFace is in the differential tests). */
class OnigRegexTest {
    /** Qwen2/Qwen3's pre-tokenizer pattern, as in their tokenizer.json. */
    static final String QWEN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /** Llama 3's: as Qwen's but numbers in runs of up to three digits. */
    static final String LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    static List<String> pieces(String onig, String text) {
        Matcher m = OnigRegex.compile(onig).matcher(text);
        List<String> out = new ArrayList<>();
        while (m.find()) out.add(m.group());
        return out;
    }

    @Test
    void qwenAndLlama3PatternsCutAsTheirTokenizersDo() {
        assertThat(pieces(QWEN, "I'LL pay $12345 for it's 日本\r\n\n  ok"))
                .containsExactly("I", "'LL", " pay", " $", "1", "2", "3", "4", "5", " for", " it", "'s", " 日本", "\r\n\n", " ", " ok");
        assertThat(pieces(LLAMA3, "x 1234567 ſ'ſ")).containsExactly("x", " ", "123", "456", "7", " ſ", "'ſ");
        assertThat(pieces(QWEN, "a\u00a0b\u3000c\u0085d")).containsExactly("a", "\u00a0b", "\u3000c", "\u0085d");
    }

    @Test
    void escapesGetOnigurumasMeaning() {
        assertThat(OnigRegex.translate("\\s")).isEqualTo("[\\t-\\r\\x{85}\\p{Z}]");
        assertThat(OnigRegex.translate("[^\\s\\p{L}]")).isEqualTo("[^\\t-\\r\\x{85}\\p{Z}\\p{L}]");
        assertThat(OnigRegex.translate("\\h+\\v")).isEqualTo("[0-9a-fA-F]+\\x0B");
        assertThat(OnigRegex.translate("\\p{Han}\\p{^L}\\P{Lu}[[:^alpha:]]")).isEqualTo("\\p{IsHAN}\\P{L}\\P{Lu}[[^\\p{IsAlphabetic}]]");
        assertThat(OnigRegex.translate("(?m:.)(?i)x")).isEqualTo("(?s:.)(?i)x");
        assertThat(pieces("\\w+", "a½b①c")).containsExactly("a½b", "c");
        assertThat(pieces("[\\w]+", "a½b")).containsExactly("a", "b");
        assertThat(pieces("[[:punct:]]+", "a$+,€b")).containsExactly("$+,€");
        assertThat(pieces(".+", "a\rb\nc")).containsExactly("a\rb", "c");
        assertThat(Pattern.matches(OnigRegex.translate("[]a]+"), "]a]")).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"a\\Kb", "\\g<1>", "a{1,2}+", "\\p{Klingon}", "[[:foo:]]", "(?x) a", "\\y"})
    void untranslatableSyntaxIsRefusedNotGuessed(String onig) {
        assertThatThrownBy(() -> OnigRegex.compile(onig)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("regex '").hasMessageContaining("is not supported");
    }
}
