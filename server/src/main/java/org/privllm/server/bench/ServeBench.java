package org.privllm.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.privllm.model.DecoderModel;
import org.privllm.model.ForwardPass;
import org.privllm.model.generate.Sampling;
import org.privllm.model.tokenizer.Tokenizer;
import org.privllm.model.tokenizer.Tokenizers;
import org.privllm.server.http.TextStream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Load benchmark of a running {@code privllm serve}: {@code --requests M} streamed completions of mixed prompt
 * lengths (token-id prompts, {@code --prompt-tokens MIN-MAX}) and new-token counts ({@code --new-tokens MIN-MAX}),
 * half greedy and half seeded sampling, sent first one at a time (the single-client baseline, and each request's
 * answer alone) and then by {@code --clients N} concurrent clients. Reports p50/p99 time to first token and
 * inter-token latency, throughput against the single client's, and checks that every concurrent answer equals the
 * same request's answer alone (nothing lost, nothing mixed up). Exit 1 when any answer differs or fails.
 *
 * <p>With {@code --kill-pid} (an executor process of the server's {@code --executor A,B} list) the process is
 * SIGKILLed once {@code --kill-at} of the reference run's streamed chunks have streamed in the concurrent phase.
 * Each answer is then either the right text (redone on the next executor) or a clean OpenAI error object (with,
 * before it, at most a prefix of the right text); anything else — other text, a stream cut without an error or
 * [DONE], a failure to connect — is a failure, and so is a server that does not answer a request correctly
 * afterwards.
 *
 * <p>{@code --diff-out FILE} writes every differing answer with its request and reference (text and token ids) to
 * FILE; {@code --checkpoint DIR} checks such pairs against the plaintext model ({@link Divergence}) and counts one
 * that parts only at near ties of the levels' rounding as a tie, reported apart from the wrong ones.
 */
@Command(name = "bench-serve", mixinStandardHelpOptions = true, description = "Load-test a running privllm serve.")
public final class ServeBench implements Callable<Integer> {
    @Option(names = "--url", defaultValue = "http://127.0.0.1:8080", description = "The server (default ${DEFAULT-VALUE}).")
    String url;

    @Option(names = "--model", description = "Model id (default: the server's only model).")
    String model;

    @Option(names = "--clients", defaultValue = "8", description = "Concurrent streaming clients (default ${DEFAULT-VALUE}).")
    int clients;

    @Option(names = "--requests", defaultValue = "24", description = "Requests in all (default ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--prompt-tokens", defaultValue = "5-200", description = "Prompt length range (default ${DEFAULT-VALUE}).")
    String promptTokens;

    @Option(names = "--new-tokens", defaultValue = "16-64", description = "max_tokens range (default ${DEFAULT-VALUE}).")
    String newTokens;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the request mix (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--vocab", defaultValue = "50257", description = "Vocabulary size; prompt ids are drawn below it, the last id "
            + "(GPT-2's end of text) excluded (default ${DEFAULT-VALUE}).")
    int vocab;

    @Option(names = "--warmup", defaultValue = "3", description = "Requests sent first and not measured (JIT warm-up; default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--api-key", description = "Bearer key, if the server needs one.")
    String apiKey;

    @Option(names = "--json", description = "Print the report as one JSON object.")
    boolean json;

    @Option(names = "--kill-pid", description = "Kill this process (an executor) with SIGKILL in the middle of the concurrent "
            + "phase; answers may then end in a clean error object instead of the text, and the server must still serve "
            + "afterwards.")
    Long killPid;

    @Option(names = "--kill-at", defaultValue = "0.5", description = "With --kill-pid: kill once this fraction of the "
            + "concurrent phase's max tokens has streamed (default ${DEFAULT-VALUE}).")
    double killAt;

    @Option(names = "--diff-out", paramLabel = "FILE", description = "Write every answer that is not the same request's "
            + "alone, one JSON object a line: the request (prompt ids, max_tokens, temperature, seed), both answers' text "
            + "and token ids (asked for with return_token_ids), the first differing token and character, and with "
            + "--checkpoint the plaintext check of both. It holds prompts and outputs: nothing of them goes to the report.")
    Path diffOut;

    @Option(names = "--checkpoint", paramLabel = "DIR", description = "The served model's directory (public weights): "
            + "check each differing answer and its reference against the plaintext model's logits, step by step, and "
            + "count the pair as a near tie (\"ties\") only when every token of both is the model's pick up to the levels' "
            + "rounding (a greedy top-2 gap within 1e-4; a sampled draw next to the boundary of a neighbouring token's "
            + "interval), both end right and their text is their ids'; otherwise it stays wrong.")
    Path checkpoint;

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The seeded half of the mix samples at this temperature. */
    static final double TEMPERATURE = 0.8;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    public static void main(String[] args) {
        System.exit(new CommandLine(new ServeBench()).execute(args));
    }

    record Req(int index, int[] prompt, int maxTokens, Long seed) {}

    /**
     * One streamed answer: text, send→first chunk, gaps between chunks, completion tokens, text chunks; {@code error}
     * is the message of an error object the server sent ({@code clean}) or of a failure to get one (a stream that
     * ends without [DONE] or an error object is such a failure).
     */
    record Answer(String text, String error, double ttft, List<Double> gaps, int tokens, double seconds, int chunks,
            boolean clean, List<Integer> ids) {
        Answer(String text, String error, double ttft, List<Double> gaps, int tokens, double seconds, int chunks,
               boolean clean) {
            this(text, error, ttft, gaps, tokens, seconds, chunks, clean, List.of());
        }

        static Answer failed(String error) {
            return new Answer("", error, 0, List.of(), 0, 0, 0, false);
        }
    }

    /** What became of one request in the concurrent phase. */
    enum Outcome {
        /** exactly the text of the same request alone */
        OK,
        /** an error object (a 4xx/5xx body or an SSE error event), after at most a prefix of the right text */
        CLEAN_ERROR,
        /** text other than the same request's alone */
        WRONG,
        /**
         * other text, but both answers are the model's picks up to the levels' precision at every step, and part at
         * a near tie (proven against the plaintext model with --checkpoint; without it such an answer is WRONG)
         */
        TIE,
        /** no answer and no error object: I/O failure, a cut stream, a malformed reply */
        BROKEN
    }

    static Outcome outcome(Answer together, Answer alone) {
        if (together.error() == null) {
            return together.text().equals(alone.text()) ? Outcome.OK : Outcome.WRONG;
        }
        if (!together.clean()) {
            return Outcome.BROKEN;
        }
        return alone.text().startsWith(together.text()) ? Outcome.CLEAN_ERROR : Outcome.WRONG;
    }

    /** Chunks streamed in the concurrent phase, and the count at which to kill {@link #killPid}. */
    private final AtomicInteger streamed = new AtomicInteger();
    private volatile long killAtChunks = Long.MAX_VALUE;
    private volatile double killedAtSeconds = -1;
    private volatile long concurrentStart;

    @Override
    public Integer call() throws Exception {
        Map<String, Object> rep = run();
        if (json) {
            System.out.println(JSON.writeValueAsString(rep));
        } else {
            System.out.println(JSON.writer().with(SerializationFeature.INDENT_OUTPUT).writeValueAsString(rep));
        }
        return Boolean.TRUE.equals(rep.get("passed")) ? 0 : 1;
    }

    /** Runs the bench; the report, whose {@code passed} says whether every check held. */
    public Map<String, Object> run() throws Exception {
        url = url.replaceAll("/+$", "");
        if (model == null) {
            JsonNode models = JSON.readTree(get("/v1/models"));
            model = models.get("data").get(0).get("id").asText();
            if (models.get("data").get(0).has("max_model_len")) {
                int ctx = models.get("data").get(0).get("max_model_len").asInt();
                checkRange(promptTokens, newTokens, ctx);
            }
        }
        if (killPid != null && !(killAt > 0 && killAt < 1)) {
            throw new IllegalArgumentException("--kill-at must be in (0, 1), got " + killAt);
        }
        if (killPid != null && ProcessHandle.of(killPid).map(ProcessHandle::isAlive).orElse(false) == false) {
            throw new IllegalArgumentException("--kill-pid " + killPid + ": no such live process");
        }
        int[] pr = range(promptTokens);
        int[] nr = range(newTokens);
        SplittableRandom r = new SplittableRandom(seed);
        List<Req> mix = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            int[] p = new int[pr[0] + r.nextInt(pr[1] - pr[0] + 1)];
            for (int j = 0; j < p.length; j++) {
                p[j] = r.nextInt(vocab - 1);
            }
            mix.add(new Req(i, p, nr[0] + r.nextInt(nr[1] - nr[0] + 1), i % 2 == 0 ? null : r.nextLong(1L << 40)));
        }
        for (int i = 0; i < warmup && !mix.isEmpty(); i++) {
            send(mix.get(i % mix.size()));
        }
        // one client: the baseline, and each request's answer alone (the reference)
        long t0 = System.nanoTime();
        List<Answer> alone = new ArrayList<>();
        for (Req q : mix) {
            alone.add(send(q));
        }
        double aloneSeconds = (System.nanoTime() - t0) / 1e9;
        // N clients
        streamed.set(0);
        if (killPid != null) {
            // the kill point in chunks the concurrent phase will stream: the reference run streamed as many
            killAtChunks = Math.max(1, (long) (killAt * alone.stream().mapToInt(Answer::chunks).sum()));
        }
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        AtomicInteger next = new AtomicInteger();
        Answer[] together = new Answer[mix.size()];
        long t1 = System.nanoTime();
        concurrentStart = t1;
        List<Future<?>> fs = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            fs.add(pool.submit(() -> {
                for (int i; (i = next.getAndIncrement()) < mix.size(); ) {
                    together[i] = send(mix.get(i));
                }
                return null;
            }));
        }
        for (Future<?> f : fs) {
            f.get();
        }
        double togetherSeconds = (System.nanoTime() - t1) / 1e9;
        pool.shutdown();
        Boolean killed = null;
        if (killPid != null) {
            killed = killedAtSeconds >= 0 && ProcessHandle.of(killPid)
                    .map(h -> {
                        try {
                            h.onExit().get(30, TimeUnit.SECONDS);
                            return true;
                        } catch (Exception e) {
                            return false;
                        }
                    }).orElse(true);
        }
        int referenceErrors = 0;
        Map<Outcome, Integer> counts = new EnumMap<>(Outcome.class);
        for (Outcome o : Outcome.values()) {
            counts.put(o, 0);
        }
        List<Map<String, Object>> bad = new ArrayList<>();
        Differences diffs = diffOut == null && checkpoint == null ? null : new Differences(checkpoint);
        List<String> dump = new ArrayList<>();
        for (int i = 0; i < mix.size(); i++) {
            if (alone.get(i).error() != null) {
                referenceErrors++;
                bad.add(Map.of("request", i, "outcome", "reference_error", "error", alone.get(i).error()));
                continue;
            }
            Outcome o = outcome(together[i], alone.get(i));
            Map<String, Object> detail = null;
            if (o == Outcome.WRONG && diffs != null) {
                detail = diffs.describe(mix.get(i), together[i], alone.get(i));
                if (Boolean.TRUE.equals(detail.get("near_tie"))) {
                    o = Outcome.TIE;
                }
                dump.add(JSON.writeValueAsString(detail));
            }
            counts.merge(o, 1, Integer::sum);
            if (o != Outcome.OK && (o != Outcome.CLEAN_ERROR || killPid == null)) {
                Map<String, Object> b = new LinkedHashMap<>();
                b.put("request", i);
                b.put("outcome", o.name().toLowerCase(java.util.Locale.ROOT));
                if (together[i].error() != null) {
                    b.put("error", together[i].error());
                }
                if (detail != null && detail.get("check") instanceof Map<?, ?> check) {
                    b.put("check", check); // token indices and epsilons only: no ids, no text
                }
                bad.add(b);
            }
        }
        if (diffOut != null) {
            Files.write(diffOut, dump, StandardCharsets.UTF_8);
        }
        Boolean stillServing = null;
        if (killPid != null) {
            // after the kill: the server still answers, and right (on the surviving executor)
            boolean healthy;
            try {
                get("/health");
                healthy = true;
            } catch (Exception e) {
                healthy = false;
            }
            Answer after = send(mix.get(0));
            stillServing = healthy && after.error() == null && after.text().equals(alone.get(0).text());
        }
        Map<String, Object> rep = new LinkedHashMap<>();
        rep.put("url", url);
        rep.put("model", model);
        rep.put("clients", clients);
        rep.put("requests", requests);
        rep.put("prompt_tokens", promptTokens);
        rep.put("new_tokens", newTokens);
        rep.put("single_client", stats(alone, aloneSeconds));
        rep.put("concurrent", stats(Arrays.asList(together), togetherSeconds));
        double aloneTps = tokens(alone) / aloneSeconds;
        double togetherTps = tokens(Arrays.asList(together)) / togetherSeconds;
        rep.put("throughput_ratio", round(togetherTps / aloneTps));
        rep.put("ok", counts.get(Outcome.OK));
        rep.put("clean_errors", counts.get(Outcome.CLEAN_ERROR));
        rep.put("wrong", counts.get(Outcome.WRONG));
        rep.put("ties", counts.get(Outcome.TIE));
        rep.put("broken", counts.get(Outcome.BROKEN));
        rep.put("reference_errors", referenceErrors);
        rep.put("bad_requests", bad);
        if (killPid != null) {
            rep.put("executor_killed", killed);
            rep.put("executor_killed_at_s", killedAtSeconds >= 0 ? round(killedAtSeconds) : null);
            rep.put("executor_killed_after_chunks", killedAtSeconds >= 0 ? killAtChunks : null);
            rep.put("still_serving", stillServing);
        }
        boolean passed = referenceErrors == 0 && counts.get(Outcome.WRONG) == 0 && counts.get(Outcome.BROKEN) == 0
                && (killPid == null ? counts.get(Outcome.CLEAN_ERROR) == 0 : killed && stillServing);
        rep.put("passed", passed);
        return rep;
    }

    /**
     * Describes answers that differ from their reference, for --diff-out; with a checkpoint, checks both against the
     * plaintext model ({@link Divergence}) and says whether they part at a near tie.
     */
    static final class Differences {
        private final ForwardPass plain;
        private final Tokenizer tokenizer;
        private final int[] stopIds;

        Differences(Path checkpoint) {
            if (checkpoint == null) {
                plain = null;
                tokenizer = null;
                stopIds = null;
            } else {
                DecoderModel m = DecoderModel.open(checkpoint); // the plaintext engine reads what it keeps only
                plain = m.plainForward();
                tokenizer = Tokenizers.present(checkpoint) ? Tokenizers.load(checkpoint) : null;
                stopIds = Tokenizers.stopIds(m.config(), tokenizer);
            }
        }

        /** The request, both answers and where they part; {@code near_tie} and {@code check} with a checkpoint. */
        Map<String, Object> describe(Req q, Answer served, Answer alone) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("request", q.index());
            d.put("prompt_ids", q.prompt());
            d.put("max_tokens", q.maxTokens());
            d.put("temperature", q.seed() == null ? 0 : TEMPERATURE);
            d.put("seed", q.seed());
            d.put("served", answer(served));
            d.put("alone", answer(alone));
            d.put("first_differing_token", firstDifference(served.ids(), alone.ids()));
            d.put("first_differing_char", firstDifference(chars(served.text()), chars(alone.text())));
            if (plain == null) {
                return d;
            }
            Divergence.Request r = new Divergence.Request(q.prompt(), sampling(q), q.maxTokens(), stopIds);
            int[] s = ints(served.ids());
            int[] a = ints(alone.ids());
            Divergence.Trajectory ts = Divergence.check(plain, r, s, served.error() == null);
            Divergence.Trajectory ta = Divergence.check(plain, r, a, true);
            boolean textsMatch = tokenizer == null || TextStream.text(tokenizer, q.prompt(), stopIds, s).equals(served.text())
                    && TextStream.text(tokenizer, q.prompt(), stopIds, a).equals(alone.text());
            Map<String, Object> check = new LinkedHashMap<>();
            check.put("served", trajectory(ts));
            check.put("alone", trajectory(ta));
            check.put("texts_match_ids", textsMatch);
            int k = firstDifference(served.ids(), alone.ids());
            check.put("first_differing_token", k);
            if (k >= 0 && k < s.length && k < a.length) {
                check.put("plaintext_top2_gap", Divergence.topTwoGap(Divergence.logits(plain, q.prompt(),
                        Arrays.copyOf(s, k + 1)), q.prompt().length - 1 + k));
                check.put("served_epsilon", epsilonAt(ts, k));
                check.put("alone_epsilon", epsilonAt(ta, k));
            }
            check.put("tie_epsilon", Divergence.TIE_EPSILON);
            d.put("check", check);
            d.put("steps_off_plaintext", Map.of("served", steps(ts), "alone", steps(ta)));
            d.put("near_tie", k >= 0 && textsMatch && ts.explained() && ta.explained());
            return d;
        }

        private static Map<String, Object> answer(Answer a) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("text", a.text());
            m.put("ids", a.ids());
            m.put("error", a.error());
            return m;
        }

        /** Indices and epsilons only (this goes into the report). */
        private static Map<String, Object> trajectory(Divergence.Trajectory t) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("tokens_off_plaintext", t.offPlain().stream().map(Divergence.Step::index).toList());
            m.put("max_epsilon", t.maxEpsilon());
            m.put("ends_right", t.ending() == null);
            if (t.ending() != null) {
                m.put("ending", t.ending());
            }
            return m;
        }

        private static List<Map<String, Object>> steps(Divergence.Trajectory t) {
            return t.offPlain().stream().map(st -> Map.<String, Object>of("index", st.index(), "token", st.token(),
                    "plaintext", st.plaintext(), "epsilon", st.epsilon())).toList();
        }

        private static double epsilonAt(Divergence.Trajectory t, int index) {
            return t.offPlain().stream().filter(st -> st.index() == index).mapToDouble(Divergence.Step::epsilon)
                    .findFirst().orElse(0);
        }

        private static List<Integer> chars(String s) {
            return s.chars().boxed().toList();
        }

        /** The first index where the lists differ (the shorter one's length if one is a prefix), -1 if equal. */
        static int firstDifference(List<Integer> x, List<Integer> y) {
            int n = Math.min(x.size(), y.size());
            for (int i = 0; i < n; i++) {
                if (!x.get(i).equals(y.get(i))) {
                    return i;
                }
            }
            return x.size() == y.size() ? -1 : n;
        }

        private static int[] ints(List<Integer> l) {
            return l.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    /** The sampling a request of the mix asks for (what the server builds from its body). */
    static Sampling sampling(Req q) {
        return q.seed() == null ? Sampling.GREEDY : Sampling.sample((float) TEMPERATURE, 0, 1f, q.seed());
    }

    private static int tokens(List<Answer> as) {
        return as.stream().mapToInt(Answer::tokens).sum();
    }

    private static Map<String, Object> stats(List<Answer> as, double seconds) {
        Map<String, Object> s = new LinkedHashMap<>();
        double[] ttft = as.stream().filter(a -> a.error() == null).mapToDouble(Answer::ttft).sorted().toArray();
        double[] itl = as.stream().filter(a -> a.error() == null).flatMap(a -> a.gaps().stream()).mapToDouble(d -> d).sorted().toArray();
        s.put("seconds", round(seconds));
        s.put("completion_tokens", tokens(as));
        s.put("tokens_per_s", round(tokens(as) / seconds));
        s.put("ttft_p50_ms", round(1000 * pct(ttft, 0.50)));
        s.put("ttft_p99_ms", round(1000 * pct(ttft, 0.99)));
        s.put("itl_p50_ms", round(1000 * pct(itl, 0.50)));
        s.put("itl_p99_ms", round(1000 * pct(itl, 0.99)));
        return s;
    }

    static double pct(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private Answer send(Req q) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("model", model);
        body.put("prompt", q.prompt());
        body.put("max_tokens", q.maxTokens());
        body.put("temperature", q.seed() == null ? 0 : TEMPERATURE);
        if (q.seed() != null) {
            body.put("seed", q.seed());
        }
        body.put("stream", true);
        body.put("stream_options", Map.of("include_usage", true));
        if (diffOut != null || checkpoint != null) {
            body.put("return_token_ids", true);
        }
        long t0 = System.nanoTime();
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + "/v1/completions"))
                    .timeout(Duration.ofMinutes(30)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
            if (apiKey != null) {
                b.header("Authorization", "Bearer " + apiKey);
            }
            HttpResponse<Stream<String>> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofLines());
            if (resp.statusCode() != 200) {
                String reply = String.join("", resp.body().toList());
                boolean clean;
                try {
                    clean = JSON.readTree(reply).path("error").hasNonNull("type");
                } catch (IOException e) {
                    clean = false;
                }
                return new Answer("", "HTTP " + resp.statusCode() + " " + reply, 0, List.of(), 0, 0, 0, clean);
            }
            StringBuilder text = new StringBuilder();
            List<Integer> ids = new ArrayList<>();
            List<Double> gaps = new ArrayList<>();
            double ttft = -1;
            long last = 0;
            int tokens = 0;
            int chunks = 0;
            String error = null;
            boolean clean = false;
            boolean done = false;
            for (String line : (Iterable<String>) resp.body()::iterator) {
                if (line.equals("data: [DONE]")) {
                    done = true;
                    continue;
                }
                if (!line.startsWith("data: ")) {
                    continue;
                }
                JsonNode j = JSON.readTree(line.substring(6));
                if (j.has("error")) {
                    error = j.get("error").path("message").asText();
                    clean = j.get("error").hasNonNull("type") && j.get("error").has("message");
                    continue;
                }
                if (j.hasNonNull("usage") && j.get("choices").isEmpty()) {
                    tokens = j.get("usage").get("completion_tokens").asInt();
                    continue;
                }
                long now = System.nanoTime();
                for (JsonNode c : j.get("choices")) {
                    c.path("token_ids").forEach(t -> ids.add(t.asInt()));
                    String piece = c.path("text").asText("");
                    if (piece.isEmpty()) {
                        continue;
                    }
                    if (ttft < 0) {
                        ttft = (now - t0) / 1e9;
                    } else {
                        gaps.add((now - last) / 1e9);
                    }
                    last = now;
                    text.append(piece);
                    chunks++;
                    if (streamed.incrementAndGet() == killAtChunks) {
                        kill();
                    }
                }
            }
            if (error == null && !done) {
                error = "the stream ended without [DONE] or an error object";
            }
            return new Answer(text.toString(), error, Math.max(ttft, 0), gaps, tokens, (System.nanoTime() - t0) / 1e9,
                    chunks, clean, List.copyOf(ids));
        } catch (IOException | RuntimeException e) {
            return Answer.failed((e instanceof IOException ? "I/O: " : "") + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Answer.failed("interrupted");
        }
    }

    /** SIGKILL to {@link #killPid}, once (from the client thread that streamed the chunk that reached the mark). */
    private void kill() {
        boolean sent = ProcessHandle.of(killPid).map(ProcessHandle::destroyForcibly).orElse(false);
        if (sent) {
            killedAtSeconds = (System.nanoTime() - concurrentStart) / 1e9;
        }
        System.err.println("bench-serve: " + (sent ? "killed" : "could not kill") + " process " + killPid + " after "
                + killAtChunks + " streamed chunks");
    }

    private String get(String path) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(30));
        if (apiKey != null) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException(path + ": HTTP " + r.statusCode());
        }
        return r.body();
    }

    static int[] range(String s) {
        String[] p = s.split("-");
        int a = Integer.parseInt(p[0].strip());
        int b = p.length > 1 ? Integer.parseInt(p[1].strip()) : a;
        if (a < 1 || b < a) {
            throw new IllegalArgumentException("bad range '" + s + "' (MIN-MAX, MIN >= 1)");
        }
        return new int[] {a, b};
    }

    private static void checkRange(String prompt, String fresh, int context) {
        if (range(prompt)[1] + range(fresh)[1] > context) {
            throw new IllegalArgumentException("--prompt-tokens max + --new-tokens max exceed the model's context " + context);
        }
    }
}
