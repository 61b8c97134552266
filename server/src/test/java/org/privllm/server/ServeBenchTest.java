package org.privllm.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.privllm.server.bench.ServeBench;
import org.privllm.untrusted.server.ExecutorServerMain;
import picocli.CommandLine;

/**
 * The load benchmark ({@code scripts/bench-serve.sh}'s {@link ServeBench}) at a small scale on the tiny fixture at
 * {@code --privacy strong}: 4 concurrent streaming clients, 8 requests, every concurrent answer checked against the
 * same request alone. Then the same load over two executor processes with the first SIGKILLed mid-load: no wrong
 * or cut answer (each is the right text or a clean error object), and the server still serves right afterwards;
 * with {@code --retries 1} every request is redone on the second, with {@code --retries 0} those in flight end in
 * error objects.
 */
class ServeBenchTest {
    private static final String[] LOAD = {"--clients", "4", "--requests", "8", "--prompt-tokens", "5-40",
            "--new-tokens", "8-24", "--warmup", "1", "--seed", "3"};

    private static Map<String, Object> bench(String url, String... extra) throws Exception {
        ServeBench b = new ServeBench();
        List<String> args = new ArrayList<>(List.of("--url", url));
        args.addAll(List.of(LOAD));
        args.addAll(List.of(extra));
        new CommandLine(b).parseArgs(args.toArray(String[]::new));
        Map<String, Object> rep = b.run();
        System.out.println("bench: " + Http.JSON.writeValueAsString(rep));
        return rep;
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void concurrentAnswersEqualAlone() throws Exception {
        try (Fixtures.Running s = Fixtures.serve("--privacy", "strong", "--max-batch", "4")) {
            Map<String, Object> rep = bench(s.base());
            assertThat(rep).containsEntry("ok", 8).containsEntry("wrong", 0).containsEntry("broken", 0)
                    .containsEntry("clean_errors", 0).containsEntry("reference_errors", 0).containsEntry("passed", true)
                    .doesNotContainKey("executor_killed");
            @SuppressWarnings("unchecked")
            Map<String, Object> concurrent = (Map<String, Object>) rep.get("concurrent");
            assertThat(concurrent).containsKeys("tokens_per_s", "ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms");
            assertThat((Integer) concurrent.get("completion_tokens")).isPositive();
        }
    }

    @ParameterizedTest(name = "--retries {0}")
    @ValueSource(ints = {1, 0})
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void executorKilledMidLoad(int retries, @TempDir Path dir) throws Exception {
        Process a = executor(dir.resolve("a"));
        Process b = executor(dir.resolve("b"));
        try {
            String ea = "127.0.0.1:" + port(a, dir.resolve("a"));
            String eb = "127.0.0.1:" + port(b, dir.resolve("b"));
            try (Fixtures.Running s = Fixtures.serve("--privacy", "strong", "--executor", ea + "," + eb, "--retries", Integer.toString(retries),
                    "--max-batch", "4", "--deadline-ms", "10000")) {
                Map<String, Object> rep = bench(s.base(), "--kill-pid", Long.toString(a.pid()));
                assertThat(a.waitFor(30, TimeUnit.SECONDS)).as("executor A killed").isTrue();
                assertThat(b.isAlive()).isTrue();
                assertThat(rep).containsEntry("executor_killed", true).containsEntry("still_serving", true)
                        .containsEntry("wrong", 0).containsEntry("broken", 0).containsEntry("reference_errors", 0)
                        .containsEntry("passed", true);
                assertThat((Integer) rep.get("ok") + (Integer) rep.get("clean_errors")).isEqualTo(8);
                if (retries > 0) {
                    assertThat((Integer) rep.get("ok")).as("requests redone on executor B").isEqualTo(8);
                    assertThat(Http.get(s.base() + "/metrics").body()).containsPattern("privllm_executor_retries_total [1-9]");
                } else {
                    assertThat((Integer) rep.get("clean_errors")).as("requests in flight at the kill, not redone").isPositive();
                }
            }
        } finally {
            a.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            b.destroy();
            b.waitFor(10, TimeUnit.SECONDS);
            b.destroyForcibly();
        }
    }

    /** {@code privllm executor --listen 127.0.0.1:0} as its own process (stdout and stderr under {@code dir}). */
    private static Process executor(Path dir) throws Exception {
        Files.createDirectories(dir);
        return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-cp", System.getProperty("java.class.path"), ExecutorServerMain.class.getName(),
                "--listen", "127.0.0.1:0")
                .redirectOutput(dir.resolve("out").toFile()).redirectError(dir.resolve("err").toFile()).start();
    }

    /** The port from the executor's ready line. */
    private static int port(Process p, Path dir) throws Exception {
        long until = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < until) {
            String out = Files.readString(dir.resolve("out"));
            if (out.contains("listening on")) {
                return Integer.parseInt(out.lines().findFirst().orElseThrow().replaceAll(".*:(\\d+)\\s*$", "$1"));
            }
            if (!p.isAlive()) {
                break;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("executor did not start: " + Files.readString(dir.resolve("err")));
    }
}
