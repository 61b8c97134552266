package org.privllm.server.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.sse.Emitter;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.privllm.protocol.grpc.ExecutorCallException;
import org.privllm.server.engine.BatchStepper.Finish;
import org.privllm.server.engine.BatchStepper.SequenceSpec;
import org.privllm.server.engine.Scheduler;
import org.privllm.server.http.Requests.Job;
import org.privllm.server.http.Requests.ModelView;
import org.privllm.trusted.integrity.IntegrityException;

/**
 * The OpenAI-compatible HTTP surface: {@code GET /v1/models}, {@code POST /v1/completions},
 * {@code POST /v1/chat/completions} (streamed as server-sent events or not), {@code GET /health} and
 * {@code GET /metrics}, in front of a {@link Scheduler}.
 *
 * <p>HTTP library: <b>Javalin 7</b> on Jetty 12. Javalin is a thin, well-kept layer (routing, exception mapping,
 * virtual-thread handlers, its SSE {@link Emitter}) over Jetty, which does the hard parts a server exposed to
 * hostile clients needs — HTTP/1.1 parsing with header limits, idle timeouts against slow clients, connection
 * limits, TLS — and lets every one of them be configured. Virtual threads let a handler simply block while its
 * request waits for tokens, so streaming needs no callback plumbing. (Helidon SE 4 would have served as well;
 * Vert.x's event-loop model would have forced the blocking engine onto worker pools.)
 *
 * <p>Security: loopback by default (the caller picks the address); with an API key every endpoint but
 * {@code /health} needs {@code Authorization: Bearer KEY}, compared in constant time; TLS from PEM files. Logs
 * carry method, path, status, timing and token counts — never prompt or output text or token ids unless
 * {@code logContent} is set. Error messages never quote the request.
 */
public final class OpenAiServer implements AutoCloseable {
    /** How the server listens and what it accepts. */
    public record Settings(String host, int port, String modelId, long maxBodyBytes, Duration bodyTimeout,
                           Duration idleTimeout, Duration requestTimeout, Duration shutdownGrace, String apiKey,
                           Path tlsCert, Path tlsKey, boolean logContent, int maxConnections) {
        public Settings {
            if (maxBodyBytes < 1024) {
                throw new IllegalArgumentException("the body limit must be at least 1024 bytes");
            }
            if ((tlsCert == null) != (tlsKey == null)) {
                throw new IllegalArgumentException("--tls-cert and --tls-key go together");
            }
            if (apiKey != null && apiKey.isBlank()) {
                throw new IllegalArgumentException("the API key is empty");
            }
        }

        public static Settings defaults(String modelId) {
            return new Settings("127.0.0.1", 8080, modelId, 4L << 20, Duration.ofSeconds(10), Duration.ofSeconds(30),
                    Duration.ofMinutes(10), Duration.ofSeconds(30), null, null, null, false, 1024);
        }

        public Settings withListen(String h, int p) {
            return new Settings(h, p, modelId, maxBodyBytes, bodyTimeout, idleTimeout, requestTimeout, shutdownGrace, apiKey,
                    tlsCert, tlsKey, logContent, maxConnections);
        }

        public Settings withLimits(long body, Duration bodyT, Duration idle, Duration request) {
            return new Settings(host, port, modelId, body, bodyT, idle, request, shutdownGrace, apiKey, tlsCert, tlsKey,
                    logContent, maxConnections);
        }

        public Settings withShutdownGrace(Duration g) {
            return new Settings(host, port, modelId, maxBodyBytes, bodyTimeout, idleTimeout, requestTimeout, g, apiKey,
                    tlsCert, tlsKey, logContent, maxConnections);
        }

        public Settings withApiKey(String key) {
            return new Settings(host, port, modelId, maxBodyBytes, bodyTimeout, idleTimeout, requestTimeout, shutdownGrace,
                    key, tlsCert, tlsKey, logContent, maxConnections);
        }

        public Settings withTls(Path cert, Path key) {
            return new Settings(host, port, modelId, maxBodyBytes, bodyTimeout, idleTimeout, requestTimeout, shutdownGrace,
                    apiKey, cert, key, logContent, maxConnections);
        }

        public Settings withLogContent(boolean on) {
            return new Settings(host, port, modelId, maxBodyBytes, bodyTimeout, idleTimeout, requestTimeout, shutdownGrace,
                    apiKey, tlsCert, tlsKey, on, maxConnections);
        }
    }

    /** The model as the HTTP layer sees it. */
    public record Model(String id, int vocab, int positions, int[] stopIds,
                        org.privllm.model.tokenizer.Tokenizer tokenizer, org.privllm.server.chat.ChatTemplate template) {}

    static {
        LibraryLogs.quiet();
    }

    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).maxNumberLength(64)
                    .maxStringLength(64 << 20).build()).build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final SecureRandom IDS = new SecureRandom();
    private static final Duration KEEPALIVE = Duration.ofSeconds(10);

    private final Scheduler scheduler;
    private final ServerMetrics metrics;
    private final Settings settings;
    private final Model model;
    private final ModelView view;
    private final String engine;
    private final PrintStream log;
    private final byte[] keyDigest;
    private final long created = System.currentTimeMillis() / 1000;
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean closing;
    private ServerConnector connector;
    private final Javalin app;

    private OpenAiServer(Scheduler scheduler, Model model, ServerMetrics metrics, Settings settings, String engine,
                         PrintStream log) {
        this.scheduler = scheduler;
        this.metrics = metrics;
        this.settings = settings;
        this.model = model;
        this.view = new ModelView(model.id(), model.vocab(), model.positions(), model.tokenizer(), model.template());
        this.engine = engine;
        this.log = log;
        this.keyDigest = settings.apiKey() == null ? null : sha256(settings.apiKey());
        this.app = Javalin.create(cfg -> {
            cfg.startup.showJavalinBanner = false;
            cfg.concurrency.useVirtualThreads = true;
            cfg.http.maxRequestSize = settings.maxBodyBytes();
            cfg.http.prefer405over404 = true;
            cfg.jetty.addConnector((server, http) -> {
                http.setSendServerVersion(false);
                http.setSendXPoweredBy(false);
                http.setRequestHeaderSize(16 << 10);
                HttpConnectionFactory h1 = new HttpConnectionFactory(http);
                ServerConnector c;
                if (settings.tlsCert() != null) {
                    SslContextFactory.Server ssl = new SslContextFactory.Server();
                    String pw = HexFormat.of().formatHex(IDS.generateSeed(16));
                    ssl.setKeyStore(PemKeyStore.load(settings.tlsCert(), settings.tlsKey(), pw.toCharArray()));
                    ssl.setKeyStorePassword(pw);
                    c = new ServerConnector(server, new SslConnectionFactory(ssl, h1.getProtocol()), h1);
                } else {
                    c = new ServerConnector(server, h1);
                }
                c.setHost(settings.host());
                c.setPort(settings.port());
                c.setIdleTimeout(settings.idleTimeout().toMillis());
                connector = c;
                return c;
            });
            cfg.jetty.modifyServer(server -> {
                server.setErrorHandler(new JsonErrorHandler());
                server.addBean(new NetworkConnectionLimit(settings.maxConnections(), server));
            });
            cfg.routes.before(this::authenticate);
            cfg.routes.get("/health", this::health);
            cfg.routes.get("/metrics", ctx -> ctx.contentType(metrics.contentType()).result(metrics.scrape()));
            cfg.routes.get("/v1/models", ctx -> json(ctx, 200, Map.of("object", "list", "data", List.of(modelEntry()))));
            cfg.routes.get("/v1/models/{id}", ctx -> {
                if (!ctx.pathParam("id").equals(model.id())) {
                    throw new ApiError(404, "invalid_request_error", "the model does not exist", "model", "model_not_found");
                }
                json(ctx, 200, modelEntry());
            });
            cfg.routes.post("/v1/completions", ctx -> generate(ctx, false));
            cfg.routes.post("/v1/chat/completions", ctx -> generate(ctx, true));
            cfg.routes.exception(ApiError.class, (e, ctx) -> error(ctx, e));
            cfg.routes.exception(HttpResponseException.class, (e, ctx) -> error(ctx, new ApiError(e.getStatus(),
                    e.getStatus() == 404 || e.getStatus() == 405 ? "invalid_request_error" : "server_error",
                    e.getStatus() == 404 ? "no such endpoint: " + ctx.method() + " " + safePath(ctx)
                            : e.getStatus() == 405 ? "method not allowed: " + ctx.method() + " " + safePath(ctx)
                            : "request failed (" + e.getStatus() + ")", null, null)));
            cfg.routes.exception(Exception.class, (e, ctx) -> {
                log.println("error: " + ctx.method() + " " + safePath(ctx) + " failed: " + e.getClass().getSimpleName());
                error(ctx, new ApiError(500, "server_error", "internal server error", null, null));
            });
        });
    }

    /** Starts the server on {@code settings}' address (port 0: any free port). */
    public static OpenAiServer start(Scheduler scheduler, Model model, ServerMetrics metrics, Settings settings, String engine,
                                     PrintStream log) {
        OpenAiServer s = new OpenAiServer(scheduler, model, metrics, settings, engine, log);
        s.app.start();
        return s;
    }

    /** The port the server listens on. */
    public int port() {
        return connector.getLocalPort();
    }

    public String host() {
        return settings.host();
    }

    public boolean tls() {
        return settings.tlsCert() != null;
    }

    private Map<String, Object> modelEntry() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", model.id());
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "privllm");
        m.put("max_model_len", model.positions());
        return m;
    }

    private void health(Context ctx) {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("status", closing ? "shutting_down" : "ok");
        h.put("model", model.id());
        h.put("engine", engine);
        h.put("capacity", scheduler.capacity());
        h.put("running", scheduler.running());
        h.put("waiting", scheduler.waiting());
        json(ctx, closing ? 503 : 200, h);
    }

    private void authenticate(Context ctx) {
        if (keyDigest == null || ctx.path().equals("/health")) {
            return;
        }
        String auth = ctx.header("Authorization");
        String given = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).strip() : "";
        if (!MessageDigest.isEqual(keyDigest, sha256(given))) { // constant time: equal-length digests
            ctx.header("WWW-Authenticate", "Bearer");
            throw new ApiError(401, "invalid_request_error", "invalid or missing API key (Authorization: Bearer KEY)", null,
                    "invalid_api_key");
        }
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The events of one request, from the scheduler thread to the handler's. */
    private static final class Events implements Scheduler.Listener {
        final LinkedBlockingQueue<Object> queue = new LinkedBlockingQueue<>();

        @Override
        public void onToken(int token) {
            queue.add(token);
        }

        @Override
        public void onFinish(Finish finish) {
            queue.add(finish);
        }

        @Override
        public void onError(RuntimeException error) {
            queue.add(error);
        }
    }

    private void generate(Context ctx, boolean chat) {
        String endpoint = chat ? "chat.completions" : "completions";
        long t0 = System.nanoTime();
        inFlight.incrementAndGet();
        int[] counts = {0, 0, 0}; // prompt tokens, completion tokens, 1 when a stream ended in an error object
        Job job = null;
        String text = null;
        Scheduler.Ticket ticket = null;
        try {
            if (closing) {
                throw new ApiError(503, "server_error", "the server is shutting down", null, "shutting_down");
            }
            JsonNode body = parse(readBody(ctx));
            job = chat ? Requests.chat(body, view) : Requests.completion(body, view);
            counts[0] = job.prompt().length;
            Events events = new Events();
            try {
                ticket = scheduler.submit(new SequenceSpec(job.prompt(), job.sampling(), job.maxTokens(), model.stopIds()),
                        events, settings.requestTimeout());
            } catch (Scheduler.Overloaded e) {
                throw new ApiError(429, "rate_limit_error", e.getMessage(), null, "rate_limit_exceeded", retryAfter());
            } catch (Scheduler.ShuttingDown e) {
                throw new ApiError(503, "server_error", "the server is shutting down", null, "shutting_down");
            }
            metrics.promptTokens(job.prompt().length);
            TextStream stream = new TextStream(model.tokenizer(), job.prompt(), model.stopIds(), job.stop());
            String id = (chat ? "chatcmpl-" : "cmpl-") + HexFormat.of().formatHex(IDS.generateSeed(12));
            text = job.stream() ? streamed(ctx, job, ticket, events, stream, id, counts)
                    : whole(ctx, job, ticket, events, stream, id, counts);
        } catch (ApiError e) {
            cancel(ticket);
            error(ctx, e);
        } catch (RuntimeException | LinkageError | StackOverflowError e) {
            cancel(ticket); // the sequence must not go on generating for nobody until max_tokens
            log.println("error: " + ctx.method() + " " + safePath(ctx) + " failed: " + e.getClass().getSimpleName());
            error(ctx, new ApiError(500, "server_error", "internal server error", null, null));
        } finally {
            inFlight.decrementAndGet();
            int status = counts[2] != 0 ? 500 : ctx.statusCode(); // a stream's error object went out after a 200
            metrics.request(endpoint, status);
            if (counts[1] > 0) {
                metrics.completionTokens(counts[1]);
            }
            log.println(ctx.method() + " " + safePath(ctx) + " " + status + " "
                    + (System.nanoTime() - t0) / 1_000_000 + "ms prompt_tokens=" + counts[0] + " completion_tokens=" + counts[1]
                    + (settings.logContent() && job != null ? " prompt_ids=" + java.util.Arrays.toString(job.prompt())
                    + " output=" + quote(text) : ""));
        }
    }

    private static void cancel(Scheduler.Ticket ticket) {
        if (ticket != null) {
            ticket.cancel();
        }
    }

    /** The response as one JSON document; returns the text. */
    private String whole(Context ctx, Job job, Scheduler.Ticket ticket, Events events, TextStream stream, String id,
                         int[] counts) {
        String finish = null;
        List<Integer> ids = new ArrayList<>();
        while (finish == null) {
            Object e = take(events, ticket);
            if (e instanceof Integer tok) {
                counts[1]++;
                ids.add(tok);
                stream.push(tok);
                if (stream.stopped()) {
                    ticket.cancel();
                    finish = "stop";
                }
            } else if (e instanceof Finish f) {
                stream.finish();
                finish = f == Finish.STOP ? "stop" : "length";
            } else if (e instanceof RuntimeException r) {
                throw engineError(r);
            }
        }
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (job.chat()) {
            Map<String, Object> msg = new LinkedHashMap<>();
            msg.put("role", "assistant");
            msg.put("content", stream.text());
            msg.put("refusal", null);
            choice.put("message", msg);
        } else {
            choice.put("text", stream.text());
        }
        choice.put("logprobs", null);
        choice.put("finish_reason", finish);
        if (job.returnTokenIds()) {
            choice.put("token_ids", ids);
        }
        Map<String, Object> r = envelope(id, job.chat() ? "chat.completion" : "text_completion");
        r.put("choices", List.of(choice));
        r.put("usage", usage(counts));
        json(ctx, 200, r);
        return stream.text();
    }

    /** The response as server-sent events: chunks as text becomes showable, then [DONE]; returns the text. */
    private String streamed(Context ctx, Job job, Scheduler.Ticket ticket, Events events, TextStream stream, String id,
                            int[] counts) {
        ctx.status(200);
        ctx.res().setCharacterEncoding("UTF-8");
        ctx.res().setContentType("text/event-stream");
        ctx.res().setHeader("Cache-Control", "no-cache");
        ctx.res().setHeader("X-Accel-Buffering", "no");
        Emitter emitter = new Emitter(ctx.res());
        String object = job.chat() ? "chat.completion.chunk" : "text_completion";
        if (job.chat()) {
            Map<String, Object> delta = new LinkedHashMap<>();
            delta.put("role", "assistant");
            delta.put("content", "");
            if (!send(emitter, chunk(id, object, job, delta, null, List.of()))) {
                ticket.cancel();
                return stream.text();
            }
        }
        try {
            String finish = null;
            List<Integer> unsent = new ArrayList<>(); // ids whose text has not gone out in a chunk yet
            while (finish == null) {
                Object e;
                try {
                    e = events.queue.poll(KEEPALIVE.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException ie) {
                    ticket.cancel();
                    Thread.currentThread().interrupt();
                    return stream.text();
                }
                String piece = "";
                if (e == null) {
                    emitter.emit("keep-alive"); // an SSE comment: finds a client that has gone away
                    if (emitter.getClosed()) {
                        ticket.cancel();
                        return stream.text();
                    }
                    continue;
                } else if (e instanceof Integer tok) {
                    counts[1]++;
                    unsent.add(tok);
                    piece = stream.push(tok);
                    if (stream.stopped()) {
                        ticket.cancel();
                        finish = "stop";
                    }
                } else if (e instanceof Finish f) {
                    piece = stream.finish();
                    finish = f == Finish.STOP ? "stop" : "length";
                } else if (e instanceof RuntimeException r) {
                    ApiError err = engineError(r);
                    send(emitter, err.body());
                    send(emitter, "[DONE]");
                    return stream.text();
                }
                if (!piece.isEmpty()) {
                    if (!send(emitter, chunk(id, object, job, piece, null, List.copyOf(unsent)))) {
                        ticket.cancel(); // the client went away: free the slot
                        return stream.text();
                    }
                    unsent.clear();
                }
            }
            send(emitter, chunk(id, object, job, job.chat() ? Map.of() : "", finish, unsent));
            if (job.includeUsage()) {
                Map<String, Object> u = envelope(id, object);
                u.put("choices", List.of());
                u.put("usage", usage(counts));
                send(emitter, u);
            }
            send(emitter, "[DONE]");
            return stream.text();
        } catch (RuntimeException | LinkageError | StackOverflowError e) {
            // a failure of the server's own once the stream has begun (status 200 already sent): the client still
            // gets OpenAI's error object and the end of the stream, not a stream that just stops
            log.println("error: " + ctx.method() + " " + safePath(ctx) + " failed: " + e.getClass().getSimpleName());
            ticket.cancel();
            counts[2] = 1;
            send(emitter, new ApiError(500, "server_error", "internal server error", null, null).body());
            send(emitter, "[DONE]");
            return stream.text();
        }
    }

    /** One streamed chunk; {@code ids}: the tokens whose text it carries first shows (with return_token_ids). */
    private Map<String, Object> chunk(String id, String object, Job job, Object content, String finish, List<Integer> ids) {
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (job.chat()) {
            choice.put("delta", content instanceof String s ? Map.of("content", s) : content);
        } else {
            choice.put("text", content);
        }
        choice.put("logprobs", null);
        choice.put("finish_reason", finish);
        if (job.returnTokenIds()) {
            choice.put("token_ids", ids);
        }
        Map<String, Object> c = envelope(id, object);
        c.put("choices", List.of(choice));
        if (job.includeUsage()) {
            c.put("usage", null);
        }
        return c;
    }

    private Map<String, Object> envelope(String id, String object) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("id", id);
        r.put("object", object);
        r.put("created", System.currentTimeMillis() / 1000);
        r.put("model", model.id());
        r.put("system_fingerprint", null);
        return r;
    }

    private static Map<String, Object> usage(int[] counts) {
        Map<String, Object> u = new LinkedHashMap<>();
        u.put("prompt_tokens", counts[0]);
        u.put("completion_tokens", counts[1]);
        u.put("total_tokens", counts[0] + counts[1]);
        return u;
    }

    /** Writes one SSE data event; false when the client has gone away. */
    private static boolean send(Emitter emitter, Object data) {
        byte[] bytes;
        try {
            bytes = data instanceof String s ? s.getBytes(StandardCharsets.UTF_8) : JSON.writeValueAsBytes(data);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        emitter.emit(null, new ByteArrayInputStream(bytes), null);
        return !emitter.getClosed();
    }

    private Object take(Events events, Scheduler.Ticket ticket) {
        try {
            return events.queue.take();
        } catch (InterruptedException e) {
            ticket.cancel();
            Thread.currentThread().interrupt();
            throw new ApiError(503, "server_error", "the request was interrupted", null, null);
        }
    }

    /** What a client is told when the engine fails its request (details stay in the server's log). */
    private ApiError engineError(RuntimeException r) {
        if (r instanceof Scheduler.DeadlineExceeded) {
            return new ApiError(504, "server_error", "the request ran past the server's deadline", null, "deadline_exceeded");
        }
        if (r instanceof Scheduler.ShuttingDown) {
            return new ApiError(503, "server_error", "the server shut down before the request finished", null, "shutting_down");
        }
        if (r instanceof IllegalArgumentException) {
            return ApiError.invalid(null, "the model cannot run this request: " + oneLine(r.getMessage()));
        }
        log.println("error: engine failure: " + r.getClass().getSimpleName() + ": " + oneLine(r.getMessage()));
        if (r instanceof ExecutorCallException || r instanceof IntegrityException) {
            return new ApiError(503, "server_error", "the untrusted executors failed this request (after retries)", null,
                    "executor_unavailable");
        }
        return new ApiError(500, "server_error", "the inference engine failed", null, null);
    }

    private Integer retryAfter() {
        return 1;
    }

    /**
     * Bodies over the limit up to this many times it are read to the end (and dropped) before the 413: a server
     * that answers and closes while the client is still sending resets the connection, and the client then sees a
     * broken pipe instead of the error object. Larger ones are refused at once.
     */
    private static final long DRAIN_FACTOR = 4;

    private byte[] readBody(Context ctx) {
        long declared = ctx.req().getContentLengthLong(), max = settings.maxBodyBytes();
        boolean over = declared > max;
        if (over && declared > DRAIN_FACTOR * max) {
            throw tooLarge();
        }
        long deadline = System.nanoTime() + settings.bodyTimeout().toNanos(), seen = 0;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[16 << 10];
        try {
            InputStream in = ctx.req().getInputStream();
            for (int n; (n = in.read(buf)) >= 0; ) {
                seen += n;
                over |= seen > max;
                if (!over) {
                    out.write(buf, 0, n);
                } else if (seen > DRAIN_FACTOR * max) {
                    break;
                }
                if (System.nanoTime() - deadline > 0) {
                    if (over) {
                        break;
                    }
                    throw new ApiError(408, "invalid_request_error", "the request body took too long to arrive", null,
                            "request_timeout");
                }
            }
        } catch (IOException e) {
            if (!over) {
                throw new ApiError(408, "invalid_request_error", "the request body could not be read in time", null,
                        "request_timeout");
            }
        }
        if (over) {
            throw tooLarge();
        }
        return out.toByteArray();
    }

    private ApiError tooLarge() {
        return new ApiError(413, "invalid_request_error", "request body over " + settings.maxBodyBytes() + " bytes", null,
                "request_too_large");
    }

    private static JsonNode parse(byte[] body) {
        if (body.length == 0) {
            throw ApiError.invalid(null, "the request body is empty (expected a JSON object)");
        }
        try {
            return JSON.readTree(body);
        } catch (IOException | RuntimeException e) {
            throw ApiError.invalid(null, "the request body is not valid JSON", "invalid_json");
        }
    }

    /**
     * Writes a JSON response and flushes it before the handler returns (so that a request counted as finished
     * has its answer on the wire, also when the server stops right after).
     */
    private static void json(Context ctx, int status, Object body) {
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        ctx.status(status).contentType("application/json");
        ctx.res().setContentLength(bytes.length);
        try {
            var out = ctx.res().getOutputStream();
            out.write(bytes);
            out.flush();
        } catch (IOException e) {
            // the client has gone away: nothing to tell it
        }
    }

    private static void error(Context ctx, ApiError e) {
        if (e.retryAfterSeconds() != null) {
            ctx.header("Retry-After", Integer.toString(e.retryAfterSeconds()));
        }
        if (ctx.res().isCommitted()) {
            return;
        }
        json(ctx, e.status(), e.body());
    }

    /** The request path without its query, shortened and stripped of control characters (for logs and errors). */
    private static String safePath(Context ctx) {
        String p = ctx.path();
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < p.length() && sb.length() < 80; i++) {
            char c = p.charAt(i);
            sb.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return sb.toString();
    }

    private static String oneLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static String quote(String s) {
        try {
            return s == null ? "null" : JSON.writeValueAsString(s);
        } catch (IOException e) {
            return "?";
        }
    }

    /** Requests being handled. */
    public int inFlight() {
        return inFlight.get();
    }

    /**
     * Stops cleanly: new requests get 503, requests in the system finish (or, past the grace period, end with an
     * error object), executor sessions are closed, then the listener stops.
     */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        scheduler.close(settings.shutdownGrace());
        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (inFlight.get() > 0 && System.nanoTime() < until) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        app.stop();
    }

    static List<String> list(String... s) {
        return new ArrayList<>(List.of(s));
    }
}
