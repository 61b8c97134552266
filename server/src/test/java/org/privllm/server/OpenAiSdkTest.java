package org.privllm.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.completions.CompletionUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.privllm.model.generate.Sampling;
import org.privllm.trusted.privacy.PrivacyLevel;

/**
 * The official OpenAI Java SDK against {@code privllm serve}: both endpoints, streamed and not, greedy and seeded,
 * give exactly the text {@code privllm generate} gives for the same request — plaintext here, and at
 * {@code --privacy strong} in {@link StrongPrivacyTest}.
 */
class OpenAiSdkTest {
    static Fixtures.Running serving;
    static OpenAIClient client;
    static String model;

    @BeforeAll
    static void start() {
        serving = Fixtures.serve("--max-batch", "3");
        client = OpenAIOkHttpClient.builder().baseUrl(serving.base() + "/v1").apiKey("unused").maxRetries(0).build();
        model = Fixtures.model().getFileName().toString();
    }

    @AfterAll
    static void stop() {
        client.close();
        serving.close();
    }

    static final String PROMPT = "The quick brown fox";

    static Sampling sampling(Double temperature, Long seed) {
        return temperature == 0 ? Sampling.GREEDY : Sampling.sample(temperature.floatValue(), 0, 1f, seed);
    }

    @ParameterizedTest(name = "completions temperature={0} seed={1} stream={2}")
    @CsvSource({"0,0,false", "0,0,true", "0.9,42,false", "0.9,42,true", "1.3,7,true"})
    void completionsEqualGenerate(double temperature, long seed, boolean stream) {
        int maxTokens = 12;
        String expected = Fixtures.text(Fixtures.generate(Fixtures.tokenizer().encode(PROMPT), maxTokens,
                sampling(temperature, seed), null));
        CompletionCreateParams p = CompletionCreateParams.builder().model(model).prompt(PROMPT).maxTokens(maxTokens)
                .temperature(temperature).seed(seed).build();
        assertThat(complete(client, p, stream)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "chat temperature={0} seed={1} stream={2}")
    @CsvSource({"0,0,false", "0,0,true", "0.8,3,false", "0.8,3,true"})
    void chatEqualsGenerateOnTheRenderedTemplate(double temperature, long seed, boolean stream) {
        int maxTokens = 10;
        String rendered = "system: Be brief.\nuser: Hello there\nassistant:"; // the fixture's template
        String expected = Fixtures.text(Fixtures.generate(Fixtures.tokenizer().encode(rendered), maxTokens,
                sampling(temperature, seed), null));
        ChatCompletionCreateParams p = ChatCompletionCreateParams.builder().model(model).addSystemMessage("Be brief.")
                .addUserMessage("Hello there").maxCompletionTokens(maxTokens).temperature(temperature).seed(seed).build();
        assertThat(chat(client, p, stream)).isEqualTo(expected);
    }

    static String complete(OpenAIClient c, CompletionCreateParams p, boolean stream) {
        if (!stream) {
            Completion r = c.completions().create(p);
            assertThat(r.choices()).hasSize(1);
            assertThat(r.choices().get(0).finishReason()).isNotNull();
            return r.choices().get(0).text();
        }
        StringBuilder sb = new StringBuilder();
        try (StreamResponse<Completion> s = c.completions().createStreaming(p)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> sb.append(ch.text())));
        }
        return sb.toString();
    }

    static String chat(OpenAIClient c, ChatCompletionCreateParams p, boolean stream) {
        if (!stream) {
            ChatCompletion r = c.chat().completions().create(p);
            return r.choices().get(0).message().content().orElse("");
        }
        StringBuilder sb = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = c.chat().completions().createStreaming(p)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content().ifPresent(sb::append)));
        }
        return sb.toString();
    }

    @Test
    void usageFinishReasonAndIncludeUsage() {
        int[] prompt = Fixtures.tokenizer().encode(PROMPT);
        Completion r = client.completions().create(CompletionCreateParams.builder().model(model).prompt(PROMPT)
                .maxTokens(5).temperature(0).build());
        CompletionUsage u = r.usage().orElseThrow();
        assertThat(u.promptTokens()).isEqualTo(prompt.length);
        assertThat(u.completionTokens()).isEqualTo(5);
        assertThat(u.totalTokens()).isEqualTo(prompt.length + 5);
        assertThat(r.choices().get(0).finishReason().asString()).isEqualTo("length");

        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(ChatCompletionCreateParams
                .builder().model(model).addUserMessage("Hi").maxCompletionTokens(4).temperature(0.0)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(chunks::add);
        }
        ChatCompletionChunk last = chunks.get(chunks.size() - 1);
        assertThat(last.choices()).isEmpty();
        assertThat(last.usage().orElseThrow().completionTokens()).isEqualTo(4);
        assertThat(chunks.get(chunks.size() - 2).choices().get(0).finishReason().orElseThrow().asString()).isEqualTo("length");
        assertThat(chunks.get(0).choices().get(0).delta().role()).isPresent();
    }

    @Test
    void stopStringsCutTheTextAndFinishWithStop() {
        String full = Fixtures.text(Fixtures.generate(Fixtures.tokenizer().encode(PROMPT), 12, Sampling.GREEDY, null));
        assertThat(full.length()).isGreaterThan(6);
        String stop = full.substring(3, 6);
        String expected = full.substring(0, full.indexOf(stop));
        for (boolean stream : new boolean[] {false, true}) {
            CompletionCreateParams p = CompletionCreateParams.builder().model(model).prompt(PROMPT).maxTokens(12)
                    .temperature(0).stop(stop).build();
            assertThat(complete(client, p, stream)).isEqualTo(expected);
        }
        Completion r = client.completions().create(CompletionCreateParams.builder().model(model).prompt(PROMPT)
                .maxTokens(12).temperature(0).stop(stop).build());
        assertThat(r.choices().get(0).finishReason().asString()).isEqualTo("stop");
    }

    @Test
    void tokenIdPromptsAndModels() {
        int[] ids = {464, 2068, 7586};
        String expected = Fixtures.text(Fixtures.generate(ids, 6, Sampling.GREEDY, null));
        Completion r = client.completions().create(CompletionCreateParams.builder().model(model)
                .prompt(CompletionCreateParams.Prompt.ofArrayOfTokens(List.of(464L, 2068L, 7586L))).maxTokens(6)
                .temperature(0).build());
        assertThat(r.choices().get(0).text()).isEqualTo(expected);
        assertThat(client.models().list().items()).extracting(m -> m.id()).containsExactly(model);
    }

    @Test
    void sdkSeesOpenAiErrors() {
        assertThatThrownBy(() -> client.completions().create(CompletionCreateParams.builder().model("gpt-4o")
                .prompt("x").build())).isInstanceOf(NotFoundException.class).hasMessageContaining("model");
        assertThatThrownBy(() -> client.completions().create(CompletionCreateParams.builder().model(model).prompt("x")
                .n(2).build())).isInstanceOf(BadRequestException.class).hasMessageContaining("n must be 1");
        AtomicReference<BadRequestException> e = new AtomicReference<>();
        try {
            client.chat().completions().create(ChatCompletionCreateParams.builder().model(model).addUserMessage("x")
                    .putAdditionalBodyProperty("max_tokens", JsonValue.from(0)).build());
        } catch (BadRequestException ex) {
            e.set(ex);
        }
        assertThat(e.get()).isNotNull();
        assertThat(e.get().statusCode()).isEqualTo(400);
    }
}
