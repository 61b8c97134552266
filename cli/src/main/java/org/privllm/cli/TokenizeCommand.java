package org.privllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.privllm.model.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "Reads one JSON string per line and prints one JSON array of ids per line (--decode: the reverse).")
final class TokenizeCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();

    @Option(names = "--decode", description = "Read JSON arrays of ids, print JSON strings.")
    boolean decode;

    @Override
    public Integer call() throws IOException {
        Tokenizer tok = model.tokenizer(); // only the tokenizer files are read: a folder may hold nothing else
        if (tok == null) {
            throw new IllegalArgumentException(model.dir() + ": no tokenizer (tokenizer.json, or vocab.json and merges.txt)");
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        int lineNo = 0;
        for (String line; (line = in.readLine()) != null; ) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            JsonNode n;
            try {
                n = Json.MAPPER.readTree(line);
            } catch (IOException e) {
                throw new IllegalArgumentException("line " + lineNo + ": not valid JSON");
            }
            if (decode) {
                if (n == null || !n.isArray()) {
                    throw new IllegalArgumentException("line " + lineNo + ": expected a JSON array of token ids");
                }
                int[] ids = new int[n.size()];
                for (int i = 0; i < ids.length; i++) {
                    JsonNode v = n.get(i);
                    if (!v.isInt() || v.asInt() < 0 || v.asInt() >= tok.vocabSize()) {
                        throw new IllegalArgumentException("line " + lineNo + ": '" + v + "' is not a token id in [0, "
                                + tok.vocabSize() + ")");
                    }
                    ids[i] = v.asInt();
                }
                Json.print(System.out, tok.decode(ids));
            } else {
                if (n == null || !n.isTextual()) {
                    throw new IllegalArgumentException("line " + lineNo + ": expected a JSON string");
                }
                Json.print(System.out, tok.encode(n.asText()));
            }
        }
        return 0;
    }
}
