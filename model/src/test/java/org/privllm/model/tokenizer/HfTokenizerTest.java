package org.privllm.model.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.model.ModelFormatException;
import org.privllm.testing.Cases;

/**
 * HfTokenizer on a tiny hand-written SentencePiece-style tokenizer.json (no shared fixtures needed):
 * the pipeline, the config files, streaming, and the one-line refusals.
 */
class HfTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /**
     * ids 0-2 {@code <unk> <s> </s>}, 3-258 the byte tokens, then ▁ a b c ▁a ab ▁ab bc é; merges ▁+a,
     * a+b, ▁a+b, b+c; ▁ normalizer, byte fallback, the Llama 2 decoder, a {@code <s> $A} template.
     */
    static ObjectNode tiny() {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.put("unk_token", "<unk>").put("fuse_unk", true).put("byte_fallback", true);
        ObjectNode vocab = model.putObject("vocab");
        vocab.put("<unk>", 0).put("<s>", 1).put("</s>", 2);
        for (int b = 0; b < 256; b++) vocab.put(String.format("<0x%02X>", b), 3 + b);
        String[] pieces = {"▁", "a", "b", "c", "▁a", "ab", "▁ab", "bc", "é"};
        for (int i = 0; i < pieces.length; i++) vocab.put(pieces[i], 259 + i);
        model.putArray("merges").add("▁ a").add("a b").add("▁a b").add(JSON.createArrayNode().add("b").add("c"));
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < 3; i++) {
            added.addObject().put("id", i).put("content", new String[] {"<unk>", "<s>", "</s>"}[i]).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }
        root.set("normalizer", json("""
                {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                 {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}"""));
        root.putNull("pre_tokenizer");
        root.set("post_processor", json("""
                {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}}], "pair": [],
                 "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}"""));
        root.set("decoder", json("""
                {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                 {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}"""));
        return root;
    }

    private HfTokenizer load(ObjectNode tokenizerJson) throws IOException {
        JSON.writeValue(dir.resolve(HfTokenizer.TOKENIZER_FILE).toFile(), tokenizerJson);
        return HfTokenizer.load(dir);
    }

    @Test
    void encodesAndDecodesLikeSentencePiece() throws IOException {
        HfTokenizer tok = load(tiny());
        assertThat(tok.encode("ab c")).containsExactly(1, 265, 259, 262); // ▁ab ▁ c
        assertThat(tok.encode("ab c", false)).containsExactly(265, 259, 262);
        assertThat(tok.encode("日", false)).containsExactly(259, 3 + 0xE6, 3 + 0x97, 3 + 0xA5); // byte fallback
        assertThat(tok.decode(new int[] {1, 265, 259, 262})).isEqualTo("<s> ab c");
        assertThat(tok.decode(new int[] {1, 265, 259, 262}, true)).isEqualTo("ab c");
        assertThat(tok.decode(new int[] {259, 3 + 0xE6, 3 + 0x97, 3 + 0xA5})).isEqualTo("日");
        // an invalid byte run becomes one U+FFFD per byte (not lossy UTF-8's one per maximal subpart)
        assertThat(tok.decode(new int[] {260, 3 + 0xE6, 3 + 0x97, 260})).isEqualTo("a\uFFFD\uFFFDa");
        assertThat(tok.encode("")).containsExactly(1);
        assertThat(tok.encode("a</s>b", false)).containsExactly(263, 2, 259, 261); // text after a special token gets its own ▁
        assertThat(tok.vocabSize()).isEqualTo(268);
    }

    @Test
    void unpairedSurrogatesReadAsReplacementCharacters() throws IOException {
        HfTokenizer tok = load(tiny());
        assertThat(tok.encode("a\ud800b")).containsExactly(tok.encode("a\uFFFDb"));
        assertThat(tok.encode("\udc00")).containsExactly(tok.encode("\uFFFD"));
        assertThat(tok.encode("\ud83d\ude00")).containsExactly(tok.encode("😀")); // a pair is one character
    }

    @Test
    void unknownCharactersFuseIntoOneUnknownTokenWithoutByteFallback() throws IOException {
        ObjectNode t = tiny();
        ((ObjectNode) t.get("model")).put("byte_fallback", false);
        assertThat(load(t).encode("a日本c", false)).containsExactly(263, 0, 262);
        ((ObjectNode) t.get("model")).put("fuse_unk", false);
        assertThat(load(t).encode("a日本c", false)).containsExactly(263, 0, 0, 262);
    }

    @Test
    void configGivesBosEosTemplateAndChatTemplate() throws IOException {
        Files.writeString(dir.resolve(HfTokenizer.CONFIG_FILE), """
                {"add_bos_token": true, "add_eos_token": true,
                 "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
                 "eos_token": "</s>",
                 "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "{{ messages }}"}]}""");
        Files.writeString(dir.resolve(GenerationConfig.FILE), "{\"eos_token_id\": [2, 0]}");
        HfTokenizer tok = load(tiny());
        assertThat(tok.encode("ab")).containsExactly(1, 265, 2);
        assertThat(tok.encode("ab", false)).containsExactly(265);
        assertThat(tok.bosId()).isEqualTo(OptionalInt.of(1));
        assertThat(tok.eosIds()).containsExactly(2, 0);
        assertThat(tok.chatTemplate()).contains("{{ messages }}");
        assertThat(tok.specialTokenId("</s>")).isEqualTo(OptionalInt.of(2));
    }

    @Test
    void chatTemplateMayComeFromItsOwnFile() throws IOException {
        Files.writeString(dir.resolve(TokenizerConfig.CHAT_TEMPLATE_FILE), "{% for m in messages %}{{ m }}{% endfor %}");
        assertThat(load(tiny()).chatTemplate()).contains("{% for m in messages %}{{ m }}{% endfor %}");
        assertThat(load(tiny()).eosIds()).isEmpty();
    }

    static Stream<Arguments> streamCases() {
        return Cases.of(200, 41_000, d -> {
            int[] ids = new int[1 + d.rnd().nextInt(30)];
            for (int i = 0; i < ids.length; i++) {
                int kind = d.rnd().nextInt(4);
                ids[i] = kind == 0 ? d.rnd().nextInt(3) : kind == 1 ? 259 + d.rnd().nextInt(9)
                        : 3 + (d.rnd().nextBoolean() ? 0xC0 + d.rnd().nextInt(0x38) : 0x80 + d.rnd().nextInt(0x40)); // leads and continuations
            }
            return new Object[] {ids, d.bool()};
        });
    }

    /** Random ids, byte runs cut anywhere: the streamed pieces are decode's text, piece by piece. */
    @ParameterizedTest
    @MethodSource("streamCases")
    void streamingEqualsDecode(int[] ids, boolean skipSpecialTokens) throws IOException {
        StreamingProperty.check(load(tiny()), ids, skipSpecialTokens);
    }

    @Test
    void streamingHoldsAByteRunUntilItEnds() throws IOException {
        StreamDecoder stream = load(tiny()).streamDecoder();
        assertThat(stream.push(1)).isEqualTo("<s>");
        assertThat(stream.push(259)).isEqualTo(" ");
        assertThat(stream.push(3 + 0xE6)).isEmpty();
        assertThat(stream.push(3 + 0x97)).isEmpty();
        assertThat(stream.push(3 + 0xA5)).isEmpty(); // complete, but a later byte could still spoil the run
        assertThat(stream.push(260)).isEqualTo("日a");
        assertThat(stream.push(3 + 0xE6)).isEmpty();
        assertThat(stream.flush()).isEqualTo("\uFFFD");
        assertThat(stream.push(259)).as("a new text after flush: its leading space is stripped again").isEmpty();
        assertThat(stream.push(260)).isEqualTo("a");
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("model", "{\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}", "model: type Unigram is not supported"),
                Arguments.of("model", "{\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}", "model: type WordPiece is not supported"),
                Arguments.of("normalizer", "{\"type\": \"BertNormalizer\"}", "normalizer: type BertNormalizer is not supported"),
                Arguments.of("normalizer", "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Precompiled\"}]}",
                        "normalizer.normalizers[0]: type Precompiled is not supported"),
                Arguments.of("pre_tokenizer", "{\"type\": \"BertPreTokenizer\"}", "pre_tokenizer: type BertPreTokenizer is not supported"),
                Arguments.of("pre_tokenizer", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\\\\Kb\"}, \"behavior\": \"Isolated\"}",
                        "the escape \\K is not supported"),
                Arguments.of("pre_tokenizer", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Sideways\"}",
                        "unknown split behavior 'Sideways'"),
                Arguments.of("pre_tokenizer", "{\"type\": \"Metaspace\", \"replacement\": \"▁\", \"add_prefix_space\": false}",
                        "add_prefix_space does not match declared prepend_scheme"),
                Arguments.of("decoder", "{\"type\": \"CTC\"}", "decoder: type CTC is not supported"),
                Arguments.of("post_processor", "{\"type\": \"RobertaProcessing\"}", "post_processor: type RobertaProcessing is not supported"));
    }

    @ParameterizedTest
    @MethodSource("refusals")
    void unsupportedPartsAreOneLineErrorsNamingThem(String part, String value, String message) throws IOException {
        ObjectNode t = tiny();
        if (part.equals("model")) t.set("model", json(value));
        else t.set(part, json(value));
        assertThatThrownBy(() -> load(t)).isInstanceOf(ModelFormatException.class)
                .hasMessageStartingWith(dir.resolve(HfTokenizer.TOKENIZER_FILE).toString())
                .hasMessageContaining(message)
                .hasMessageNotContaining("\n");
    }

    static Stream<Arguments> malformedModels() {
        return Stream.of(
                Arguments.of("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}", "model.merges[0]: expected two tokens"),
                Arguments.of("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}",
                        "model.merges[0]: token 'b' is not in the vocabulary"),
                Arguments.of("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}", "id 0 is used by more than one token"),
                Arguments.of("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": 0.1}", "makes encoding random"),
                Arguments.of("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"unk_token\": \"<unk>\"}",
                        "model.unk_token: '<unk>' is not in the vocabulary"));
    }

    @ParameterizedTest
    @MethodSource("malformedModels")
    void malformedModelsAreOneLineErrors(String model, String message) throws IOException {
        ObjectNode t = tiny();
        t.set("model", json(model));
        t.putArray("added_tokens");
        t.putNull("post_processor");
        assertThatThrownBy(() -> load(t)).isInstanceOf(ModelFormatException.class).hasMessageContaining(message);
    }

    @Test
    void unreadableFilesAreOneLineErrors() throws IOException {
        assertThatThrownBy(() -> Tokenizers.load(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessage(dir + ": no tokenizer (expected tokenizer.json, or vocab.json and merges.txt)");
        assertThatThrownBy(() -> Tokenizers.load(dir.resolve("nope"))).hasMessage(dir.resolve("nope") + ": not a directory");
        Files.writeString(dir.resolve(HfTokenizer.TOKENIZER_FILE), "{\"model\": ");
        assertThatThrownBy(() -> Tokenizers.load(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("tokenizer.json: invalid JSON at line 1").hasMessageNotContaining("\n");
        JSON.writeValue(dir.resolve(HfTokenizer.TOKENIZER_FILE).toFile(), tiny());
        Files.writeString(dir.resolve(HfTokenizer.CONFIG_FILE), "{\"eos_token\": \"<nope>\"}");
        assertThatThrownBy(() -> Tokenizers.load(dir)).hasMessageContaining("eos_token '<nope>' is not in the vocabulary");
        Files.writeString(dir.resolve(HfTokenizer.CONFIG_FILE), "{\"add_eos_token\": true}");
        assertThatThrownBy(() -> Tokenizers.load(dir)).hasMessageContaining("add_eos_token is true but eos_token is not set");
    }

    @Test
    void decodeDropsIdsWithoutATokenAndRejectsNegativeOnes() throws IOException {
        HfTokenizer tok = load(tiny());
        // as HuggingFace: an id past the vocabulary (a padded embedding's row a model may sample) adds no text
        int[] ids = tok.encode("hello");
        int[] withPadding = java.util.Arrays.copyOf(ids, ids.length + 2);
        withPadding[ids.length] = 268;
        withPadding[ids.length + 1] = 100_000;
        assertThat(tok.decode(withPadding)).isEqualTo(tok.decode(ids));
        var stream = tok.streamDecoder();
        StringBuilder text = new StringBuilder();
        for (int id : withPadding) {
            text.append(stream.push(id));
        }
        assertThat(text.append(stream.flush()).toString()).isEqualTo(tok.decode(ids));
        assertThatThrownBy(() -> tok.decode(new int[] {-1})).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("token id -1 is negative");
        assertThatThrownBy(() -> tok.streamDecoder().push(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * GPT-2's vocabulary written as HuggingFace's GPT-2 tokenizer.json (ByteLevel pre-tokenizer with the GPT-2
     * regex, ByteLevel decoder, {@code <|endoftext|>} added) encodes and decodes as {@link Gpt2Tokenizer} and as
     * HuggingFace's library does with that file.
     */
    @Test
    void gpt2AsTokenizerJsonAgreesWithGpt2Tokenizer() throws IOException {
        Path gpt2Dir = Files.createDirectories(dir.resolve("gpt2"));
        Gpt2Tokenizer.writeGpt2Files(gpt2Dir);
        Gpt2Tokenizer gpt2 = Gpt2Tokenizer.load(gpt2Dir);
        ObjectNode root = JSON.createObjectNode();
        ObjectNode model = root.putObject("model").put("type", "BPE");
        model.set("vocab", JSON.readTree(gpt2Dir.resolve(Gpt2Tokenizer.VOCAB_FILE).toFile()));
        ArrayNode merges = model.putArray("merges");
        Files.readAllLines(gpt2Dir.resolve(Gpt2Tokenizer.MERGES_FILE)).stream()
                .filter(l -> !l.isEmpty() && !l.startsWith("#version")).forEach(merges::add);
        root.putArray("added_tokens").addObject().put("id", 50256).put("content", "<|endoftext|>").put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        root.putNull("normalizer");
        root.set("pre_tokenizer", json("{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}"));
        root.set("post_processor", json("{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true}"));
        root.set("decoder", json("{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true}"));
        HfTokenizer hf = load(root);
        assertThat(hf.vocabSize()).isEqualTo(gpt2.vocabSize());
        // HuggingFace's library too: this needs no shared fixtures, so the native oracle loads (or fails) on every run
        try (HfOracle oracle = HfOracle.load(dir.resolve(HfTokenizer.TOKENIZER_FILE))) {
            for (String s : TextCorpus.corpus(99, 1500)) {
                int[] ids = gpt2.encode(s);
                assertThat(hf.encode(s)).as("encode %s", HfTokenizerDifferentialTest.escape(s)).containsExactly(ids);
                assertThat(oracle.encode(s, true)).as("HF encode %s", HfTokenizerDifferentialTest.escape(s)).containsExactly(ids);
                assertThat(hf.decode(ids)).isEqualTo(gpt2.decode(ids)).isEqualTo(oracle.decode(ids, false));
                assertThat(hf.decode(ids, true)).isEqualTo(gpt2.decode(ids, true)).isEqualTo(oracle.decode(ids, true));
                StreamingProperty.check(gpt2, ids, true);
            }
        }
    }

    private static com.fasterxml.jackson.databind.JsonNode json(String s) {
        try {
            return JSON.readTree(s);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
