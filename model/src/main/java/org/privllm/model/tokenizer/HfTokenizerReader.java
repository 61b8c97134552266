package org.privllm.model.tokenizer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.privllm.model.ModelFormatException;

/**
 * Builds an {@link HfTokenizer} from a folder's {@code tokenizer.json}, {@code tokenizer_config.json}
 * and {@code generation_config.json}. Everything HuggingFace would read differently is refused with a
 * one-line {@link ModelFormatException} naming the file, the part and the unsupported type, never
 * skipped: a tokenizer that silently differs gives a model wrong ids.
 */
final class HfTokenizerReader {
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path file;

    private HfTokenizerReader(Path file) {
        this.file = file;
    }

    static HfTokenizer read(Path dir) {
        Path tokenizerFile = dir.resolve(HfTokenizer.TOKENIZER_FILE);
        HfTokenizerReader r = new HfTokenizerReader(tokenizerFile);
        JsonNode root = readJson(tokenizerFile);
        if (!root.isObject()) throw r.fail("", "expected a JSON object");
        TokenizerConfig config = TokenizerConfig.read(dir);

        JsonNode modelNode = root.path("model");
        Map<String, Integer> vocab = r.vocab(modelNode);
        List<AddedTokens.Token> added = r.addedTokens(root.path("added_tokens"), vocab);
        Normalizer normalizer = r.optional(root.get("normalizer"), "normalizer", r::normalizer);
        PreTokenizer preTokenizer = r.optional(root.get("pre_tokenizer"), "pre_tokenizer", r::preTokenizer);
        BpeModel model = r.model(modelNode, vocab);
        Decoder decoder = r.optional(root.get("decoder"), "decoder", r::decoder);

        int size = 0;
        for (int id : vocab.values()) size = Math.max(size, id + 1);
        for (AddedTokens.Token t : added) size = Math.max(size, t.id() + 1);
        String[] tokenText = new String[size];
        vocab.forEach((token, id) -> tokenText[id] = token);
        Map<String, Integer> addedIds = new HashMap<>();
        Set<String> specialContents = new HashSet<>();
        for (AddedTokens.Token t : added) {
            tokenText[t.id()] = t.content();
            addedIds.put(t.content(), t.id());
            if (t.special()) specialContents.add(t.content());
        }
        boolean[] special = new boolean[size];
        for (int id = 0; id < size; id++) special[id] = tokenText[id] != null && specialContents.contains(tokenText[id]);

        Function<String, Integer> idOf = token -> addedIds.containsKey(token) ? addedIds.get(token) : vocab.get(token);
        PostProcessor post = r.optional(root.get("post_processor"), "post_processor", (n, where) -> r.postProcessor(n, where, idOf));
        if (post == null) post = new PostProcessor.None();
        Integer bos = config.tokenId(config.bosToken(), "bos_token", idOf);
        Integer eos = config.tokenId(config.eosToken(), "eos_token", idOf);
        if (config.addBosToken() != null || config.addEosToken() != null) {
            post = config.template(bos, eos); // transformers rebuilds the template from these flags
        }
        if (bos == null && post instanceof PostProcessor.Template t && t.before().length == 1) bos = t.before()[0];
        LinkedHashSet<Integer> eosIds = new LinkedHashSet<>();
        if (eos != null) eosIds.add(eos);
        eosIds.addAll(GenerationConfig.eosTokenIds(dir));
        for (int id : eosIds) {
            if (id < 0 || id >= size) throw new ModelFormatException(dir + ": end-of-sequence id " + id + " is not in the vocabulary");
        }
        return new HfTokenizer(new AddedTokens(added, normalizer), normalizer, preTokenizer, model, post,
                decoder == null ? new Decoder.JoinWithSpaces() : decoder, tokenText, special, addedIds,
                eosIds.stream().mapToInt(Integer::intValue).toArray(),
                bos == null ? OptionalInt.empty() : OptionalInt.of(bos), config.chatTemplate());
    }

    // ---- model ----

    private Map<String, Integer> vocab(JsonNode model) {
        if (!model.isObject()) throw fail("model", "missing");
        String type = model.path("type").asText("BPE"); // old files leave the type out
        if (!type.equals("BPE")) {
            throw fail("model", "type " + type + " is not supported (privllm reads BPE tokenizers only)");
        }
        JsonNode vocabNode = model.path("vocab");
        if (!vocabNode.isObject()) throw fail("model.vocab", "expected an object of token -> id");
        Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
        Set<Integer> ids = new HashSet<>(vocabNode.size() * 2);
        for (var e : vocabNode.properties()) {
            JsonNode id = e.getValue();
            if (!id.canConvertToInt() || !id.isIntegralNumber() || id.asInt() < 0) {
                throw fail("model.vocab", "token " + quote(e.getKey()) + " has id " + id + ", expected a non-negative integer");
            }
            if (!ids.add(id.asInt())) throw fail("model.vocab", "id " + id + " is used by more than one token");
            vocab.put(e.getKey(), id.asInt());
        }
        if (vocab.isEmpty()) throw fail("model.vocab", "empty");
        return vocab;
    }

    private BpeModel model(JsonNode model, Map<String, Integer> vocab) {
        JsonNode dropout = model.path("dropout");
        if (!dropout.isMissingNode() && !dropout.isNull() && dropout.asDouble() != 0) {
            throw fail("model.dropout", "BPE dropout " + dropout + " makes encoding random; not supported");
        }
        String prefix = optionalText(model, "continuing_subword_prefix", "model");
        String suffix = optionalText(model, "end_of_word_suffix", "model");
        int prefixLength = prefix == null ? 0 : prefix.length();
        JsonNode mergesNode = model.path("merges");
        if (!mergesNode.isArray()) throw fail("model.merges", "expected an array");
        BpeMerges merges = new BpeMerges(mergesNode.size());
        for (int i = 0; i < mergesNode.size(); i++) {
            String where = "model.merges[" + i + "]";
            JsonNode m = mergesNode.get(i);
            String left;
            String right;
            if (m.isTextual()) { // "a b"
                String[] parts = m.asText().split(" ", -1);
                if (parts.length != 2) throw fail(where, "expected two tokens separated by one space, got " + quote(m.asText()));
                left = parts[0];
                right = parts[1];
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) { // ["a", "b"]
                left = m.get(0).asText();
                right = m.get(1).asText();
            } else {
                throw fail(where, "expected \"a b\" or [\"a\", \"b\"]");
            }
            if (right.length() < prefixLength) throw fail(where, "token " + quote(right) + " is shorter than the subword prefix");
            merges.add(tokenId(vocab, left, where), tokenId(vocab, right, where),
                    tokenId(vocab, left + right.substring(prefixLength), where));
        }
        int unkId = -1;
        String unk = optionalText(model, "unk_token", "model");
        if (unk != null) {
            Integer id = vocab.get(unk);
            if (id == null) throw fail("model.unk_token", quote(unk) + " is not in the vocabulary");
            unkId = id;
        }
        return new BpeModel(vocab, merges, unkId, model.path("fuse_unk").asBoolean(false),
                model.path("byte_fallback").asBoolean(false), model.path("ignore_merges").asBoolean(false), prefix, suffix);
    }

    private int tokenId(Map<String, Integer> vocab, String token, String where) {
        Integer id = vocab.get(token);
        if (id == null) throw fail(where, "token " + quote(token) + " is not in the vocabulary");
        return id;
    }

    /**
     * tokenizer.json's {@code added_tokens}, with the ids HuggingFace gives them — not the file's
     * {@code id} fields, which it only checks: a token the vocabulary has keeps its vocabulary id, the
     * others count up from the vocabulary's size in file order. (The two agree in real files.) Special
     * tokens come first, as in HuggingFace's matching order; a repeated content keeps its first id.
     */
    private List<AddedTokens.Token> addedTokens(JsonNode list, Map<String, Integer> vocab) {
        List<AddedTokens.Token> special = new ArrayList<>();
        List<AddedTokens.Token> ordinary = new ArrayList<>();
        if (list.isMissingNode() || list.isNull()) return special;
        if (!list.isArray()) throw fail("added_tokens", "expected an array");
        Map<String, Integer> ids = new HashMap<>();
        int maxAdded = -1;
        for (int i = 0; i < list.size(); i++) {
            String where = "added_tokens[" + i + "]";
            JsonNode t = list.get(i);
            String content = requiredText(t, "content", where);
            if (content.isEmpty()) continue;
            boolean isSpecial = t.path("special").asBoolean(false);
            Integer id = ids.containsKey(content) ? ids.get(content) : vocab.get(content);
            if (id == null) id = maxAdded >= vocab.size() ? maxAdded + 1 : vocab.size();
            ids.put(content, id);
            maxAdded = Math.max(maxAdded, id);
            var token = new AddedTokens.Token(id, content, t.path("single_word").asBoolean(false),
                    t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false),
                    t.path("normalized").asBoolean(!isSpecial), isSpecial);
            (isSpecial ? special : ordinary).add(token);
        }
        special.addAll(ordinary);
        return special;
    }

    // ---- normalizer, pre-tokenizer, decoder, post-processor ----

    private Normalizer normalizer(JsonNode n, String where) {
        String type = type(n, where);
        return switch (type) {
            case "Sequence" -> new Normalizer.Sequence(list(n, "normalizers", where, this::normalizer));
            case "NFC" -> new Normalizer.UnicodeForm(java.text.Normalizer.Form.NFC);
            case "NFD" -> new Normalizer.UnicodeForm(java.text.Normalizer.Form.NFD);
            case "NFKC" -> new Normalizer.UnicodeForm(java.text.Normalizer.Form.NFKC);
            case "NFKD" -> new Normalizer.UnicodeForm(java.text.Normalizer.Form.NFKD);
            case "Prepend" -> new Normalizer.Prepend(requiredText(n, "prepend", where));
            case "Replace" -> new Normalizer.Replace(pattern(n.path("pattern"), where + ".pattern"), requiredText(n, "content", where));
            case "Lowercase" -> new Normalizer.Lowercase();
            case "Strip" -> new Normalizer.Strip(n.path("strip_left").asBoolean(true), n.path("strip_right").asBoolean(true));
            default -> throw unsupported(where, type);
        };
    }

    private PreTokenizer preTokenizer(JsonNode n, String where) {
        String type = type(n, where);
        return switch (type) {
            case "Sequence" -> new PreTokenizer.Sequence(list(n, "pretokenizers", where, this::preTokenizer));
            case "ByteLevel" -> new PreTokenizer.ByteLevel(n.path("add_prefix_space").asBoolean(true), n.path("use_regex").asBoolean(true));
            case "Split" -> new PreTokenizer.Split(pattern(n.path("pattern"), where + ".pattern"),
                    behavior(n, where, null), n.path("invert").asBoolean(false));
            case "Metaspace" -> new PreTokenizer.Metaspace(replacement(n, where), prependScheme(n, where), n.path("split").asBoolean(true));
            case "Digits" -> new PreTokenizer.Digits(n.path("individual_digits").asBoolean(false));
            case "Punctuation" -> new PreTokenizer.Punctuation(behavior(n, where, SplitBehavior.ISOLATED));
            case "Whitespace" -> new PreTokenizer.Whitespace();
            case "WhitespaceSplit" -> new PreTokenizer.WhitespaceSplit();
            default -> throw unsupported(where, type);
        };
    }

    private Decoder decoder(JsonNode n, String where) {
        String type = type(n, where);
        return switch (type) {
            case "Sequence" -> new Decoder.Sequence(list(n, "decoders", where, this::decoder));
            case "ByteLevel" -> new Decoder.ByteLevel();
            case "Replace" -> {
                JsonNode p = n.path("pattern");
                String content = requiredText(n, "content", where);
                yield p.has("String") ? Decoder.Replace.literal(requiredText(p, "String", where + ".pattern"), content)
                        : Decoder.Replace.regex(pattern(p, where + ".pattern"), content);
            }
            case "ByteFallback" -> new Decoder.ByteFallback();
            case "Fuse" -> new Decoder.Fuse();
            case "Strip" -> new Decoder.Strip(singleCodePoint(n, "content", where),
                    nonNegative(n, "start", where), nonNegative(n, "stop", where));
            case "Metaspace" -> new Decoder.Metaspace(replacement(n, where), prependScheme(n, where));
            default -> throw unsupported(where, type);
        };
    }

    private PostProcessor postProcessor(JsonNode n, String where, Function<String, Integer> idOf) {
        String type = type(n, where);
        return switch (type) {
            case "Sequence" -> new PostProcessor.Sequence(list(n, "processors", where, (p, w) -> postProcessor(p, w, idOf)));
            case "ByteLevel" -> new PostProcessor.None(); // it only trims offsets
            case "TemplateProcessing" -> template(n, where);
            default -> throw unsupported(where, type);
        };
    }

    /** TemplateProcessing's {@code single}: special tokens around one {@code $A}. */
    private PostProcessor template(JsonNode n, String where) {
        JsonNode single = n.path("single");
        if (!single.isArray()) throw fail(where + ".single", "expected an array");
        IntList before = new IntList(2);
        IntList after = new IntList(2);
        boolean seenSequence = false;
        for (int i = 0; i < single.size(); i++) {
            String at = where + ".single[" + i + "]";
            JsonNode item = single.get(i);
            if (item.has("Sequence")) {
                if (seenSequence || !"A".equals(item.path("Sequence").path("id").asText())) {
                    throw fail(at, "a single-sequence template must hold $A exactly once");
                }
                seenSequence = true;
            } else if (item.has("SpecialToken")) {
                String name = requiredText(item.path("SpecialToken"), "id", at + ".SpecialToken");
                JsonNode ids = n.path("special_tokens").path(name).path("ids");
                if (!ids.isArray()) throw fail(where + ".special_tokens", "no ids for " + quote(name));
                for (JsonNode id : ids) {
                    if (!id.canConvertToInt() || id.asInt() < 0) throw fail(where + ".special_tokens", "bad id " + id + " for " + quote(name));
                    (seenSequence ? after : before).add(id.asInt());
                }
            } else {
                throw fail(at, "expected a Sequence or a SpecialToken");
            }
        }
        if (!seenSequence) throw fail(where + ".single", "a single-sequence template must hold $A exactly once");
        return new PostProcessor.Template(before.toArray(), after.toArray());
    }

    // ---- field helpers ----

    private <T> T optional(JsonNode n, String where, Part<T> part) {
        return n == null || n.isNull() ? null : part.read(n, where);
    }

    @FunctionalInterface
    private interface Part<T> {
        T read(JsonNode n, String where);
    }

    private <T> List<T> list(JsonNode n, String field, String where, Part<T> part) {
        JsonNode items = n.path(field);
        if (!items.isArray()) throw fail(where + "." + field, "expected an array");
        List<T> out = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) out.add(part.read(items.get(i), where + "." + field + "[" + i + "]"));
        return out;
    }

    private String type(JsonNode n, String where) {
        if (!n.isObject()) throw fail(where, "expected an object");
        return requiredText(n, "type", where);
    }

    private Pattern pattern(JsonNode p, String where) {
        try {
            if (p.has("String")) {
                String literal = requiredText(p, "String", where);
                return literal.isEmpty() ? Pattern.compile("(?!)") : OnigRegex.literal(literal); // HF: an empty pattern matches nothing
            }
            if (p.has("Regex")) return OnigRegex.compile(requiredText(p, "Regex", where));
        } catch (IllegalArgumentException e) {
            throw fail(where, e.getMessage());
        }
        throw fail(where, "expected {\"String\": …} or {\"Regex\": …}");
    }

    private SplitBehavior behavior(JsonNode n, String where, SplitBehavior byDefault) {
        JsonNode b = n.get("behavior");
        if (b == null && byDefault != null) return byDefault;
        String name = b == null ? "" : b.asText();
        SplitBehavior behavior = SplitBehavior.fromJson(name);
        if (behavior == null) throw fail(where + ".behavior", "unknown split behavior " + quote(name));
        return behavior;
    }

    private int replacement(JsonNode n, String where) {
        return singleCodePoint(n, "replacement", where);
    }

    /**
     * Metaspace's {@code prepend_scheme} (default {@code always}); the older {@code add_prefix_space: false}
     * means {@code never} and, as in HuggingFace, contradicts any other declared scheme.
     */
    private PrependScheme prependScheme(JsonNode n, String where) {
        JsonNode declared = n.get("prepend_scheme");
        PrependScheme scheme = PrependScheme.ALWAYS;
        if (declared != null && !declared.isNull()) {
            scheme = PrependScheme.fromJson(declared.asText());
            if (scheme == null) throw fail(where + ".prepend_scheme", "unknown scheme " + quote(declared.asText()));
        }
        if (n.path("add_prefix_space").isBoolean() && !n.path("add_prefix_space").asBoolean()) {
            if (scheme != PrependScheme.NEVER) throw fail(where, "add_prefix_space does not match declared prepend_scheme");
            return PrependScheme.NEVER;
        }
        return scheme;
    }

    private int singleCodePoint(JsonNode n, String field, String where) {
        String s = requiredText(n, field, where);
        if (s.codePointCount(0, s.length()) != 1) throw fail(where + "." + field, "expected one character, got " + quote(s));
        return s.codePointAt(0);
    }

    private int nonNegative(JsonNode n, String field, String where) {
        JsonNode v = n.path(field);
        if (!v.canConvertToInt() || v.asInt() < 0) throw fail(where + "." + field, "expected a non-negative integer");
        return v.asInt();
    }

    private String requiredText(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) throw fail(where.isEmpty() ? field : where + "." + field, "expected a string");
        return v.asText();
    }

    private String optionalText(JsonNode n, String field, String where) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw fail(where + "." + field, "expected a string or null");
        return v.asText();
    }

    private ModelFormatException unsupported(String where, String type) {
        return fail(where, "type " + type + " is not supported");
    }

    private ModelFormatException fail(String where, String what) {
        return new ModelFormatException(file + (where.isEmpty() ? "" : ": " + where) + ": " + oneLine(what));
    }

    static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) throw new ModelFormatException(file + ": not found");
        try {
            JsonNode root = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
            if (root == null || root.isMissingNode()) throw new ModelFormatException(file + ": empty file");
            return root;
        } catch (JsonProcessingException e) {
            var loc = e.getLocation();
            String at = loc == null ? "" : " at line " + loc.getLineNr() + " column " + loc.getColumnNr();
            throw new ModelFormatException(file + ": invalid JSON" + at + ": " + oneLine(e.getOriginalMessage()), e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read as UTF-8 text: " + oneLine(String.valueOf(e.getMessage())), e);
        }
    }

    static String quote(String s) {
        String t = s.length() > 60 ? s.substring(0, 57) + "..." : s;
        return "'" + oneLine(t) + "'";
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
    }
}
