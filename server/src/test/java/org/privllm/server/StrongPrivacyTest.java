package org.privllm.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.CompletionCreateParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.privllm.model.generate.Sampling;
import org.privllm.trusted.privacy.PrivacyLevel;

/**
 * {@code privllm serve --privacy strong} (in-process executor): the SDK gets exactly what
 * {@code privllm generate --privacy strong} gives, streamed and not, greedy and seeded, on both endpoints.
 */
class StrongPrivacyTest {
    static Fixtures.Running serving;
    static OpenAIClient client;
    static String model;

    @BeforeAll
    static void start() {
        serving = Fixtures.serve("--privacy", "strong", "--max-batch", "2");
        assertThat(serving.readyLine).contains("privacy strong");
        client = OpenAIOkHttpClient.builder().baseUrl(serving.base() + "/v1").apiKey("unused").maxRetries(0).build();
        model = Fixtures.model().getFileName().toString();
    }

    @AfterAll
    static void stop() {
        client.close();
        serving.close();
    }

    /** The other two levels, one server each: two-party equals generate --privacy two-party; seed (a fresh session per
     * request) gives the plaintext tokens, as generate --privacy seed does. */
    @org.junit.jupiter.api.Test
    void twoPartyAndSeedLevels() {
        int[] prompt = Fixtures.tokenizer().encode("Once upon a time");
        String body = "{\"model\": \"" + model + "\", \"prompt\": \"Once upon a time\", \"max_tokens\": 6, \"temperature\": 0}";
        try (Fixtures.Running two = Fixtures.serve("--privacy", "two-party", "--max-batch", "1")) {
            assertThat(two.readyLine).contains("privacy two-party on two in-process executors");
            Http.Reply r = Http.post(two.base() + "/v1/completions", body);
            assertThat(r.json().get("choices").get(0).get("text").asText())
                    .isEqualTo(Fixtures.text(Fixtures.generate(prompt, 6, Sampling.GREEDY, PrivacyLevel.TWO_PARTY)));
        }
        try (Fixtures.Running seed = Fixtures.serve("--privacy", "seed", "--masks", "block:16", "--max-batch", "1")) {
            assertThat(seed.readyLine).contains("privacy seed");
            String plain = Fixtures.text(Fixtures.generate(prompt, 6, Sampling.GREEDY, null));
            for (int i = 0; i < 2; i++) { // two requests, two sessions
                Http.Reply r = Http.post(seed.base() + "/v1/completions", body);
                assertThat(r.json().get("choices").get(0).get("text").asText()).isEqualTo(plain);
            }
        }
    }

    /**
     * {@code --row-bucket 16}: every blinded call the executor process receives (its own transcript) has a multiple of
     * 16 rows, whatever the prompts' lengths, and the answers are still {@code generate --privacy strong}'s.
     */
    @org.junit.jupiter.api.Test
    void rowBucketsHideTheRowCounts() throws Exception {
        java.nio.file.Path transcript = java.nio.file.Files.createTempDirectory("privllm-row-bucket");
        var executor = org.privllm.untrusted.server.ExecutorServerMain.start(
                org.privllm.untrusted.server.ExecutorOptions.loopback(transcript));
        try (Fixtures.Running s = Fixtures.serve("--privacy", "strong", "--executor", "127.0.0.1:" + executor.port(),
                "--row-bucket", "16", "--max-batch", "2")) {
            for (String p : java.util.List.of("Once upon a time", "The station is far from the old town hall, she said")) {
                String expected = Fixtures.text(Fixtures.generate(Fixtures.tokenizer().encode(p), 5, Sampling.GREEDY,
                        PrivacyLevel.STRONG));
                Http.Reply r = Http.post(s.base() + "/v1/completions", "{\"model\": \"" + model + "\", \"prompt\": \"" + p
                        + "\", \"max_tokens\": 5, \"temperature\": 0}");
                assertThat(r.json().get("choices").get(0).get("text").asText()).as(p).isEqualTo(expected);
            }
        } finally {
            executor.close();
        }
        int calls = 0;
        for (String line : java.nio.file.Files.readAllLines(transcript.resolve("index.jsonl"))) {
            com.fasterxml.jackson.databind.JsonNode call = Http.JSON.readTree(line);
            if (call.path("call").asText().equals("linear64")) {
                int rows = call.path("tensors").get(0).path("shape").get(0).asInt();
                assertThat(rows % 16).as("rows of a blinded call: " + rows).isZero();
                calls++;
            }
        }
        assertThat(calls).isPositive();
    }

    @ParameterizedTest(name = "chat={0} stream={1} temperature={2}")
    @CsvSource({"false,false,0", "false,true,0.9", "true,false,0.7", "true,true,0"})
    void equalsGenerateAtStrong(boolean chat, boolean stream, double temperature) {
        int maxTokens = 8;
        long seed = 11;
        String prompt = chat ? "user: Where is the station?\nassistant:" : "Once upon a time";
        Sampling s = temperature == 0 ? Sampling.GREEDY : Sampling.sample((float) temperature, 0, 1f, seed);
        String expected = Fixtures.text(Fixtures.generate(Fixtures.tokenizer().encode(prompt), maxTokens, s,
                PrivacyLevel.STRONG));
        String got = chat
                ? OpenAiSdkTest.chat(client, ChatCompletionCreateParams.builder().model(model)
                        .addUserMessage("Where is the station?").maxCompletionTokens(maxTokens).temperature(temperature)
                        .seed(seed).build(), stream)
                : OpenAiSdkTest.complete(client, CompletionCreateParams.builder().model(model).prompt(prompt)
                        .maxTokens(maxTokens).temperature(temperature).seed(seed).build(), stream);
        assertThat(got).isEqualTo(expected);
    }
}
