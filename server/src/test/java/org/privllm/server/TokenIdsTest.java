package org.privllm.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.privllm.model.generate.Sampling;

/**
 * {@code return_token_ids} (vLLM's extension, what the load bench asks for to check a differing answer): every
 * generated id, in order, next to the text — whole, and spread over the streamed chunks whose text they first show —
 * and nothing of it without the field.
 */
class TokenIdsTest {
    private static final int[] PROMPT = {464, 2068, 7586};

    private static String body(boolean stream, boolean ids) {
        return "{\"model\": \"" + Fixtures.model().getFileName() + "\", \"prompt\": " + Arrays.toString(PROMPT)
                + ", \"max_tokens\": 12, \"temperature\": 0.9, \"seed\": 7, \"stream\": " + stream
                + (ids ? ", \"return_token_ids\": true" : "") + "}";
    }

    @Test
    void idsComeWithTheTextWholeAndStreamed() throws Exception {
        int[] expected = Fixtures.generate(PROMPT, 12, Sampling.sample(0.9f, 0, 1f, 7L), null);
        List<Integer> want = Arrays.stream(expected).boxed().toList();
        try (Fixtures.Running s = Fixtures.serve()) {
            JsonNode whole = Http.post(s.base() + "/v1/completions", body(false, true)).json().get("choices").get(0);
            assertThat(ids(whole.get("token_ids"))).isEqualTo(want);
            assertThat(whole.get("text").asText()).isEqualTo(Fixtures.text(expected));

            List<Integer> streamed = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            for (String line : Http.post(s.base() + "/v1/completions", body(true, true)).body().split("\n")) {
                if (line.startsWith("data: {")) {
                    JsonNode c = Http.JSON.readTree(line.substring(6)).get("choices").get(0);
                    assertThat(c.has("token_ids")).as("every chunk carries its ids").isTrue();
                    streamed.addAll(ids(c.get("token_ids")));
                    text.append(c.get("text").asText());
                }
            }
            assertThat(streamed).isEqualTo(want);
            assertThat(text.toString()).isEqualTo(Fixtures.text(expected));

            assertThat(Http.post(s.base() + "/v1/completions", body(false, false)).json().get("choices").get(0)
                    .has("token_ids")).as("only when asked").isFalse();
            assertThat(Http.post(s.base() + "/v1/completions", body(true, false)).body()).doesNotContain("token_ids");
        }
    }

    /**
     * A checkpoint whose embedding has more rows than its tokenizer has tokens (Qwen3's 151,936 for 151,669 tokens,
     * nanoGPT's 50,304 for GPT-2's 50,257): an id past the tokenizer has no text, as in HuggingFace, and a request
     * whose prompt holds one is answered in full, whole and streamed (it was a 500). The tokenizers' tests cover such
     * an id in the streamed decode of generated tokens, which had cut streams short.
     */
    @Test
    void idsPastTheTokenizerHaveNoText() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("privllm-padded-vocab").resolve("gpt2-padded");
        org.privllm.model.Fixture.write(dir, org.privllm.model.Gpt2Config.of(2, 64, 4, 50304, 128), 7);
        org.privllm.model.tokenizer.Gpt2Tokenizer.writeGpt2Files(dir);
        String body = "{\"model\": \"gpt2-padded\", \"prompt\": [464, 50300, 2068], \"max_tokens\": 6, \"stream\": %s, "
                + "\"return_token_ids\": true}";
        try (Fixtures.Running s = new Fixtures.Running("--model", dir.toString(), "--listen", "127.0.0.1:0")) {
            Http.Reply whole = Http.post(s.base() + "/v1/completions", body.formatted(false));
            assertThat(whole.status()).as(whole.body()).isEqualTo(200);
            JsonNode choice = whole.json().get("choices").get(0);
            assertThat(choice.get("token_ids")).hasSize(6);
            assertThat(choice.get("finish_reason").asText()).isEqualTo("length");
            String streamed = Http.post(s.base() + "/v1/completions", body.formatted(true)).body();
            assertThat(streamed).contains("\"finish_reason\":\"length\"").endsWith("data: [DONE]\n\n")
                    .doesNotContain("\"error\"");
        }
        var tok = org.privllm.model.tokenizer.Gpt2Tokenizer.load(dir);
        assertThat(tok.decode(new int[] {464, 50300, 2068})).isEqualTo(tok.decode(new int[] {464, 2068}));
    }

    private static List<Integer> ids(JsonNode a) {
        List<Integer> l = new ArrayList<>();
        a.forEach(n -> l.add(n.asInt()));
        return l;
    }
}
