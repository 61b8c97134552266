package org.privllm.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.privllm.model.tokenizer.Gpt2Tokenizer;
import org.privllm.model.tokenizer.Tokenizer;
import org.privllm.server.Fixtures;

/** Stop strings end the text before their first occurrence; nothing of a stop string is ever shown. */
class TextStreamTest {
    static final int EOS = 50256;

    static Tokenizer tok() {
        return Fixtures.tokenizer();
    }

    /** Pushes {@code text} one character at a time (each character's own tokens). */
    static String run(String text, List<String> stops, StringBuilder shown) {
        TextStream t = new TextStream(tok(), new int[0], new int[] {EOS}, stops);
        for (int cp : text.codePoints().toArray()) {
            for (int id : tok().encode(Character.toString(cp), false)) {
                String piece = t.push(id);
                shown.append(piece);
                for (String s : stops) {
                    assertThat(shown.toString()).doesNotContain(s);
                }
                if (t.stopped()) {
                    return t.text();
                }
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
        TextStream t = new TextStream(tok(), new int[0], new int[] {EOS}, List.of());
        assertThat(t.push(tok().encode("h", false)[0])).isEqualTo("h");
        assertThat(t.push(EOS)).isEmpty();
        assertThat(t.stopped()).isTrue();
        assertThat(t.push(tok().encode("x", false)[0])).isEmpty();
        assertThat(t.text()).isEqualTo("h");
    }

    /** A character split over several tokens comes out whole; the text is the decoded ids'. */
    @Test
    void multiByteCharactersComeOutWhole() {
        StringBuilder shown = new StringBuilder();
        assertThat(run("naïve 🙂 text", List.of(), shown)).isEqualTo("naïve 🙂 text");
        assertThat(shown.toString()).isEqualTo("naïve 🙂 text");
    }

    /**
     * The prompt primes the decoder: the answer is the text that follows the prompt's in the decoded whole (what
     * {@code privllm generate} prints after the prompt), even where a token's bytes straddle the two.
     */
    @Test
    void thePromptPrimesTheDecoder() {
        Gpt2Tokenizer g = Fixtures.tokenizer();
        int[] ids = g.encode("Hello 🙂 world");
        for (int cut = 1; cut < ids.length; cut++) {
            int[] prompt = java.util.Arrays.copyOf(ids, cut);
            TextStream t = new TextStream(g, prompt, new int[] {EOS}, List.of());
            StringBuilder out = new StringBuilder();
            for (int i = cut; i < ids.length; i++) {
                out.append(t.push(ids[i]));
            }
            out.append(t.finish());
            String whole = g.decode(ids), head = g.decode(prompt);
            if (whole.startsWith(head)) { // the prompt ends on a whole character
                assertThat(out.toString()).as("cut at %d", cut).isEqualTo(whole.substring(head.length()));
            }
        }
    }
}
