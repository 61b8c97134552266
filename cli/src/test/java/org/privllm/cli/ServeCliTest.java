package org.privllm.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.tokenizer.Gpt2Tokenizer;
import org.privllm.server.ServeCommand;
import org.privllm.server.http.OpenAiServer;
import picocli.CommandLine;

/**
 * {@code privllm serve} on the cli's classpath (the one its jar is built from): both endpoints answer exactly what
 * {@code privllm generate} prints for the same greedy and seeded requests, and the command is registered.
 */
class ServeCliTest {
    @Test
    void serveAnswersWhatGeneratePrints(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("m");
        assertThat(CliTest.run("fixture", "--out", model.toString(), "--layers", "2", "--embd", "32", "--heads", "4",
                "--vocab", "50257", "--positions", "64", "--seed", "5").code()).isZero();
        Files.writeString(model.resolve("tokenizer_config.json"), "{\"chat_template\": \"{% for m in messages %}{{ m.role }}: "
                + "{{ m.content }}\\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}\"}");
        ServeCommand cmd = new ServeCommand();
        new CommandLine(cmd).parseArgs("--model", model.toString(), "--listen", "127.0.0.1:0", "--max-batch", "2");
        OpenAiServer server = cmd.start(new PrintStream(new ByteArrayOutputStream()), new PrintStream(new ByteArrayOutputStream()));
        try {
            String base = "http://127.0.0.1:" + server.port();
            String prompt = "The quick brown fox";
            String greedy = generated(model, prompt, "--max-new-tokens", "10");
            JsonNode c = post(base + "/v1/completions", "{\"model\": \"m\", \"prompt\": \"" + prompt
                    + "\", \"max_tokens\": 10, \"temperature\": 0}");
            assertThat(c.get("choices").get(0).get("text").asText()).isEqualTo(greedy);
            String chatPrompt = "user: Hello!\nassistant:";
            String seeded = generated(model, chatPrompt, "--max-new-tokens", "8", "--temperature", "0.7", "--seed", "42");
            JsonNode chat = post(base + "/v1/chat/completions", "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", "
                    + "\"content\": \"Hello!\"}], \"max_tokens\": 8, \"temperature\": 0.7, \"seed\": 42}");
            assertThat(chat.get("choices").get(0).get("message").get("content").asText()).isEqualTo(seeded);
        } finally {
            server.close();
        }
        CliTest.Run help = CliTest.run("serve", "--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("--privacy").contains("--max-batch").contains("--api-key-file");
    }

    /** The continuation `privllm generate --model M --prompt P --json OPTIONS` gives: its new ids as text, eos dropped. */
    static String generated(Path model, String prompt, String... options) throws Exception {
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("generate", "--model", model.toString(),
                "--prompt", prompt, "--json"));
        args.addAll(java.util.List.of(options));
        CliTest.Run r = CliTest.run(args.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = r.json();
        int[] ids = Json.MAPPER.convertValue(j.get("output_ids").get(0), int[].class);
        int from = j.get("prompt_lengths").get(0).asInt();
        Gpt2Tokenizer tok = Gpt2Tokenizer.load(model);
        int to = ids.length > from && ids[ids.length - 1] == tok.eosId() ? ids.length - 1 : ids.length;
        return tok.decode(java.util.Arrays.copyOfRange(ids, from, to));
    }

    static JsonNode post(String url, String body) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.MAPPER.readTree(r.body());
    }
}
