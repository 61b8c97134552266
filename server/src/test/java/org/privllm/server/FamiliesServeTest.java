package org.privllm.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderModel;
import org.privllm.model.Fixture;
import org.privllm.model.LlamaFixture;
import org.privllm.model.SafeTensors;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.model.tokenizer.Tokenizer;
import org.privllm.model.tokenizer.Tokenizers;

/**
 * Every family in the server, with its own tokenizer: a random Qwen3-architecture checkpoint with the real Qwen3
 * tokenizer (the 20 renderings of {@code chat_cases.json} reproduced exactly through the server's template path and
 * tokenizer; chat completions equal to {@code privllm generate} on the rendered ids, plaintext and strong, batched),
 * and the real stories260k (Llama, SentencePiece-style tokenizer.json) for completions equal to generate's. Skipped
 * without {@code shared/}.
 */
class FamiliesServeTest {
    static Path shared(String sub) {
        String p = System.getProperty("privllm.shared");
        for (Path base : new Path[] {p != null ? Path.of(p) : Path.of("../shared"), Path.of("../../shared"), Path.of("/work/shared")}) {
            Path d = base.resolve(sub);
            if (Files.isDirectory(d)) {
                return d;
            }
        }
        return null;
    }

    /** The new tokens {@code privllm generate --input-ids PROMPT} gives (plaintext; the stop ids generate uses). */
    static int[] generate(DecoderModel m, Tokenizer tok, int[] prompt, int maxNew, Sampling s) {
        int[] out = new Generator(m.plainForward()).generate(List.of(prompt), maxNew, s, Tokenizers.stopIds(m.config(), tok),
                null).outputIds().get(0);
        return Arrays.copyOfRange(out, prompt.length, out.length);
    }

    /** The text a client sees for generate's new tokens: what follows the prompt's text, the stop token excluded. */
    static String text(DecoderModel m, Tokenizer tok, int[] prompt, int[] fresh) {
        int n = fresh.length;
        int[] stops = Tokenizers.stopIds(m.config(), tok);
        if (n > 0 && Arrays.stream(stops).anyMatch(x -> x == fresh[fresh.length - 1])) {
            n--;
        }
        int[] all = Arrays.copyOf(prompt, prompt.length + n);
        System.arraycopy(fresh, 0, all, prompt.length, n);
        String whole = tok.decode(all), head = tok.decode(prompt);
        assertThat(whole).startsWith(head);
        return whole.substring(head.length());
    }

    static String chatBody(String model, JsonNode c, int maxTokens, Sampling s, boolean stream) {
        ObjectNode b = Http.JSON.createObjectNode();
        b.put("model", model);
        b.set("messages", c.get("messages"));
        b.put("add_generation_prompt", c.get("add_generation_prompt").asBoolean());
        if (c.has("enable_thinking")) {
            b.putObject("chat_template_kwargs").set("enable_thinking", c.get("enable_thinking"));
        }
        b.put("max_tokens", maxTokens);
        b.put("temperature", s.greedy() ? 0 : s.temperature());
        if (s.seed() != null) {
            b.put("seed", s.seed());
        }
        b.put("stream", stream);
        return b.toString();
    }

    static String answer(Http.Reply r, boolean stream, boolean chat) throws Exception {
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        if (!stream) {
            JsonNode c = r.json().get("choices").get(0);
            return chat ? c.get("message").get("content").asText() : c.get("text").asText();
        }
        StringBuilder sb = new StringBuilder();
        for (String line : r.body().split("\n")) {
            if (line.startsWith("data: {")) {
                JsonNode j = Http.JSON.readTree(line.substring(6));
                assertThat(j.has("error")).as(line).isFalse();
                for (JsonNode c : j.get("choices")) {
                    sb.append(chat ? c.path("delta").path("content").asText("") : c.get("text").asText());
                }
            }
        }
        return sb.toString();
    }

    /** {@code prompt_ids=[…]} of each request in a --log-content log, in order. */
    static List<int[]> loggedPrompts(String log) {
        List<int[]> out = new ArrayList<>();
        Matcher m = Pattern.compile("prompt_ids=\\[([0-9, ]*)]").matcher(log);
        while (m.find()) {
            out.add(Arrays.stream(m.group(1).split(", ")).mapToInt(Integer::parseInt).toArray());
        }
        return out;
    }

    @Test
    void qwen3CheckpointWithTheRealTokenizerRendersEveryCaseAndAnswersAsGenerate(@TempDir Path dir) throws Exception {
        Path tokDir = shared("fixtures/tokenizers/qwen3");
        assumeTrue(tokDir != null && Files.isRegularFile(tokDir.resolve("chat_cases.json")), "shared qwen3 tokenizer absent");
        Tokenizer qwen = Tokenizers.load(tokDir);
        int vocab = (qwen.vocabSize() + 127) / 128 * 128;
        Path model = dir.resolve("qwen3-random");
        Fixture.write(model, new LlamaFixture.Spec(Architecture.QWEN3, 1, 32, 4, 2, 8, 48, vocab, 512, true,
                SafeTensors.DType.F32, 1, 11, 1e6, null, false));
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            Files.copy(tokDir.resolve(f), model.resolve(f));
        }
        DecoderModel m = DecoderModel.load(model);
        Tokenizer tok = Tokenizers.load(model);
        JsonNode cases = Http.JSON.readTree(tokDir.resolve("chat_cases.json").toFile()).get("cases");
        assertThat(cases).hasSize(20);
        try (Fixtures.Running s = new Fixtures.Running("--model", model.toString(), "--listen", "127.0.0.1:0",
                "--log-content", "--max-batch", "8")) {
            String url = s.base() + "/v1/chat/completions";
            List<CompletableFuture<Http.Reply>> replies = new ArrayList<>();
            List<Sampling> samplings = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) {
                Sampling sm = i % 2 == 0 ? Sampling.GREEDY : Sampling.sample(0.9f, 0, 1f, 1000L + i);
                samplings.add(sm);
                String body = chatBody("qwen3-random", cases.get(i), 10, sm, i % 3 == 0);
                // one at a time, so the log's order is the cases' order
                replies.add(CompletableFuture.completedFuture(Http.post(url, body)));
            }
            // the server logs a request after its response is sent: wait for the last line
            List<int[]> logged = loggedPrompts(s.log());
            for (long end = System.nanoTime() + 10_000_000_000L; logged.size() < cases.size() && System.nanoTime() < end; ) {
                Thread.sleep(20);
                logged = loggedPrompts(s.log());
            }
            assertThat(logged).hasSize(cases.size());
            for (int i = 0; i < cases.size(); i++) {
                String rendered = cases.get(i).get("rendered").asText();
                int[] ids = tok.encode(rendered, false);
                assertThat(logged.get(i)).as("case %d: the server's rendering and tokens", i).isEqualTo(ids);
                assertThat(tok.decode(logged.get(i))).as("case %d", i).isEqualTo(rendered);
                String expected = text(m, tok, ids, generate(m, tok, ids, 10, samplings.get(i)));
                assertThat(answer(replies.get(i).get(), i % 3 == 0, true)).as("case %d's answer", i).isEqualTo(expected);
            }
        }
        // the strong level, every case at once (one batched pass per step)
        try (Fixtures.Running s = new Fixtures.Running("--model", model.toString(), "--listen", "127.0.0.1:0",
                "--privacy", "strong", "--max-batch", "8")) {
            String url = s.base() + "/v1/chat/completions";
            List<CompletableFuture<Http.Reply>> replies = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String body = chatBody("qwen3-random", cases.get(i), 8, Sampling.GREEDY, i % 2 == 0);
                replies.add(CompletableFuture.supplyAsync(() -> Http.post(url, body)));
            }
            for (int i = 0; i < 8; i++) {
                int[] ids = tok.encode(cases.get(i).get("rendered").asText(), false);
                String expected = text(m, tok, ids, generate(m, tok, ids, 8, Sampling.GREEDY));
                assertThat(answer(replies.get(i).get(), i % 2 == 0, true)).as("strong case %d", i).isEqualTo(expected);
            }
        }
    }

    @Test
    void stories260kCompletionsEqualGenerate() throws Exception {
        Path model = shared("fixtures/stories260k");
        assumeTrue(model != null && Files.isRegularFile(model.resolve("tokenizer.json")), "shared stories260k absent");
        DecoderModel m = DecoderModel.load(model);
        Tokenizer tok = Tokenizers.load(model);
        String[] prompts = {"Once upon a time", "The little dog", "Lily and Tom went to the park. They", "One day"};
        try (Fixtures.Running s = new Fixtures.Running("--model", model.toString(), "--listen", "127.0.0.1:0",
                "--max-batch", "4")) {
            List<CompletableFuture<Http.Reply>> replies = new ArrayList<>();
            List<Sampling> samplings = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) {
                Sampling sm = i % 2 == 0 ? Sampling.GREEDY : Sampling.sample(0.8f, 0, 1f, 7L + i);
                samplings.add(sm);
                String body = "{\"model\": \"stories260k\", \"prompt\": \"" + prompts[i] + "\", \"max_tokens\": 40, "
                        + "\"temperature\": " + (sm.greedy() ? 0 : sm.temperature()) + (sm.seed() != null ? ", \"seed\": "
                        + sm.seed() : "") + ", \"stream\": " + (i < 2) + "}";
                replies.add(CompletableFuture.supplyAsync(() -> Http.post(s.base() + "/v1/completions", body)));
            }
            for (int i = 0; i < prompts.length; i++) {
                int[] ids = tok.encode(prompts[i]); // as generate --prompt: the model's BOS
                assertThat(ids[0]).isEqualTo(tok.bosId().orElseThrow());
                String expected = text(m, tok, ids, generate(m, tok, ids, 40, samplings.get(i)));
                assertThat(expected).isNotBlank();
                assertThat(answer(replies.get(i).get(), i < 2, false)).as("prompt %d", i).isEqualTo(expected);
            }
        }
    }
}
