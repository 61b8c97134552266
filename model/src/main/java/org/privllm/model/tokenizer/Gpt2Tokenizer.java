package org.privllm.model.tokenizer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.privllm.model.ModelFormatException;

/**
 * GPT-2's byte-level BPE tokenizer, read from a HuggingFace checkpoint's {@code vocab.json} and
 * {@code merges.txt}; encodes and decodes exactly as HuggingFace's {@code GPT2Tokenizer}.
 *
 * <p>Encoding: {@code <|endoftext|>} in the text becomes its id (when the vocabulary has it); the
 * rest is cut by GPT-2's pre-tokenisation pattern, each piece's UTF-8 bytes become byte tokens, and
 * adjacent pairs are merged lowest merge rank first (all non-overlapping occurrences of the best pair
 * per round, left to right, as HuggingFace does). Decoding concatenates the tokens' bytes and decodes
 * UTF-8 with U+FFFD for invalid sequences; no clean-up of spaces, so {@code decode(encode(s))} is
 * {@code s}. Instances are immutable and thread-safe.
 */
public final class Gpt2Tokenizer implements Tokenizer {
    public static final String VOCAB_FILE = "vocab.json";
    public static final String MERGES_FILE = "merges.txt";
    public static final String END_OF_TEXT = "<|endoftext|>";

    /** GPT-2's pre-tokenisation pattern; \s, \p{L}, \p{N} in their full Unicode meaning as in Python's regex. */
    private static final Pattern PRE_TOKENIZE = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    /** Pieces longer than this are not cached, so odd inputs cannot bloat the cache. */
    private static final int MAX_CACHED_PIECE = 64;
    private static final int MAX_CACHE_ENTRIES = 100_000;

    private final byte[][] tokenBytes; // by id; null for ids the vocabulary skips
    private final int[] byteIds; // id of each single-byte token
    private final BpeMerges merges;
    private final int eosId;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    private Gpt2Tokenizer(byte[][] tokenBytes, int[] byteIds, BpeMerges merges, int eosId) {
        this.tokenBytes = tokenBytes;
        this.byteIds = byteIds;
        this.merges = merges;
        this.eosId = eosId;
    }

    /** True when {@code dir} holds both tokenizer files. */
    public static boolean present(Path dir) {
        return Files.isRegularFile(dir.resolve(VOCAB_FILE)) && Files.isRegularFile(dir.resolve(MERGES_FILE));
    }

    /** Reads {@code vocab.json} and {@code merges.txt} from {@code dir}; any problem is a one-line {@link ModelFormatException}. */
    public static Gpt2Tokenizer load(Path dir) {
        Path vocabFile = dir.resolve(VOCAB_FILE);
        Path mergesFile = dir.resolve(MERGES_FILE);
        Map<String, Integer> vocab = readVocab(vocabFile);
        List<String> mergeLines = readLines(mergesFile);

        int maxId = -1;
        for (var e : vocab.entrySet()) {
            Integer id = e.getValue();
            if (id == null || id < 0) {
                throw new ModelFormatException(vocabFile + ": token " + quote(e.getKey()) + " has id " + id + ", expected a non-negative integer");
            }
            maxId = Math.max(maxId, id);
        }
        if (maxId < 0) throw new ModelFormatException(vocabFile + ": vocabulary is empty");
        if (maxId >= 2L * vocab.size() + 1024) { // ids index a table: refuse absurdly sparse ones
            throw new ModelFormatException(vocabFile + ": largest id " + maxId + " is far beyond the " + vocab.size() + " tokens");
        }
        byte[][] tokenBytes = new byte[maxId + 1][];
        for (var e : vocab.entrySet()) {
            int id = e.getValue();
            if (tokenBytes[id] != null) {
                throw new ModelFormatException(vocabFile + ": id " + id + " is used by more than one token");
            }
            byte[] bytes = ByteUnicode.decode(e.getKey());
            // A token outside the byte alphabet (an added token) stands for its own text.
            tokenBytes[id] = bytes != null ? bytes : e.getKey().getBytes(StandardCharsets.UTF_8);
        }
        int[] byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(ByteUnicode.charOf(b)));
            if (id == null) {
                throw new ModelFormatException(String.format(
                        "%s: no token for byte 0x%02X, not a byte-level BPE vocabulary", vocabFile, b));
            }
            byteIds[b] = id;
        }

        BpeMerges merges = new BpeMerges(mergeLines.size());
        for (int line = 0; line < mergeLines.size(); line++) {
            String text = mergeLines.get(line);
            if (text.isEmpty() || (line == 0 && text.startsWith("#version"))) continue;
            String where = mergesFile + ": line " + (line + 1);
            int space = text.indexOf(' ');
            if (space <= 0 || space == text.length() - 1 || text.indexOf(' ', space + 1) >= 0) {
                throw new ModelFormatException(where + ": expected two tokens separated by one space");
            }
            String left = text.substring(0, space);
            String right = text.substring(space + 1);
            int leftId = idOf(vocab, left, where);
            int rightId = idOf(vocab, right, where);
            if (merges.add(leftId, rightId, idOf(vocab, left + right, where)) >= 0) {
                throw new ModelFormatException(where + ": duplicate merge " + quote(text));
            }
        }
        if (merges.size() == 0) throw new ModelFormatException(mergesFile + ": no merges");
        int eos = vocab.getOrDefault(END_OF_TEXT, -1);
        return new Gpt2Tokenizer(tokenBytes, byteIds, merges, eos);
    }

    /**
     * Writes GPT-2's {@code vocab.json} and {@code merges.txt} into {@code dir}, derived from jtokkit's
     * {@code r50k_base} ranks (the same vocabulary; see {@link Gpt2VocabWriter}).
     */
    public static void writeGpt2Files(Path dir) {
        Gpt2VocabWriter.write(dir);
    }

    /**
     * Token ids of {@code text}; each {@code <|endoftext|>} becomes {@link #eosId()}. GPT-2 adds no
     * special tokens of its own, so {@code addSpecialTokens} changes nothing.
     */
    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        text = Unicode.replaceLoneSurrogates(text);
        IntList out = new IntList(Math.max(16, text.length() / 3));
        if (eosId < 0) {
            encodeOrdinary(text, out);
            return out.toArray();
        }
        int from = 0;
        for (int at = text.indexOf(END_OF_TEXT); at >= 0; at = text.indexOf(END_OF_TEXT, from)) {
            encodeOrdinary(text.substring(from, at), out);
            out.add(eosId);
            from = at + END_OF_TEXT.length();
        }
        encodeOrdinary(text.substring(from), out);
        return out.toArray();
    }

    /** Text of {@code ids}; invalid UTF-8 becomes U+FFFD. An id with no token adds nothing (see {@link Tokenizer#decode}). */
    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        int total = 0;
        for (int id : ids) {
            byte[] b = tokenBytes(id); // a negative id throws here, whatever the eos id
            total += skipSpecialTokens && id == eosId ? 0 : b.length;
        }
        byte[] all = new byte[total];
        int at = 0;
        for (int id : ids) {
            if (skipSpecialTokens && id == eosId) continue;
            byte[] b = tokenBytes(id);
            System.arraycopy(b, 0, all, at, b.length);
            at += b.length;
        }
        StringBuilder sb = new StringBuilder(total);
        Utf8.decode(all, 0, total, true, sb);
        return sb.toString();
    }

    /** Number of embedding rows the vocabulary needs: largest id + 1. */
    @Override
    public int vocabSize() {
        return tokenBytes.length;
    }

    /** Id of {@code <|endoftext|>}, or -1 when the vocabulary has none. */
    public int eosId() {
        return eosId;
    }

    /** {@code <|endoftext|>}, GPT-2's only special token, when the vocabulary has it. */
    @Override
    public int[] eosIds() {
        return eosId < 0 ? new int[0] : new int[] {eosId};
    }

    /** GPT-2 begins texts with {@code <|endoftext|>} too (its config's bos_token_id), though it never adds it itself. */
    @Override
    public OptionalInt bosId() {
        return eosId < 0 ? OptionalInt.empty() : OptionalInt.of(eosId);
    }

    @Override
    public OptionalInt specialTokenId(String text) {
        return eosId >= 0 && END_OF_TEXT.equals(text) ? OptionalInt.of(eosId) : OptionalInt.empty();
    }

    @Override
    public StreamDecoder streamDecoder(boolean skipSpecialTokens) {
        return new StreamDecoder(
                id -> tokenBytes(id).length == 0 || skipSpecialTokens && id == eosId ? null
                        : ByteUnicode.encode(tokenBytes(id)), new Decoder.ByteLevel());
    }

    private static final byte[] NONE = new byte[0];

    /** The bytes token {@code id} stands for, none for an id with no token (shared, do not modify). */
    byte[] tokenBytes(int id) {
        if (id < 0) {
            throw new IllegalArgumentException("token id " + id + " is negative");
        }
        return id >= tokenBytes.length || tokenBytes[id] == null ? NONE : tokenBytes[id];
    }

    private void encodeOrdinary(String text, IntList out) {
        Matcher m = PRE_TOKENIZE.matcher(text);
        while (m.find()) {
            String piece = m.group();
            int[] ids = cache.get(piece);
            if (ids == null) {
                ids = merges.merge(byteTokens(piece.getBytes(StandardCharsets.UTF_8)));
                if (piece.length() <= MAX_CACHED_PIECE) {
                    if (cache.size() >= MAX_CACHE_ENTRIES) cache.clear();
                    cache.put(piece, ids);
                }
            }
            out.addAll(ids);
        }
    }

    private int[] byteTokens(byte[] bytes) {
        int[] tok = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) tok[i] = byteIds[bytes[i] & 0xFF];
        return tok;
    }

    private static Map<String, Integer> readVocab(Path file) {
        if (!Files.isRegularFile(file)) throw new ModelFormatException(file + ": tokenizer file not found");
        ObjectMapper json = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        try {
            Map<String, Integer> vocab = json.readValue(file.toFile(), new TypeReference<LinkedHashMap<String, Integer>>() {});
            if (vocab == null) throw new ModelFormatException(file + ": expected a JSON object of token -> id");
            return vocab;
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            String at = loc == null ? "" : " at line " + loc.getLineNr() + " column " + loc.getColumnNr();
            throw new ModelFormatException(file + ": invalid vocabulary JSON" + at + ": " + oneLine(e.getOriginalMessage()), e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + oneLine(String.valueOf(e.getMessage())), e);
        }
    }

    private static List<String> readLines(Path file) {
        if (!Files.isRegularFile(file)) throw new ModelFormatException(file + ": tokenizer file not found");
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read as UTF-8 text: " + oneLine(String.valueOf(e.getMessage())), e);
        }
    }

    private static int idOf(Map<String, Integer> vocab, String token, String where) {
        Integer id = vocab.get(token);
        if (id == null) throw new ModelFormatException(where + ": token " + quote(token) + " is not in " + VOCAB_FILE);
        return id;
    }

    private static String quote(String s) {
        return "'" + oneLine(s) + "'";
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
    }
}
