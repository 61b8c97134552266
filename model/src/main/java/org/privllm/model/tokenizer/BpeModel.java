package org.privllm.model.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * tokenizer.json's {@code BPE} model, as HuggingFace's {@code BPE::tokenize}: a word starts as one
 * symbol per character (with {@code continuing_subword_prefix} on all but the first and
 * {@code end_of_word_suffix} on the last); a character outside the vocabulary becomes its UTF-8 byte
 * tokens {@code <0xHH>} ({@code byte_fallback}) or the unknown token (consecutive ones fused into one
 * with {@code fuse_unk}), or is dropped when there is none; then {@link BpeMerges} merges. With
 * {@code ignore_merges} (Llama 3) a word that is itself in the vocabulary is that one token.
 */
final class BpeModel {
    /** Words longer than this are not cached, so odd inputs cannot bloat the cache. */
    private static final int MAX_CACHED_WORD = 64;
    private static final int MAX_CACHE_ENTRIES = 100_000;

    private final Map<String, Integer> vocab;
    private final BpeMerges merges;
    private final int unkId; // -1: none
    private final boolean fuseUnk;
    private final int[] byteIds; // id of <0xHH> per byte, -1 where missing; null without byte_fallback
    private final boolean ignoreMerges;
    private final String continuingSubwordPrefix; // null: none
    private final String endOfWordSuffix; // null: none
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    BpeModel(Map<String, Integer> vocab, BpeMerges merges, int unkId, boolean fuseUnk, boolean byteFallback,
            boolean ignoreMerges, String continuingSubwordPrefix, String endOfWordSuffix) {
        this.vocab = vocab;
        this.merges = merges;
        this.unkId = unkId;
        this.fuseUnk = fuseUnk;
        this.ignoreMerges = ignoreMerges;
        this.continuingSubwordPrefix = continuingSubwordPrefix;
        this.endOfWordSuffix = endOfWordSuffix;
        if (byteFallback) {
            byteIds = new int[256];
            for (int b = 0; b < 256; b++) byteIds[b] = vocab.getOrDefault(String.format("<0x%02X>", b), -1);
        } else {
            byteIds = null;
        }
    }

    /** Appends the ids of {@code word} to {@code out}. */
    void tokenize(String word, IntList out) {
        if (word.isEmpty()) return;
        if (ignoreMerges) {
            Integer id = vocab.get(word);
            if (id != null) {
                out.add(id);
                return;
            }
        }
        int[] ids = cache.get(word);
        if (ids == null) {
            ids = merges.merge(symbols(word));
            if (word.length() <= MAX_CACHED_WORD) {
                if (cache.size() >= MAX_CACHE_ENTRIES) cache.clear();
                cache.put(word, ids);
            }
        }
        out.addAll(ids);
    }

    /** The initial symbols of a word (HuggingFace's {@code merge_word} before {@code merge_all}). */
    private int[] symbols(String word) {
        IntList symbols = new IntList(word.length());
        int pendingUnk = -1; // an unknown token not yet added (it may still fuse with the next one)
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            int next = i + Character.charCount(cp);
            String s = word.substring(i, next);
            if (i > 0 && continuingSubwordPrefix != null) s = continuingSubwordPrefix + s;
            if (next == word.length() && endOfWordSuffix != null) s = s + endOfWordSuffix;
            i = next;
            Integer id = vocab.get(s);
            if (id != null) {
                if (pendingUnk >= 0) symbols.add(pendingUnk);
                pendingUnk = -1;
                symbols.add(id);
                continue;
            }
            if (byteIds != null && addBytes(s, symbols)) continue; // HF leaves a pending unknown pending here
            if (unkId >= 0) {
                if (pendingUnk >= 0 && !fuseUnk) symbols.add(pendingUnk);
                pendingUnk = unkId;
            }
        }
        if (pendingUnk >= 0) symbols.add(pendingUnk);
        return symbols.toArray();
    }

    /** Adds the byte tokens of {@code s} when the vocabulary has all of them. */
    private boolean addBytes(String s, IntList symbols) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        for (byte b : bytes) {
            if (byteIds[b & 0xFF] < 0) return false;
        }
        for (byte b : bytes) symbols.add(byteIds[b & 0xFF]);
        return true;
    }
}
