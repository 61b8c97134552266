package org.privllm.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.privllm.server.chat.TextTokenizer;

/** Stop strings end the text before their first occurrence; nothing of a stop string is ever shown. */
class TextStreamTest {
    /** One character per token id (id = code point), id 0 = end of text. */
    static final TextTokenizer CHARS = new TextTokenizer() {
        @Override
        public int[] encode(String text) {
            return text.codePoints().toArray();
        }

        @Override
        public String decode(int[] ids) {
            return new String(ids, 0, ids.length);
        }

        @Override
        public StreamingDecoder streamingDecoder() {
            return new StreamingDecoder() {
                @Override
                public String push(int id) {
                    return Character.toString(id);
                }

                @Override
                public String flush() {
                    return "";
                }
            };
        }

        @Override
        public int[] stopIds() {
            return new int[] {0};
        }
    };

    static String run(String text, List<String> stops, StringBuilder shown) {
        TextStream t = new TextStream(CHARS, new int[] {0}, stops);
        for (int cp : text.codePoints().toArray()) {
            String piece = t.push(cp);
            shown.append(piece);
            for (String s : stops) {
                assertThat(shown.toString()).doesNotContain(s);
            }
            if (t.stopped()) {
                return t.text();
            }
        }
        shown.append(t.finish());
        return t.text();
    }

    @Test
    void cutsAtTheFirstStopAndHoldsBackPartialMatches() {
        StringBuilder shown = new StringBuilder();
        assertThat(run("hello world, END here", List.of("END", "xyz"), shown)).isEqualTo("hello world, ");
        assertThat(shown.toString()).isEqualTo("hello world, ");
        assertThat(run("abcab", List.of("abd"), new StringBuilder())).isEqualTo("abcab"); // partial match released at the end
        assertThat(run("aaab", List.of("aab"), new StringBuilder())).isEqualTo("a");
        assertThat(run("no stops", List.of(), new StringBuilder())).isEqualTo("no stops");
    }

    @Test
    void stopTokenEndsWithoutText() {
        TextStream t = new TextStream(CHARS, new int[] {0}, List.of());
        assertThat(t.push('h')).isEqualTo("h");
        assertThat(t.push(0)).isEmpty();
        assertThat(t.stopped()).isTrue();
        assertThat(t.push('x')).isEmpty();
        assertThat(t.text()).isEqualTo("h");
    }
}
