package org.privllm.cli;

import java.util.ArrayList;
import java.util.List;
import org.privllm.model.tokenizer.Tokenizer;

/** Parses {@code --input-ids 1,2,3;4,5} and {@code --prompt TEXT}. */
final class Prompts {
    private Prompts() {}

    static List<int[]> parseIds(String spec) {
        List<int[]> out = new ArrayList<>();
        for (String prompt : spec.split(";", -1)) {
            String p = prompt.strip();
            if (p.isEmpty()) {
                throw new IllegalArgumentException("--input-ids has an empty prompt (use 1,2,3;4,5)");
            }
            String[] parts = p.split(",", -1);
            int[] ids = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    ids[i] = Integer.parseInt(parts[i].strip());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--input-ids: '" + parts[i].strip() + "' is not a token id");
                }
            }
            out.add(ids);
        }
        return out;
    }

    static List<int[]> resolve(String prompt, String ids, Tokenizer tok) {
        if ((prompt == null) == (ids == null)) {
            throw new IllegalArgumentException("give exactly one of --prompt TEXT or --input-ids 1,2,3");
        }
        if (ids != null) {
            return parseIds(ids);
        }
        if (tok == null) {
            throw new IllegalArgumentException("this model directory has no tokenizer (tokenizer.json, or vocab.json and merges.txt): give --input-ids instead of --prompt");
        }
        int[] enc = tok.encode(prompt);
        if (enc.length == 0) {
            throw new IllegalArgumentException("--prompt is empty");
        }
        return List.of(enc);
    }
}
