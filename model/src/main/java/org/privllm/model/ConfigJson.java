package org.privllm.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A checkpoint's {@code config.json}, read with one-line {@link ModelFormatException}s that name the
 * file and the key: a missing required key, a value of the wrong JSON type.
 */
final class ConfigJson {
    final Path file;
    final JsonNode root;

    private ConfigJson(Path file, JsonNode root) {
        this.file = file;
        this.root = root;
    }

    /** @param kind what the directory should be, for the not-found message ("a HuggingFace GPT-2 directory") */
    static ConfigJson read(Path dir, String kind) {
        Path file = dir.resolve("config.json");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(file + ": not found (" + kind + " needs config.json)");
        } catch (IOException e) {
            throw new ModelFormatException(file + ": not valid JSON (" + firstLine(e.getMessage()) + ")");
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(file + ": expected a JSON object");
        }
        return new ConfigJson(file, root);
    }

    ModelFormatException error(String what) {
        return new ModelFormatException(file + ": " + what);
    }

    /** True when the key is present and not null. */
    boolean has(String key) {
        return root.hasNonNull(key);
    }

    /** The value, or null when absent or JSON null. */
    JsonNode get(String key) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? null : n;
    }

    String text(String key, String dflt) {
        JsonNode n = get(key);
        return n == null ? dflt : n.asText();
    }

    int integer(String key) {
        return integer(key, null);
    }

    int integer(String key, Integer dflt) {
        JsonNode n = get(key);
        if (n == null) {
            if (dflt != null) {
                return dflt;
            }
            throw error("missing " + key);
        }
        return integerValue(key, n);
    }

    int integerValue(String key, JsonNode n) {
        if (!n.canConvertToInt() || !n.isIntegralNumber()) {
            throw error(key + " must be an integer, got " + n);
        }
        return n.asInt();
    }

    double number(String key, double dflt) {
        JsonNode n = get(key);
        if (n == null) {
            return dflt;
        }
        return numberValue(key, n);
    }

    double numberValue(String key, JsonNode n) {
        if (!n.isNumber()) {
            throw error(key + " must be a number, got " + n);
        }
        return n.asDouble();
    }

    boolean bool(String key, boolean dflt) {
        JsonNode n = get(key);
        if (n == null) {
            return dflt;
        }
        if (!n.isBoolean()) {
            throw error(key + " must be true or false, got " + n);
        }
        return n.asBoolean();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
