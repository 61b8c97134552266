package org.privllm.model.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A HuggingFace {@code tokenizer.json} tokenizer (Llama 2/3, Mistral, TinyLlama, Qwen2/3, SmolLM …),
 * giving the ids and texts HuggingFace's {@code tokenizers} library gives for the same file.
 *
 * <p>Encoding runs HuggingFace's pipeline: added tokens are cut out of the raw text first; each stretch
 * between them is normalized, pre-tokenized into words and BPE-encoded; the post-processor adds the
 * model's special tokens. Decoding maps ids to token strings and runs the decoder. The parts are the
 * small types {@link AddedTokens}, {@link Normalizer}, {@link PreTokenizer}, {@link BpeModel},
 * {@link PostProcessor} and {@link Decoder}; {@link HfTokenizerReader} builds them from the files.
 *
 * <p>This is pure Java on purpose (see {@link Tokenizer}): the trusted domain loads no native code.
 * Immutable and thread-safe.
 */
public final class HfTokenizer implements Tokenizer {
    public static final String TOKENIZER_FILE = "tokenizer.json";
    public static final String CONFIG_FILE = "tokenizer_config.json";

    private final AddedTokens addedTokens;
    private final Normalizer normalizer; // null: none
    private final PreTokenizer preTokenizer; // null: none
    private final BpeModel model;
    private final PostProcessor postProcessor;
    private final Decoder decoder;
    private final String[] tokenText; // by id: an added token's content, else the model's token; null in gaps
    private final boolean[] special; // by id
    private final Map<String, Integer> addedIds; // added token content -> id
    private final int[] eosIds;
    private final OptionalInt bosId;
    private final String chatTemplate; // null: none

    HfTokenizer(AddedTokens addedTokens, Normalizer normalizer, PreTokenizer preTokenizer, BpeModel model,
            PostProcessor postProcessor, Decoder decoder, String[] tokenText, boolean[] special,
            Map<String, Integer> addedIds, int[] eosIds, OptionalInt bosId, String chatTemplate) {
        this.addedTokens = addedTokens;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.postProcessor = postProcessor;
        this.decoder = decoder;
        this.tokenText = tokenText;
        this.special = special;
        this.addedIds = Map.copyOf(addedIds);
        this.eosIds = eosIds.clone();
        this.bosId = bosId;
        this.chatTemplate = chatTemplate;
    }

    /** True when {@code dir} holds a {@code tokenizer.json}. */
    public static boolean present(Path dir) {
        return Files.isRegularFile(dir.resolve(TOKENIZER_FILE));
    }

    /**
     * Reads {@code tokenizer.json} and, when present, {@code tokenizer_config.json} and
     * {@code generation_config.json} (more end-of-sequence ids) from {@code dir}. Anything unsupported or
     * malformed is a one-line {@link org.privllm.model.ModelFormatException} naming the file and the part.
     */
    public static HfTokenizer load(Path dir) {
        return HfTokenizerReader.read(dir);
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        String s = Unicode.replaceLoneSurrogates(text);
        IntList ids = new IntList(Math.max(16, s.length() / 3));
        for (AddedTokens.Segment seg : addedTokens.splitRaw(s)) {
            if (seg.isToken()) {
                ids.add(seg.id());
                continue;
            }
            if (seg.start() == seg.end()) continue;
            String part = s.substring(seg.start(), seg.end());
            String normalized = normalizer == null ? part : normalizer.normalize(part);
            for (AddedTokens.Segment sub : addedTokens.splitNormalized(normalized)) {
                if (sub.isToken()) {
                    ids.add(sub.id());
                } else if (sub.start() < sub.end()) {
                    var piece = new PreTokenizer.Piece(normalized.substring(sub.start(), sub.end()),
                            seg.start() == 0 && sub.start() == 0);
                    if (preTokenizer == null) model.tokenize(piece.text(), ids);
                    else preTokenizer.split(piece, word -> model.tokenize(word.text(), ids));
                }
            }
        }
        return postProcessor.process(ids.toArray(), addSpecialTokens);
    }

    /**
     * Text of {@code ids} as HuggingFace's {@code decode} (without any clean-up of spaces). An id with no token —
     * past the vocabulary, as the padding rows of Qwen's 151,936-row embedding past its 151,669 tokens — adds
     * nothing, as in HuggingFace (a model may sample one); a negative id is an IllegalArgumentException.
     */
    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            String t = tokenOf(id, skipSpecialTokens);
            if (t != null) tokens.add(t);
        }
        return Decoder.decodeAll(decoder, tokens);
    }

    @Override
    public StreamDecoder streamDecoder(boolean skipSpecialTokens) {
        return new StreamDecoder(id -> tokenOf(id, skipSpecialTokens), decoder);
    }

    @Override
    public int vocabSize() {
        return tokenText.length;
    }

    @Override
    public int[] eosIds() {
        return eosIds.clone();
    }

    @Override
    public OptionalInt bosId() {
        return bosId;
    }

    @Override
    public OptionalInt specialTokenId(String text) {
        Integer id = addedIds.get(text);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** tokenizer_config.json's {@code chat_template} (the default one when it lists several), unrendered. */
    public Optional<String> chatTemplate() {
        return Optional.ofNullable(chatTemplate);
    }

    /** The token string of {@code id}, or null when it has none or is a special token to skip. */
    private String tokenOf(int id, boolean skipSpecialTokens) {
        if (id < 0) {
            throw new IllegalArgumentException("token id " + id + " is negative");
        }
        if (id >= tokenText.length || tokenText[id] == null) {
            return null;
        }
        return skipSpecialTokens && special[id] ? null : tokenText[id];
    }
}
