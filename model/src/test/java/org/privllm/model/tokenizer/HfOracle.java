package org.privllm.model.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * HuggingFace's own tokenizers library (Rust, 0.21 as wrapped by DJL 0.38), the oracle of the
 * differential tests. DJL copies the native library out of its jar into {@code ~/.djl.ai} and loads
 * it; nothing is downloaded ({@code ai.djl.offline}). If the library cannot load, the test fails —
 * it is never skipped. Truncation and padding, which DJL turns on by default (512 tokens), are off.
 */
final class HfOracle implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;

    private HfOracle(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    static HfOracle load(Path tokenizerJson) {
        System.setProperty("ai.djl.offline", "true");
        try {
            return new HfOracle(HuggingFaceTokenizer.newInstance(tokenizerJson,
                    Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "true")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * HF's ids for {@code text}. DJL hands Java strings to Rust as modified UTF-8 and turns a string with
     * an unpaired surrogate into U+FFFD garbage as a whole, so the oracle gets the U+FFFD-for-each-
     * unpaired-surrogate string that privllm documents as its reading of such input.
     */
    int[] encode(String text, boolean addSpecialTokens) {
        long[] ids = tokenizer.encode(withoutLoneSurrogates(text), addSpecialTokens, false).getIds();
        return Arrays.stream(ids).mapToInt(Math::toIntExact).toArray();
    }

    String decode(int[] ids, boolean skipSpecialTokens) {
        return tokenizer.decode(Arrays.stream(ids).asLongStream().toArray(), skipSpecialTokens);
    }

    /** Test-side twin of the rule under test, written independently: each unpaired surrogate → U+FFFD. */
    static String withoutLoneSurrogates(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        s.codePoints().forEach(cp -> sb.appendCodePoint(cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp));
        return sb.toString();
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
