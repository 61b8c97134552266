package org.privllm.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.privllm.model.Gpt2Model;
import org.privllm.server.chat.ChatTemplate;
import org.privllm.server.engine.BatchStepper;
import org.privllm.server.engine.LaneStepper;
import org.privllm.server.engine.Scheduler;
import org.privllm.server.engine.TestLanes;
import org.privllm.server.http.OpenAiServer;
import org.privllm.server.http.ServerMetrics;

/** The scheduler through HTTP: 429 beyond the queue, a disconnected client frees its slot, deadlines, shutdown. */
class SchedulingTest {
    /** A server over slow lanes ({@code delayMs} per forward step). */
    static final class Slow implements AutoCloseable {
        final TestLanes.Factory factory;
        final Scheduler scheduler;
        final OpenAiServer server;
        final String model = "slow";

        Slow(long delayMs, int batch, int queue, Duration requestTimeout, Duration grace) {
            factory = new TestLanes.Factory(delayMs, Set.of(), 0, true);
            Gpt2Model m = Gpt2Model.load(Fixtures.model());
            var tok = Fixtures.tokenizer();
            ServerMetrics metrics = new ServerMetrics();
            scheduler = new Scheduler(new LaneStepper(factory, batch), queue, metrics);
            server = OpenAiServer.start(scheduler, new OpenAiServer.Model(model, m.config().vocab(), m.config().positions(),
                            new int[] {m.config().eosTokenId()}, tok, ChatTemplate.load(Fixtures.model())), metrics,
                    OpenAiServer.Settings.defaults(model).withListen("127.0.0.1", 0)
                            .withLimits(1 << 20, Duration.ofSeconds(5), Duration.ofSeconds(10), requestTimeout)
                            .withShutdownGrace(grace), "slow test lanes", new PrintStream(java.io.OutputStream.nullOutputStream()));
        }

        String url(String path) {
            return "http://127.0.0.1:" + server.port() + path;
        }

        String body(int maxTokens, boolean stream) {
            return "{\"model\": \"slow\", \"prompt\": \"Hello\", \"max_tokens\": " + maxTokens + ", \"temperature\": 0, \"stream\": "
                    + stream + "}";
        }

        @Override
        public void close() {
            server.close();
        }
    }

    static void waitFor(java.util.function.BooleanSupplier cond, long ms) throws InterruptedException {
        long until = System.currentTimeMillis() + ms;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > until) {
                throw new AssertionError("condition not met within " + ms + " ms");
            }
            Thread.sleep(10);
        }
    }

    /**
     * An engine that emits two tokens and then an id no tokenizer can decode (negative): the server's own failure
     * after a stream has begun still ends the stream with OpenAI's error object and [DONE], and a whole response
     * is a 500 error object; the server goes on serving.
     */
    @Test
    void aFailureMidStreamEndsTheStreamWithAnErrorObject() throws Exception {
        BatchStepper broken = new BatchStepper() {
            final java.util.List<Sequence> active = new java.util.ArrayList<>();
            final java.util.Map<Sequence, Integer> emitted = new java.util.HashMap<>();
            long next;

            public int capacity() { return 2; }
            public int vocab() { return 50257; }
            public int positions() { return 128; }
            public Sequence admit(SequenceSpec spec) {
                long id = next++;
                Sequence q = () -> id;
                active.add(q);
                emitted.put(q, 0);
                return q;
            }
            public java.util.List<StepEvent> step() {
                java.util.List<StepEvent> events = new java.util.ArrayList<>();
                for (Sequence q : active) {
                    int n = emitted.merge(q, 1, Integer::sum);
                    events.add(new Token(q, n <= 2 ? 464 : -1, null, 0));
                }
                return events;
            }
            public void release(Sequence q) { active.remove(q); }
            public int active() { return active.size(); }
            public void close() {}
        };
        Gpt2Model m = Gpt2Model.load(Fixtures.model());
        Scheduler scheduler = new Scheduler(broken, 4, new ServerMetrics());
        OpenAiServer server = OpenAiServer.start(scheduler, new OpenAiServer.Model("broken", m.config().vocab(),
                        m.config().positions(), new int[] {m.config().eosTokenId()}, Fixtures.tokenizer(),
                        ChatTemplate.load(Fixtures.model())), new ServerMetrics(),
                OpenAiServer.Settings.defaults("broken").withListen("127.0.0.1", 0), "broken test engine",
                new PrintStream(java.io.OutputStream.nullOutputStream()));
        try {
            String url = "http://127.0.0.1:" + server.port() + "/v1/completions";
            String body = "{\"model\": \"broken\", \"prompt\": [464], \"max_tokens\": 100, \"stream\": %s}";
            Http.Reply streamed = Http.post(url, body.formatted(true));
            assertThat(streamed.status()).isEqualTo(200);
            assertThat(streamed.body()).contains("data: {\"error\":").endsWith("data: [DONE]\n\n");
            waitFor(() -> scheduler.running() == 0, 5_000); // released at once, not after its 100 tokens
            Http.Reply whole = Http.post(url, body.formatted(false));
            assertThat(whole.status()).isEqualTo(500);
            assertThat(whole.json().get("error").get("type").asText()).isEqualTo("server_error");
            waitFor(() -> scheduler.running() == 0, 5_000);
            assertThat(broken.active()).as("every failed sequence released").isZero();
        } finally {
            server.close();
        }
    }

    @Test
    void fullQueueGets429WithRetryAfter() throws Exception {
        try (Slow s = new Slow(40, 1, 1, Duration.ofMinutes(1), Duration.ofSeconds(5))) {
            CompletableFuture<Http.Reply> running = CompletableFuture.supplyAsync(() -> Http.post(s.url("/v1/completions"), s.body(40, false)));
            waitFor(() -> s.scheduler.running() == 1, 10_000);
            CompletableFuture<Http.Reply> queued = CompletableFuture.supplyAsync(() -> Http.post(s.url("/v1/completions"), s.body(3, false)));
            waitFor(() -> s.scheduler.waiting() == 1, 10_000);
            Http.Reply refused = Http.post(s.url("/v1/completions"), s.body(3, false));
            assertThat(refused.status()).isEqualTo(429);
            assertThat(refused.headers().firstValue("Retry-After")).isPresent();
            assertThat(refused.json().get("error").get("code").asText()).isEqualTo("rate_limit_exceeded");
            assertThat(running.get().status()).isEqualTo(200);
            assertThat(queued.get().status()).isEqualTo(200);
            assertThat(Http.get(s.url("/metrics")).body()).contains("privllm_requests_total{endpoint=\"completions\",status=\"429\"} 1.0");
        }
    }

    @Test
    void clientThatDisconnectsFreesItsSlot() throws Exception {
        try (Slow s = new Slow(30, 1, 0, Duration.ofMinutes(1), Duration.ofSeconds(5))) {
            byte[] body = s.body(120, true).getBytes(StandardCharsets.UTF_8);
            long closedAt;
            try (Socket sock = new Socket("127.0.0.1", s.server.port())) {
                OutputStream out = sock.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                out.write(body);
                out.flush();
                BufferedReader in = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.UTF_8));
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.startsWith("data: {")) {
                        break; // the first chunk arrived: go away mid-stream
                    }
                }
                assertThat(s.scheduler.running()).isEqualTo(1);
                closedAt = System.nanoTime();
            }
            waitFor(() -> s.scheduler.running() == 0, 3_000); // 120 tokens would take 3.6 s
            assertThat((System.nanoTime() - closedAt) / 1e9).isLessThan(3.0);
            int stepsAfter = s.factory.steps.get();
            Thread.sleep(200);
            assertThat(s.factory.steps.get()).isEqualTo(stepsAfter); // nothing computed for the gone client
            Http.Reply next = Http.post(s.url("/v1/completions"), s.body(3, false));
            assertThat(next.status()).isEqualTo(200);
        }
    }

    @Test
    void deadlineEndsARequestWithAnErrorObject() throws Exception {
        try (Slow s = new Slow(30, 1, 2, Duration.ofMillis(400), Duration.ofSeconds(5))) {
            Http.Reply r = Http.post(s.url("/v1/completions"), s.body(100, false));
            assertThat(r.status()).isEqualTo(504);
            assertThat(r.json().get("error").get("code").asText()).isEqualTo("deadline_exceeded");
            Http.Reply streamed = Http.post(s.url("/v1/completions"), s.body(100, true));
            assertThat(streamed.body()).contains("\"deadline_exceeded\"").endsWith("data: [DONE]\n\n");
            waitFor(() -> s.scheduler.running() == 0, 2_000);
        }
    }

    @Test
    void closeLetsRequestsInFlightFinishThenRefuses() throws Exception {
        Slow s = new Slow(20, 2, 4, Duration.ofMinutes(1), Duration.ofSeconds(20));
        CompletableFuture<Http.Reply> inFlight = CompletableFuture.supplyAsync(() -> Http.post(s.url("/v1/completions"), s.body(30, true)));
        waitFor(() -> s.scheduler.running() == 1, 10_000);
        String url = s.url("/v1/completions");
        CompletableFuture<Void> closing = CompletableFuture.runAsync(s::close);
        Http.Reply r = inFlight.get();
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).endsWith("data: [DONE]\n\n").doesNotContain("\"error\"");
        closing.get();
        assertThat(s.factory.closed.get()).isEqualTo(s.factory.opened.get()); // every lane closed
        try {
            Http.Reply after = Http.post(url, s.body(3, false));
            assertThat(after.status()).isEqualTo(503);
        } catch (java.io.UncheckedIOException refused) {
            // the listener is gone: also a clean refusal
        }
    }

    @Test
    void closePastTheGraceEndsRequestsWithAnError() throws Exception {
        Slow s = new Slow(50, 1, 2, Duration.ofMinutes(1), Duration.ofMillis(300));
        CompletableFuture<Http.Reply> inFlight = CompletableFuture.supplyAsync(() -> Http.post(s.url("/v1/completions"), s.body(100, false)));
        waitFor(() -> s.scheduler.running() == 1, 10_000);
        s.close();
        Http.Reply r = inFlight.get();
        assertThat(r.status()).isEqualTo(503);
        assertThat(r.json().get("error").get("code").asText()).isEqualTo("shutting_down");
    }
}
