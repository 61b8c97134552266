package org.privllm.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.privllm.model.generate.Sampling;

/**
 * Thousands of malformed and hostile requests — random bytes, broken HTTP, random and mutated JSON (wrong types,
 * huge fields, deep nesting), oversized bodies and headers, slow bodies and slow-loris connections — while a
 * well-behaved client keeps getting exactly the right answer. No hostile request may get a 5xx (except Jetty's
 * 505 for a garbage HTTP version), every 4xx with a body is an OpenAI error object, and the server is healthy
 * afterwards.
 */
class FuzzTest {
    static final int HOSTILE = 2000;
    static final JsonNodeFactory F = JsonNodeFactory.instance;

    @Test
    void hostileTrafficNeverBreaksTheServer() throws Exception {
        try (Fixtures.Running s = Fixtures.serve("--max-batch", "2", "--max-queue", "256", "--max-body-bytes", "65536",
                "--body-timeout", "2", "--idle-timeout", "3")) {
            String model = Fixtures.model().getFileName().toString();
            int port = s.server.port();
            String good = "{\"model\": \"" + model + "\", \"prompt\": \"The quick brown fox\", \"max_tokens\": 8, \"temperature\": 0}";
            String expected = Fixtures.text(Fixtures.generate(Fixtures.tokenizer().encode("The quick brown fox"), 8,
                    Sampling.GREEDY, null));
            AtomicBoolean done = new AtomicBoolean();
            AtomicInteger served = new AtomicInteger();
            List<String> wrong = new java.util.concurrent.CopyOnWriteArrayList<>();
            Thread wellBehaved = Thread.ofPlatform().start(() -> {
                while (!done.get()) {
                    Http.Reply r = Http.post(s.base() + "/v1/completions", good);
                    if (r.status() == 200 && r.json().get("choices").get(0).get("text").asText().equals(expected)) {
                        served.incrementAndGet();
                    } else {
                        wrong.add(r.status() + " " + r.body());
                    }
                }
            });
            // slow-loris connections: a partial request line, then silence (cut off by the idle timeout)
            List<Socket> loris = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                Socket so = new Socket("127.0.0.1", port);
                so.getOutputStream().write("POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.ISO_8859_1));
                loris.add(so);
            }
            Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
            List<String> bad = new java.util.concurrent.CopyOnWriteArrayList<>();
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < HOSTILE; i++) {
                int seed = i;
                futures.add(pool.submit(() -> {
                    SplittableRandom r = new SplittableRandom(seed);
                    int kind = r.nextInt(8);
                    if (i_slow(kind, seed)) {
                        kind = 8;
                    }
                    String reply = hostile(kind, r, port, model);
                    int status = Http.status(reply);
                    statuses.computeIfAbsent(status, k -> new AtomicInteger()).incrementAndGet();
                    boolean ok = status == -1 || status < 500 || (status == 505 && kind <= 1);
                    if (!ok) {
                        bad.add("case " + seed + " kind " + kind + ": " + firstLine(reply));
                    } else if (status >= 400 && status < 500 && bodyOf(reply).length() > 0 && !bodyOf(reply).contains("\"error\"")) {
                        bad.add("case " + seed + " kind " + kind + ": a " + status + " without an error object: " + firstLine(reply));
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(5, TimeUnit.MINUTES);
            }
            pool.shutdown();
            Thread.sleep(3500); // past the idle timeout: the slow-loris connections are gone
            int cut = 0;
            for (Socket so : loris) {
                so.setSoTimeout(1000);
                try {
                    if (so.getInputStream().read() == -1) {
                        cut++;
                    }
                } catch (java.io.IOException e) {
                    cut++;
                }
                so.close();
            }
            done.set(true);
            wellBehaved.join(60_000);
            assertThat(bad).as("hostile requests answered badly").isEmpty();
            assertThat(wrong).as("the well-behaved client got a wrong answer").isEmpty();
            assertThat(served.get()).isGreaterThanOrEqualTo(3);
            assertThat(cut).as("slow-loris connections closed by the idle timeout").isEqualTo(loris.size());
            assertThat(statuses.keySet()).contains(400, 413);
            Http.Reply h = Http.get(s.base() + "/health");
            assertThat(h.status()).isEqualTo(200);
            assertThat(h.json().get("running").asInt()).isZero();
            assertThat(Http.post(s.base() + "/v1/completions", good).json().get("choices").get(0).get("text").asText())
                    .isEqualTo(expected);
            System.out.println("fuzz statuses: " + statuses + ", well-behaved answers: " + served.get());
        }
    }

    /** A few cases are slow bodies (they hold a connection for seconds). */
    private static boolean i_slow(int kind, int seed) {
        return seed % 300 == 7;
    }

    static String hostile(int kind, SplittableRandom r, int port, String model) {
        return switch (kind) {
            case 0 -> Http.raw(port, randomBytes(r, 1 + r.nextInt(2000)), 5000);
            case 1 -> Http.raw(port, (pick(r, "GET", "POST", "PUT", "DELETE", "PATCH", "BREW", "\u0000", "")
                    + " " + pick(r, "/", "/v1/completions", "/v1/chat/completions", "/v1/models/x", "/../../etc/passwd",
                    "/%00", "/v1/completions?" + "a".repeat(r.nextInt(9000)), "*") + " "
                    + pick(r, "HTTP/1.1", "HTTP/1.0", "HTTP/9.9", "XX", "") + "\r\nHost: x\r\n"
                    + (r.nextBoolean() ? "Content-Length: " + pick(r, "-1", "abc", "99999999999", "5") + "\r\n" : "")
                    + "\r\n").getBytes(StandardCharsets.ISO_8859_1), 5000);
            case 2 -> post(port, pick(r, "/v1/completions", "/v1/chat/completions"), randomBytes(r, r.nextInt(3000)));
            case 3, 4, 5 -> post(port, kind == 5 ? "/v1/chat/completions" : "/v1/completions",
                    mutated(r, model, kind == 5).getBytes(StandardCharsets.UTF_8));
            case 6 -> post(port, "/v1/completions", ("{\"model\": \"" + model + "\", \"prompt\": \""
                    + "x".repeat(65_536 + r.nextInt(100_000)) + "\"}").getBytes(StandardCharsets.UTF_8));
            case 7 -> Http.raw(port, ("POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Big: " + "h".repeat(20_000 + r.nextInt(20_000))
                    + "\r\nContent-Length: 2\r\n\r\n{}").getBytes(StandardCharsets.ISO_8859_1), 5000);
            default -> slowBody(port, model);
        };
    }

    static String post(int port, String path, byte[] body) {
        byte[] head = ("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = new byte[head.length + body.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return Http.raw(port, all, 30_000);
    }

    /** Headers and part of the body, then silence longer than the body and idle timeouts. */
    static String slowBody(int port, String model) {
        try (Socket so = new Socket("127.0.0.1", port)) {
            so.setSoTimeout(10_000);
            OutputStream out = so.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{\"model\": \"")
                    .getBytes(StandardCharsets.ISO_8859_1));
            for (int i = 0; i < 3; i++) {
                Thread.sleep(900);
                out.write('x');
                out.flush();
            }
            return new String(so.getInputStream().readNBytes(1 << 16), StandardCharsets.ISO_8859_1);
        } catch (Exception e) {
            return "";
        }
    }

    static String mutated(SplittableRandom r, String model, boolean chat) {
        ObjectNode o = F.objectNode();
        o.put("model", model);
        if (chat) {
            ArrayNode msgs = o.putArray("messages");
            msgs.addObject().put("role", "user").put("content", "hi there");
        } else {
            o.put("prompt", "hello");
        }
        o.put("max_tokens", 1 + r.nextInt(6));
        o.put("temperature", 0);
        List<String> fields = List.of("model", "prompt", "messages", "max_tokens", "max_completion_tokens", "temperature",
                "top_p", "seed", "stop", "stream", "stream_options", "n", "logprobs", "echo", "user", "top_k",
                "chat_template_kwargs", "presence_penalty", "tools", "zzz" + r.nextInt(100));
        int edits = 1 + r.nextInt(3);
        for (int e = 0; e < edits; e++) {
            String f = fields.get(r.nextInt(fields.size()));
            if (r.nextInt(5) == 0) {
                o.remove(f);
            } else {
                o.set(f, randomValue(r, 0));
            }
        }
        // keep accidental valid requests short
        JsonNode mt = o.get("max_tokens");
        if (mt != null && mt.isIntegralNumber() && mt.asLong() > 8) {
            o.put("max_tokens", r.nextBoolean() ? mt.asLong() : 8);
        }
        o.remove("max_completion_tokens");
        String s = o.toString();
        if (r.nextInt(10) == 0) {
            s = "[".repeat(200 + r.nextInt(2000)) + s; // deep nesting
        } else if (r.nextInt(10) == 0) {
            s = s.substring(0, r.nextInt(s.length())); // truncated
        }
        return s;
    }

    static JsonNode randomValue(SplittableRandom r, int depth) {
        return switch (r.nextInt(depth > 2 ? 7 : 9)) {
            case 0 -> F.nullNode();
            case 1 -> F.booleanNode(r.nextBoolean());
            case 2 -> F.numberNode(pickLong(r));
            case 3 -> F.numberNode(r.nextDouble() * Math.pow(10, r.nextInt(40) - 20) * (r.nextBoolean() ? 1 : -1));
            case 4 -> F.textNode(randomString(r, r.nextInt(10) == 0 ? 20_000 : r.nextInt(40)));
            case 5 -> F.numberNode(new java.math.BigInteger(200, new java.util.Random(r.nextLong())));
            case 6 -> F.textNode("");
            case 7 -> {
                ArrayNode a = F.arrayNode();
                int n = r.nextInt(5);
                for (int i = 0; i < n; i++) {
                    a.add(randomValue(r, depth + 1));
                }
                yield a;
            }
            default -> {
                ObjectNode o = F.objectNode();
                int n = r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    o.set(pick(r, "role", "content", "include_usage", "type", "text", "x"), randomValue(r, depth + 1));
                }
                yield o;
            }
        };
    }

    static long pickLong(SplittableRandom r) {
        long[] edge = {0, -1, 1, 2, 127, 128, 50256, 50257, Integer.MAX_VALUE, Integer.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE};
        return r.nextBoolean() ? edge[r.nextInt(edge.length)] : r.nextLong();
    }

    static String randomString(SplittableRandom r, int n) {
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            int cp = switch (r.nextInt(4)) {
                case 0 -> r.nextInt(32);
                case 1 -> 32 + r.nextInt(95);
                case 2 -> 0x80 + r.nextInt(0x700);
                default -> 0x1F300 + r.nextInt(0x200);
            };
            sb.appendCodePoint(cp);
        }
        return sb.toString();
    }

    static byte[] randomBytes(SplittableRandom r, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) r.nextInt(256);
        }
        return b;
    }

    @SafeVarargs
    static <T> T pick(SplittableRandom r, T... options) {
        return options[r.nextInt(options.length)];
    }

    static String firstLine(String raw) {
        int nl = raw.indexOf('\n');
        return (nl < 0 ? raw : raw.substring(0, nl)).strip() + " … " + bodyOf(raw).substring(0, Math.min(200, bodyOf(raw).length()));
    }

    static String bodyOf(String raw) {
        int at = raw.indexOf("\r\n\r\n");
        return at < 0 ? "" : raw.substring(at + 4);
    }
}
