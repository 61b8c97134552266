package org.privllm.model.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.privllm.model.ModelFormatException;

/** Known facts of the real tokenizers in {@code shared/fixtures} (skipped without them). */
class HfTokenizerFixturesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** goldens.json's 30 cases: llama2.c's encode(text, bos=1, eos=0), which is HF's tokenizer(text).input_ids. */
    @Test
    void stories260kGoldenCasesExactly() throws IOException {
        Path dir = SharedFixtures.fixture("stories260k");
        Tokenizer tok = Tokenizers.load(dir);
        JsonNode cases = JSON.readTree(dir.resolve("goldens.json").toFile()).get("tokenizer");
        assertThat(cases).hasSize(30);
        for (JsonNode c : cases) {
            int[] expected = new int[c.get("ids").size()];
            for (int i = 0; i < expected.length; i++) expected[i] = c.get("ids").get(i).asInt();
            assertThat(tok.encode(c.get("text").asText())).as("encode %s", c.get("text")).containsExactly(expected);
        }
        assertThat(tok.encode("Hello world")).containsExactly(1, 346, 306, 414, 263, 304, 341);
        assertThat(tok.decode(new int[] {1, 346, 306, 414, 263, 304, 341}, true)).isEqualTo("Hello world");
        assertThat(tok.vocabSize()).isEqualTo(512);
    }

    @Test
    void mistralKnownFacts() {
        Tokenizer tok = Tokenizers.load(SharedFixtures.fixture("tokenizers/mistral"));
        assertThat(tok).isInstanceOf(HfTokenizer.class);
        assertThat(tok.encode("Hello world")).containsExactly(1, 22557, 1526);
        assertThat(tok.encode("Hello world", false)).containsExactly(22557, 1526);
        assertThat(tok.decode(new int[] {1, 22557, 1526})).isEqualTo("<s> Hello world");
        assertThat(tok.decode(new int[] {1, 22557, 1526}, true)).isEqualTo("Hello world");
        assertThat(tok.bosId()).isEqualTo(OptionalInt.of(1));
        assertThat(tok.eosIds()).containsExactly(2);
        assertThat(tok.specialTokenId("</s>")).isEqualTo(OptionalInt.of(2));
        assertThat(tok.specialTokenId("Hello")).isEmpty();
        assertThat(tok.vocabSize()).isEqualTo(32000);
        // a character outside the vocabulary falls back to its UTF-8 bytes <0xF0> <0xA0> <0x80> <0x80> = ids 243 163 131 131
        assertThat(tok.encode("𠀀", false)).containsExactly(28705, 243, 163, 131, 131);
    }

    @Test
    void qwen3KnownFacts() {
        Path dir = SharedFixtures.fixture("tokenizers/qwen3");
        HfTokenizer tok = (HfTokenizer) Tokenizers.load(dir);
        assertThat(tok.encode("<|im_start|>user\nhi<|im_end|>")).containsExactly(151644, 872, 198, 6023, 151645);
        assertThat(tok.decode(new int[] {151644, 872, 198, 6023, 151645}, true)).isEqualTo("user\nhi");
        assertThat(tok.decode(new int[] {151667, 151668}, true)).as("<think> is added but not special").isEqualTo("<think></think>");
        assertThat(tok.bosId()).isEmpty();
        assertThat(tok.eosIds()).containsExactly(151645);
        assertThat(tok.specialTokenId("<|im_start|>")).isEqualTo(OptionalInt.of(151644));
        assertThat(tok.specialTokenId("<think>")).isEqualTo(OptionalInt.of(151667));
        assertThat(tok.vocabSize()).isEqualTo(151669);
        assertThat(tok.chatTemplate()).get().asString().contains("<|im_start|>").contains("enable_thinking");
    }

    /** The 20 conversations of chat_cases.json, as rendered by transformers, encode as HF encodes them. */
    @Test
    void qwen3RenderedChatsAgreeWithHuggingFace() throws IOException {
        Path dir = SharedFixtures.fixture("tokenizers/qwen3");
        Tokenizer tok = Tokenizers.load(dir);
        JsonNode cases = JSON.readTree(dir.resolve("chat_cases.json").toFile()).get("cases");
        assertThat(cases).hasSize(20);
        try (HfOracle hf = HfOracle.load(dir.resolve(HfTokenizer.TOKENIZER_FILE))) {
            for (JsonNode c : cases) {
                String rendered = c.get("rendered").asText();
                int[] ids = tok.encode(rendered, false);
                assertThat(ids).as("encode %s", rendered).containsExactly(hf.encode(rendered, false));
                assertThat(tok.decode(ids)).isEqualTo(rendered);
            }
        }
    }

    @Test
    void loadPicksTheTokenizerOfTheFolder() {
        assertThat(Tokenizers.load(SharedFixtures.gpt2TokenizerDir())).isInstanceOf(Gpt2Tokenizer.class);
        assertThat(Tokenizers.present(SharedFixtures.fixture("tokenizers/qwen3"))).isTrue();
        Path none = SharedFixtures.fixture("tiny-random-gpt2");
        assertThat(Tokenizers.present(none)).isFalse();
        assertThatThrownBy(() -> Tokenizers.load(none)).isInstanceOf(ModelFormatException.class)
                .hasMessage(none + ": no tokenizer (expected tokenizer.json, or vocab.json and merges.txt)");
    }

    /**
     * A 1,000-token prompt encodes in milliseconds: words are cached, merges are a hash lookup, and a
     * SentencePiece-style text (one long word without a pre-tokenizer) merges in O(n log n).
     */
    @Test
    void thousandTokenPromptsEncodeInMilliseconds() {
        for (String name : List.of("tokenizers/mistral", "tokenizers/qwen3")) {
            Tokenizer tok = Tokenizers.load(SharedFixtures.fixture(name));
            StringBuilder prompt = new StringBuilder();
            for (int i = 0; tok.encode(prompt.toString()).length < 1000; i++) {
                prompt.append(TextCorpus.AWKWARD.get(100 + i % 60)).append(' ');
            }
            String text = prompt.toString();
            for (int i = 0; i < 30; i++) tok.encode(text); // warm-up
            List<Long> nanos = new ArrayList<>();
            for (int i = 0; i < 15; i++) {
                long t0 = System.nanoTime();
                tok.encode(text);
                nanos.add(System.nanoTime() - t0);
            }
            long median = nanos.stream().sorted().toList().get(nanos.size() / 2);
            assertThat(median / 1e6).as("%s: median ms for %d tokens", name, tok.encode(text).length).isLessThan(50);
        }
    }
}
