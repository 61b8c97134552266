package org.privllm.model.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Recreates GPT-2's {@code vocab.json} and {@code merges.txt} from jtokkit's {@code r50k_base}, which
 * is GPT-2's vocabulary as byte-string ranks (rank = GPT-2 id) without the merge list. A token's merge
 * is recovered by running BPE on its bytes with only the lower-ranked tokens: that stops at exactly
 * the two parts whose merge made it. Merges are written in the order of the tokens they produce.
 */
final class Gpt2VocabWriter {
    /** r50k_base holds ids 0..50255 as mergeable ranks; 50256 is {@code <|endoftext|>}. */
    static final int MERGEABLE_TOKENS = 50256;
    static final String MERGES_HEADER = "#version: 0.2";

    private Gpt2VocabWriter() {}

    static void write(Path dir) {
        Encoding r50k = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
        // Byte strings are held as Latin-1 strings: one char per byte, so they hash and concatenate.
        String[] tokens = new String[MERGEABLE_TOKENS];
        Map<String, Integer> ranks = new HashMap<>(MERGEABLE_TOKENS * 2);
        for (int id = 0; id < MERGEABLE_TOKENS; id++) {
            tokens[id] = new String(r50k.decodeBytes(single(id)), StandardCharsets.ISO_8859_1);
            ranks.put(tokens[id], id);
        }
        String eos = new String(r50k.decodeBytes(single(MERGEABLE_TOKENS)), StandardCharsets.UTF_8);
        if (!eos.equals(Gpt2Tokenizer.END_OF_TEXT)) {
            throw new IllegalStateException("jtokkit r50k_base: id " + MERGEABLE_TOKENS + " is not " + Gpt2Tokenizer.END_OF_TEXT);
        }

        Map<String, Integer> vocab = new LinkedHashMap<>();
        List<String> merges = new ArrayList<>(MERGEABLE_TOKENS);
        merges.add(MERGES_HEADER);
        for (int id = 0; id < MERGEABLE_TOKENS; id++) {
            vocab.put(byteUnicode(tokens[id]), id);
            if (tokens[id].length() < 2) continue;
            List<String> parts = mergeBelow(tokens[id], ranks, id);
            if (parts.size() != 2) {
                throw new IllegalStateException("jtokkit r50k_base: token " + id + " is not the merge of two lower-ranked tokens");
            }
            merges.add(byteUnicode(parts.get(0)) + " " + byteUnicode(parts.get(1)));
        }
        vocab.put(Gpt2Tokenizer.END_OF_TEXT, MERGEABLE_TOKENS);

        try {
            Files.createDirectories(dir);
            new ObjectMapper().writeValue(dir.resolve(Gpt2Tokenizer.VOCAB_FILE).toFile(), vocab);
            Files.writeString(dir.resolve(Gpt2Tokenizer.MERGES_FILE), String.join("\n", merges) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write GPT-2 tokenizer files to " + dir + ": " + e.getMessage(), e);
        }
    }

    /** tiktoken-style BPE of {@code token} using only ranks below {@code maxRank}. */
    static List<String> mergeBelow(String token, Map<String, Integer> ranks, int maxRank) {
        List<String> parts = new ArrayList<>(token.length());
        for (int i = 0; i < token.length(); i++) parts.add(token.substring(i, i + 1));
        while (true) {
            int best = -1;
            int bestRank = maxRank;
            for (int i = 0; i + 1 < parts.size(); i++) {
                Integer r = ranks.get(parts.get(i) + parts.get(i + 1));
                if (r != null && r < bestRank) {
                    bestRank = r;
                    best = i;
                }
            }
            if (best < 0) return parts;
            parts.set(best, parts.get(best) + parts.remove(best + 1));
        }
    }

    private static IntArrayList single(int id) {
        IntArrayList list = new IntArrayList(1);
        list.add(id);
        return list;
    }

    private static String byteUnicode(String latin1Bytes) {
        return ByteUnicode.encode(latin1Bytes.getBytes(StandardCharsets.ISO_8859_1));
    }
}
