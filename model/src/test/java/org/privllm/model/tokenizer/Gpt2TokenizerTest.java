package org.privllm.model.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.privllm.model.ModelFormatException;

class Gpt2TokenizerTest {
    @TempDir
    static Path gpt2Dir;

    static Gpt2Tokenizer tok;

    @BeforeAll
    static void writeAndLoad() {
        Gpt2Tokenizer.writeGpt2Files(gpt2Dir);
        tok = Gpt2Tokenizer.load(gpt2Dir);
    }

    @Test
    void knownEncodings() {
        assertThat(tok.encode("The quick brown fox.")).containsExactly(464, 2068, 7586, 21831, 13);
        assertThat(tok.encode("Hello World")).containsExactly(15496, 2159);
        assertThat(tok.encode("<|endoftext|>")).containsExactly(50256);
        assertThat(tok.encode("")).isEmpty();
        assertThat(tok.vocabSize()).isEqualTo(50257);
        assertThat(tok.eosId()).isEqualTo(50256);
    }

    @Test
    void endOfTextInsideTextIsSplitOutWithoutStrippingSpaces() {
        int[] expected = concat(tok.encode("Hi "), new int[] {50256}, tok.encode(" there"), new int[] {50256});
        assertThat(tok.encode("Hi <|endoftext|> there<|endoftext|>")).containsExactly(expected);
        assertThat(tok.decode(expected)).isEqualTo("Hi <|endoftext|> there<|endoftext|>");
    }

    @Test
    void roundTrips() {
        for (String s : List.of("", " ", "  \n\t\r\n ", "The quick brown fox.", "naïve café 😀👨‍👩‍👧 🇩🇪",
                "日本語のテキスト", "don't I'LL we've", "for (int i = 0; i < n; i++) {\n    x += 1;\n}\n",
                "a<|endoftext|>b", "\u0000\u001f\u00a0\u3000\ud83e\udd16 tail   ")) {
            assertThat(tok.decode(tok.encode(s))).as("round trip of %s", s).isEqualTo(s);
        }
    }

    @Test
    void decodeDropsIdsWithoutATokenAndRejectsNegativeOnes() {
        // a checkpoint's embedding padded past GPT-2's 50257 tokens (50304 rows, as nanoGPT's): those ids add no text
        int[] ids = tok.encode("Hello world");
        assertThat(tok.decode(new int[] {ids[0], 50257, 50303, ids[1]})).isEqualTo("Hello world");
        var stream = tok.streamDecoder();
        StringBuilder text = new StringBuilder();
        for (int id : new int[] {ids[0], 50300, ids[1]}) {
            text.append(stream.push(id));
        }
        assertThat(text.append(stream.flush()).toString()).isEqualTo("Hello world");
        assertThatThrownBy(() -> tok.decode(new int[] {-1})).isInstanceOf(IllegalArgumentException.class);
    }

    /** Expected strings are what Python's bytes.decode("utf-8", "replace") returns for the same bytes. */
    @ParameterizedTest
    @CsvSource({
        "f09f98, fffd", "f09f9841, fffd 41", "e282, fffd", "f08080, fffd fffd fffd", "eda080, fffd fffd fffd",
        "c0af, fffd fffd", "fffe41, fffd fffd 41", "e09f80, fffd fffd fffd", "f4908080, fffd fffd fffd fffd",
        "8080, fffd fffd", "e282ac58, 20ac 58", "f09f9880, 1f600", "c3, fffd", "61c3a9e2, 61 e9 fffd", "f580, fffd fffd"
    })
    void invalidUtf8DecodesLikePython(String hexBytes, String expectedCodePoints) {
        byte[] bytes = HexFormat.of().parseHex(hexBytes);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) ids[i] = byteId(bytes[i] & 0xFF);
        String expected = Arrays.stream(expectedCodePoints.split(" "))
                .map(h -> Character.toString(Integer.parseInt(h, 16))).reduce("", String::concat);
        assertThat(tok.decode(ids)).isEqualTo(expected);
        assertThat(streamed(ids)).isEqualTo(expected);
    }

    @Test
    void streamDecoderHoldsBackSplitCharacters() {
        String text = "ok 🤖🦜 👩‍🔬 ünïcödé 漢字 🇯🇵!";
        int[] ids = tok.encode(text);
        StreamDecoder stream = tok.streamDecoder();
        StringBuilder sb = new StringBuilder();
        boolean heldBack = false;
        for (int id : ids) {
            String piece = stream.push(id);
            heldBack |= piece.isEmpty();
            assertThat(piece).doesNotContain("\uFFFD");
            sb.append(piece);
        }
        sb.append(stream.flush());
        assertThat(heldBack).as("some emoji spans several tokens").isTrue();
        assertThat(sb.toString()).isEqualTo(tok.decode(ids)).isEqualTo(text);
    }

    @Test
    void streamDecoderEqualsDecodeOnArbitraryIds() {
        var random = new java.util.Random(7);
        for (int trial = 0; trial < 300; trial++) {
            int[] ids = new int[random.nextInt(12)];
            for (int i = 0; i < ids.length; i++) {
                // mostly single bytes (0..255 are byte tokens), so sequences are often cut or invalid
                ids[i] = random.nextInt(4) == 0 ? random.nextInt(tok.vocabSize()) : random.nextInt(256);
            }
            assertThat(streamed(ids)).as("ids %s", Arrays.toString(ids)).isEqualTo(tok.decode(ids));
        }
    }

    @Test
    void writtenFilesEqualSharedGpt2Files() throws IOException {
        Path shared = SharedFixtures.gpt2TokenizerDir();
        var json = new ObjectMapper();
        var type = new TypeReference<Map<String, Integer>>() {};
        Map<String, Integer> expectedVocab = json.readValue(shared.resolve("vocab.json").toFile(), type);
        assertThat(json.readValue(gpt2Dir.resolve("vocab.json").toFile(), type)).isEqualTo(expectedVocab);
        List<String> expectedMerges = Files.readAllLines(shared.resolve("merges.txt"));
        assertThat(Files.readAllLines(gpt2Dir.resolve("merges.txt"))).isEqualTo(expectedMerges);
    }

    @Test
    void recordedCases() throws IOException {
        Path shared = SharedFixtures.gpt2TokenizerDir();
        Path inp = shared.resolve("cases.inp");
        Path out = shared.resolve("cases.out");
        assumeTrue(Files.isRegularFile(inp) && Files.isRegularFile(out), "no recorded cases");
        // Each text is followed by "\n__ggml_vocab_test__\n"; each output line is " id id ..." (empty for no ids).
        List<String> texts = new ArrayList<>(Arrays.asList(
                Files.readString(inp, StandardCharsets.UTF_8).split(Pattern.quote("\n__ggml_vocab_test__\n"), -1)));
        assertThat(texts.removeLast()).isEmpty();
        List<String> lines = new ArrayList<>(Arrays.asList(Files.readString(out, StandardCharsets.UTF_8).split("\n", -1)));
        assertThat(lines.removeLast()).isEmpty();
        assertThat(texts).hasSize(lines.size()).hasSizeGreaterThan(10);
        Gpt2Tokenizer shippedFiles = Gpt2Tokenizer.load(shared);
        for (int i = 0; i < texts.size(); i++) {
            String line = lines.get(i).strip();
            int[] expected = line.isEmpty() ? new int[0] : Arrays.stream(line.split(" ")).mapToInt(Integer::parseInt).toArray();
            assertThat(tok.encode(texts.get(i))).as("case %d: %s", i, texts.get(i)).containsExactly(expected);
            assertThat(shippedFiles.encode(texts.get(i))).as("case %d with shared files", i).containsExactly(expected);
            assertThat(tok.decode(expected)).isEqualTo(texts.get(i));
        }
    }

    @Test
    void presentNeedsBothFiles(@TempDir Path dir) throws IOException {
        assertThat(Gpt2Tokenizer.present(gpt2Dir)).isTrue();
        assertThat(Gpt2Tokenizer.present(dir)).isFalse();
        Files.copy(gpt2Dir.resolve("vocab.json"), dir.resolve("vocab.json"));
        assertThat(Gpt2Tokenizer.present(dir)).isFalse();
    }

    @Test
    void truncatedVocabJson(@TempDir Path dir) throws IOException {
        byte[] vocab = Files.readAllBytes(gpt2Dir.resolve("vocab.json"));
        Files.write(dir.resolve("vocab.json"), Arrays.copyOf(vocab, vocab.length / 2));
        Files.copy(gpt2Dir.resolve("merges.txt"), dir.resolve("merges.txt"));
        assertLoadFails(dir, "vocab.json", "invalid vocabulary JSON");
    }

    @Test
    void missingMerges(@TempDir Path dir) throws IOException {
        writeSmallVocabulary(dir, "#version: 0.2\n");
        Files.delete(dir.resolve("merges.txt"));
        assertLoadFails(dir, "merges.txt", "not found");
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n");
        assertLoadFails(dir, "merges.txt", "no merges");
    }

    @Test
    void missingVocab(@TempDir Path dir) throws IOException {
        writeSmallVocabulary(dir, "#version: 0.2\nĠ t\n");
        Files.delete(dir.resolve("vocab.json"));
        assertLoadFails(dir, "vocab.json", "not found");
    }

    @Test
    void malformedMergeLines(@TempDir Path dir) throws IOException {
        writeSmallVocabulary(dir, "#version: 0.2\nĠ t\nĠt\n");
        assertLoadFails(dir, "merges.txt: line 3", "two tokens");
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\nĠ t\nzzzq x\n");
        assertLoadFails(dir, "merges.txt: line 3", "'zzzq' is not in vocab.json");
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\nĠ t\nĠ t\n");
        assertLoadFails(dir, "merges.txt: line 3", "duplicate merge");
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\nt h\n");
        assertLoadFails(dir, "merges.txt: line 2", "'th' is not in vocab.json");
    }

    /** A small non-GPT-2 vocabulary: merges apply by rank, all occurrences of the best pair per round. */
    @Test
    void smallByteLevelVocabulary(@TempDir Path dir) throws IOException {
        writeSmallVocabulary(dir, "#version: 0.2\nĠ t\nh e\nĠt he\na a\n");
        Gpt2Tokenizer small = Gpt2Tokenizer.load(dir);
        assertThat(small.vocabSize()).isEqualTo(260);
        assertThat(small.eosId()).isEqualTo(-1);
        assertThat(small.encode(" the")).containsExactly(258);
        assertThat(small.encode("aaaaa")).containsExactly(259, 259, 'a' - '!');
        assertThat(small.encode("<|endoftext|>")).hasSize(13); // plain text without the special token
        assertThat(small.decode(small.encode(" the aaa"))).isEqualTo(" the aaa");
    }

    @Test
    void vocabularyProblems(@TempDir Path dir) throws IOException {
        writeSmallVocabulary(dir, "#version: 0.2\nĠ t\n");
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0, \"b\": \"x\"}");
        assertLoadFails(dir, "vocab.json", "invalid vocabulary JSON");
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0, \"b\": 0}");
        assertLoadFails(dir, "vocab.json", "id 0 is used by more than one token");
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0, \"a\": 1}");
        assertLoadFails(dir, "vocab.json", "invalid vocabulary JSON");
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 2000000000}");
        assertLoadFails(dir, "vocab.json", "largest id 2000000000");
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": -3}");
        assertLoadFails(dir, "vocab.json", "non-negative");
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0}");
        assertLoadFails(dir, "vocab.json", "no token for byte 0x00");
        Files.writeString(dir.resolve("vocab.json"), "[1, 2]");
        assertLoadFails(dir, "vocab.json", "invalid vocabulary JSON");
    }

    /** The 256 byte tokens in GPT-2's order (ids 0..255), the given merges' results from 256 on. */
    private static void writeSmallVocabulary(Path dir, String merges) throws IOException {
        Map<String, Integer> vocab = new java.util.LinkedHashMap<>();
        for (int id = 0; id < 256; id++) vocab.put(ByteUnicode.encode(tok.tokenBytes(id)), id);
        for (String line : merges.split("\n")) {
            String[] pair = line.split(" ");
            if (!line.startsWith("#") && pair.length == 2) vocab.putIfAbsent(pair[0] + pair[1], vocab.size());
        }
        new ObjectMapper().writeValue(dir.resolve("vocab.json").toFile(), vocab);
        Files.writeString(dir.resolve("merges.txt"), merges);
    }

    private static void assertLoadFails(Path dir, String... fragments) {
        assertThatThrownBy(() -> Gpt2Tokenizer.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .satisfies(e -> assertThat(e.getMessage()).contains(fragments).doesNotContain("\n", "\r"));
    }

    private static String streamed(int[] ids) {
        StreamDecoder stream = tok.streamDecoder();
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(stream.push(id));
        return sb.append(stream.flush()).toString();
    }

    private static int byteId(int b) {
        // The single-byte token for byte b is the one whose bytes are exactly {b}.
        for (int id = 0; id < 256; id++) {
            if (tok.tokenBytes(id).length == 1 && (tok.tokenBytes(id)[0] & 0xFF) == b) return id;
        }
        throw new AssertionError("no byte token for " + b);
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }
}
