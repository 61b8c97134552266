package org.privllm.model.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * privllm's {@link HfTokenizer} against HuggingFace's own library ({@link HfOracle}) on the real
 * tokenizers in {@code shared/fixtures}: Mistral's (SentencePiece-style: ▁ normalizer, byte fallback,
 * {@code <s>} template) and Qwen3's (byte-level BPE, NFC, a Split regex, 26 added tokens), plus the small
 * stories260k one. For each, {@value #STRINGS} strings ({@link TextCorpus}): encode with and without
 * special tokens, decode of HF's ids with and without skipping special tokens; then random id sequences:
 * decode, and streaming decode equal to decode with no piece ending inside a character.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HfTokenizerDifferentialTest {
    static final int STRINGS = 2500;
    static final int ID_SEQUENCES = 1500;
    private static final long SEED = 20261130L;

    static Stream<String> tokenizers() {
        return Stream.of("tokenizers/mistral", "tokenizers/qwen3", "stories260k");
    }

    private final List<String> corpus = TextCorpus.corpus(SEED, STRINGS);

    @BeforeAll
    void corpusIsLargeEnough() {
        assertThat(corpus).hasSize(STRINGS);
    }

    @ParameterizedTest
    @MethodSource("tokenizers")
    void encodeAndDecodeAgreeWithHuggingFace(String name) {
        Path dir = SharedFixtures.fixture(name);
        HfTokenizer ours = HfTokenizer.load(dir);
        List<String> failures = new ArrayList<>();
        int compared = 0;
        try (HfOracle hf = HfOracle.load(dir.resolve(HfTokenizer.TOKENIZER_FILE))) {
            for (int i = 0; i < corpus.size(); i++) {
                String s = corpus.get(i);
                for (boolean special : new boolean[] {true, false}) {
                    int[] expected = hf.encode(s, special);
                    int[] actual = ours.encode(s, special);
                    if (!Arrays.equals(expected, actual)) {
                        failures.add("#" + i + " encode(" + escape(s) + ", " + special + "): HF " + Arrays.toString(expected)
                                + " ours " + Arrays.toString(actual));
                    }
                    for (boolean skip : new boolean[] {false, true}) {
                        String want = hf.decode(expected, skip);
                        String got = ours.decode(expected, skip);
                        if (!want.equals(got)) {
                            failures.add("#" + i + " decode(" + Arrays.toString(expected) + ", skip=" + skip + "): HF "
                                    + escape(want) + " ours " + escape(got));
                        }
                    }
                }
                compared++;
            }
        }
        assertThat(compared).isEqualTo(STRINGS);
        assertThat(failures).as("%d differences from HuggingFace over %d strings (4 encodes/decodes each)",
                failures.size(), compared).isEmpty();
    }

    @ParameterizedTest
    @MethodSource("tokenizers")
    void decodeOfRandomIdsAgreesWithHuggingFace(String name) {
        Path dir = SharedFixtures.fixture(name);
        HfTokenizer ours = HfTokenizer.load(dir);
        List<String> failures = new ArrayList<>();
        try (HfOracle hf = HfOracle.load(dir.resolve(HfTokenizer.TOKENIZER_FILE))) {
            for (int i = 0; i < ID_SEQUENCES; i++) {
                int[] ids = randomIds(ours, new SplittableRandom(SEED + i));
                for (boolean skip : new boolean[] {false, true}) {
                    String want = hf.decode(ids, skip);
                    String got = ours.decode(ids, skip);
                    if (!want.equals(got)) {
                        failures.add("#" + i + " decode(" + Arrays.toString(ids) + ", skip=" + skip + "): HF " + escape(want)
                                + " ours " + escape(got));
                    }
                }
            }
        }
        assertThat(failures).as("%d of %d decodes (%d id sequences, skip false/true) differ from HuggingFace",
                failures.size(), 2 * ID_SEQUENCES, ID_SEQUENCES).isEmpty();
    }

    @ParameterizedTest
    @MethodSource("tokenizers")
    void streamingDecodeEqualsDecodeAndNeverSplitsACharacter(String name) {
        HfTokenizer ours = HfTokenizer.load(SharedFixtures.fixture(name));
        List<int[]> sequences = new ArrayList<>();
        for (int i = 0; i < ID_SEQUENCES; i++) sequences.add(randomIds(ours, new SplittableRandom(SEED + i)));
        for (String s : corpus.subList(0, 600)) sequences.add(ours.encode(s));
        for (int[] ids : sequences) {
            for (boolean skip : new boolean[] {false, true}) StreamingProperty.check(ours, ids, skip);
        }
    }

    /** Characters most vocabularies lack whole: their ids are byte tokens ({@code <0xHH>} or byte-level ones). */
    private static final String[] RARE = {"𠀀", "🫠", "ꦗ", "ᚠ", "𝔘", "€", "ǅ", "؀"};

    /**
     * Ids a generator might produce and the awkward ones: uniform over the vocabulary, single byte tokens
     * of rare characters (so that characters straddle tokens and byte runs end anywhere), the added and
     * special tokens, and ids of some text.
     */
    static int[] randomIds(Tokenizer tok, SplittableRandom rnd) {
        int n = 1 + rnd.nextInt(40);
        int[] ids = new int[n];
        int[] text = tok.encode(TextCorpus.random(rnd), false);
        for (int i = 0; i < n; i++) {
            int kind = rnd.nextInt(10);
            if (kind < 3) {
                ids[i] = rnd.nextInt(tok.vocabSize());
            } else if (kind < 6) {
                int[] bytes = tok.encode(RARE[rnd.nextInt(RARE.length)], false);
                ids[i] = bytes.length == 0 ? rnd.nextInt(tok.vocabSize()) : bytes[rnd.nextInt(bytes.length)];
            } else if (kind < 7) {
                ids[i] = tok.vocabSize() - 1 - rnd.nextInt(Math.min(30, tok.vocabSize())); // added tokens sit at the end
            } else if (kind < 8) {
                ids[i] = rnd.nextInt(Math.min(3, tok.vocabSize())); // <unk> <s> </s> in Llama-style vocabularies
            } else {
                ids[i] = text.length == 0 ? 0 : text[rnd.nextInt(text.length)];
            }
        }
        return ids;
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp >= 0x20 && cp < 0x7F && cp != '"' && cp != '\\') sb.append((char) cp);
            else if (cp < 0x10000) sb.append(String.format("\\u%04x", cp));
            else sb.append(String.format("\\U%06x", cp));
        });
        return sb.append('"').toString();
    }
}
