package org.privllm.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.privllm.model.ModelFormatException;

/** {@code generation_config.json}'s {@code eos_token_id}: the ids generation stops at (Llama 3 lists several). */
final class GenerationConfig {
    static final String FILE = "generation_config.json";

    private GenerationConfig() {}

    /** The ids, in order; empty when the file or the key is absent. */
    static List<Integer> eosTokenIds(Path dir) {
        Path file = dir.resolve(FILE);
        List<Integer> ids = new ArrayList<>();
        if (!Files.isRegularFile(file)) return ids;
        JsonNode v = HfTokenizerReader.readJson(file).get("eos_token_id");
        if (v == null || v.isNull()) return ids;
        for (JsonNode id : v.isArray() ? v : List.of(v)) {
            if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0) {
                throw new ModelFormatException(file + ": eos_token_id: expected a token id or a list of them, got " + id);
            }
            ids.add(id.asInt());
        }
        return ids;
    }
}
