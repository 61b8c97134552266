package org.privllm.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;
import org.privllm.model.ModelFormatException;

/**
 * What privllm reads of {@code tokenizer_config.json}: the BOS/EOS tokens (a string or an AddedToken
 * object), whether BOS/EOS are added, and the chat template (kept as text; rendering is not done here).
 * The other fields are null when the file or the key is absent.
 */
record TokenizerConfig(Path file, Boolean addBosToken, Boolean addEosToken, String bosToken, String eosToken, String chatTemplate) {
    static final String CHAT_TEMPLATE_FILE = "chat_template.jinja";

    static TokenizerConfig read(Path dir) {
        Path file = dir.resolve(HfTokenizer.CONFIG_FILE);
        String separateTemplate = readTemplateFile(dir.resolve(CHAT_TEMPLATE_FILE));
        if (!Files.isRegularFile(file)) return new TokenizerConfig(file, null, null, null, null, separateTemplate);
        JsonNode root = HfTokenizerReader.readJson(file);
        if (!root.isObject()) throw new ModelFormatException(file + ": expected a JSON object");
        String template = chatTemplate(root.get("chat_template"), file);
        return new TokenizerConfig(file, flag(root, "add_bos_token", file), flag(root, "add_eos_token", file),
                token(root, "bos_token", file), token(root, "eos_token", file), template != null ? template : separateTemplate);
    }

    /** The id of a configured token, or null when none is configured. */
    Integer tokenId(String token, String key, Function<String, Integer> idOf) {
        if (token == null) return null;
        Integer id = idOf.apply(token);
        if (id == null) {
            throw new ModelFormatException(file + ": " + key + " " + HfTokenizerReader.quote(token) + " is not in the vocabulary");
        }
        return id;
    }

    /**
     * The post-processor transformers' Llama-family fast tokenizers build from {@code add_bos_token} and
     * {@code add_eos_token} ({@code update_post_processor}), which replaces tokenizer.json's own.
     */
    PostProcessor template(Integer bosId, Integer eosId) {
        boolean bos = Boolean.TRUE.equals(addBosToken);
        boolean eos = Boolean.TRUE.equals(addEosToken);
        if (bos && bosId == null) throw new ModelFormatException(file + ": add_bos_token is true but bos_token is not set");
        if (eos && eosId == null) throw new ModelFormatException(file + ": add_eos_token is true but eos_token is not set");
        return new PostProcessor.Template(bos ? new int[] {bosId} : new int[0], eos ? new int[] {eosId} : new int[0]);
    }

    private static Boolean flag(JsonNode root, String key, Path file) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) return null;
        if (!v.isBoolean()) throw new ModelFormatException(file + ": " + key + ": expected true or false");
        return v.asBoolean();
    }

    /** A token given as a string or as an AddedToken object ({@code {"content": …}}). */
    private static String token(JsonNode root, String key, Path file) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) return null;
        if (v.isTextual()) return v.asText();
        if (v.isObject() && v.path("content").isTextual()) return v.path("content").asText();
        throw new ModelFormatException(file + ": " + key + ": expected a string or an object with \"content\"");
    }

    /** A template string, or a list of named ones of which transformers uses "default". */
    private static String chatTemplate(JsonNode v, Path file) {
        if (v == null || v.isNull()) return null;
        if (v.isTextual()) return v.asText();
        if (v.isArray()) {
            for (JsonNode t : v) {
                if ("default".equals(t.path("name").asText()) && t.path("template").isTextual()) return t.path("template").asText();
            }
            return null;
        }
        throw new ModelFormatException(file + ": chat_template: expected a string or a list of {name, template}");
    }

    private static String readTemplateFile(Path file) {
        if (!Files.isRegularFile(file)) return null;
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read as UTF-8 text: " + HfTokenizerReader.oneLine(e.getMessage()), e);
        }
    }
}
