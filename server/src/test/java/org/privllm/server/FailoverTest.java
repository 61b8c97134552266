package org.privllm.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.InsecureServerCredentials;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.privllm.model.generate.Sampling;
import org.privllm.protocol.grpc.GrpcExecutorServer;
import org.privllm.protocol.grpc.ServerLimits;
import org.privllm.trusted.privacy.PrivacyLevel;
import org.privllm.untrusted.InProcessExecutor;

/**
 * {@code serve --privacy strong --executor A,B}: executor A is killed in the middle of a load; every request
 * completes with exactly generate's text (redone on B) or a clean error object, and the server keeps serving.
 */
class FailoverTest {
    record Req(String prompt, int maxTokens, Sampling sampling, boolean stream) {
        String body(String model) {
            return "{\"model\": \"" + model + "\", \"prompt\": \"" + prompt + "\", \"max_tokens\": " + maxTokens
                    + ", \"temperature\": " + (sampling.greedy() ? 0 : sampling.temperature())
                    + (sampling.seed() != null ? ", \"seed\": " + sampling.seed() : "") + ", \"stream\": " + stream + "}";
        }
    }

    @Test
    void executorKilledMidLoad() throws Exception {
        long t0 = System.nanoTime();
        GrpcExecutorServer a = GrpcExecutorServer.start(new InetSocketAddress("127.0.0.1", 0), InProcessExecutor::new,
                ServerLimits.defaults(), InsecureServerCredentials.create());
        GrpcExecutorServer b = GrpcExecutorServer.start(new InetSocketAddress("127.0.0.1", 0), InProcessExecutor::new,
                ServerLimits.defaults(), InsecureServerCredentials.create());
        System.out.println("failover: executors up " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        try (Fixtures.Running s = Fixtures.serve("--privacy", "strong", "--executor",
                "127.0.0.1:" + a.port() + ",127.0.0.1:" + b.port(), "--retries", "2", "--max-batch", "2",
                "--deadline-ms", "5000")) {
            assertThat(s.readyLine).contains("grpc 127.0.0.1:" + a.port());
            System.out.println("failover: server ready " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            String model = Fixtures.model().getFileName().toString();
            String[] prompts = {"The quick brown fox", "Hello world", "Once upon a time", "In the beginning", "My name is",
                    "It was a dark and stormy night", "Tell me about", "One two three"};
            List<Req> reqs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Sampling sm = i % 2 == 0 ? Sampling.GREEDY : Sampling.sample(0.9f, 0, 1f, 100L + i);
                reqs.add(new Req(prompts[i % prompts.length], 12 + (i % 3) * 6, sm, i % 3 == 0));
            }
            List<String> expected = new ArrayList<>();
            for (Req r : reqs) {
                expected.add(Fixtures.text(Fixtures.generate(Fixtures.tokenizer().encode(r.prompt()), r.maxTokens(),
                        r.sampling(), PrivacyLevel.STRONG)));
            }
            System.out.println("failover: references " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            // a long streamed request tells us when the load is under way
            CountDownLatch underway = new CountDownLatch(1);
            CompletableFuture<String> watcher = CompletableFuture.supplyAsync(() -> streamUntil(s.server.port(),
                    new Req("A long story", 60, Sampling.GREEDY, true).body(model), underway));
            List<CompletableFuture<Http.Reply>> replies = new ArrayList<>();
            for (Req r : reqs) {
                replies.add(CompletableFuture.supplyAsync(() -> Http.post(s.base() + "/v1/completions", r.body(model))));
            }
            assertThat(underway.await(60, TimeUnit.SECONDS)).isTrue();
            a.close(); // executor A dies mid-load
            int ok = 0;
            int errors = 0;
            for (int i = 0; i < reqs.size(); i++) {
                Http.Reply r = replies.get(i).get(120, TimeUnit.SECONDS);
                String text = reqs.get(i).stream() ? streamedText(r.body()) : null;
                if (r.status() == 200 && (text == null || !text.startsWith("\u0000error"))) {
                    String got = text != null ? text : r.json().get("choices").get(0).get("text").asText();
                    assertThat(got).as("request " + i).isEqualTo(expected.get(i));
                    ok++;
                } else {
                    String errorJson = text != null ? text.substring(6) : r.body();
                    assertThat(Http.JSON.readTree(errorJson).get("error").get("type").asText()).isNotBlank();
                    errors++;
                }
            }
            watcher.get(120, TimeUnit.SECONDS);
            System.out.println("failover: load done " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            assertThat(ok + errors).isEqualTo(reqs.size());
            assertThat(ok).as("requests redone on executor B").isGreaterThan(0);
            // still serving, on B
            Req after = new Req("After the failure", 10, Sampling.GREEDY, false);
            Http.Reply r = Http.post(s.base() + "/v1/completions", after.body(model));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.json().get("choices").get(0).get("text").asText()).isEqualTo(Fixtures.text(Fixtures.generate(
                    Fixtures.tokenizer().encode(after.prompt()), 10, Sampling.GREEDY, PrivacyLevel.STRONG)));
            String metrics = Http.get(s.base() + "/metrics").body();
            assertThat(metrics).containsPattern("privllm_executor_retries_total [1-9]");
            System.out.println("failover: " + ok + " completed, " + errors + " clean errors");
        } finally {
            a.close();
            b.close();
        }
    }

    /** The concatenated text of an SSE completion body, or "\0error" + the error event's JSON. */
    static String streamedText(String body) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (String line : body.split("\n")) {
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                continue;
            }
            var j = Http.JSON.readTree(line.substring(6));
            if (j.has("error")) {
                return "\u0000error" + line.substring(6);
            }
            for (var c : j.get("choices")) {
                sb.append(c.get("text").asText());
            }
        }
        return sb.toString();
    }

    /** Streams a request, counting down {@code underway} after a few chunks; returns what it read. */
    static String streamUntil(int port, String body, CountDownLatch underway) {
        try (Socket so = new Socket("127.0.0.1", port)) {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            OutputStream out = so.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.write(b);
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(so.getInputStream(), StandardCharsets.UTF_8));
            StringBuilder all = new StringBuilder();
            int chunks = 0;
            for (String line; (line = in.readLine()) != null; ) {
                all.append(line).append('\n');
                if (line.startsWith("data: {") && ++chunks == 4) {
                    underway.countDown();
                }
            }
            underway.countDown();
            return all.toString();
        } catch (java.io.IOException e) {
            underway.countDown();
            return "";
        }
    }
}
