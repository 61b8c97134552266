package org.privllm.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.generate.Sampling;

/**
 * {@code privllm serve} as its own process: exactly one line on stdout once it accepts requests; SIGTERM while a
 * request streams lets it finish (the whole answer, then [DONE]), closes everything and ends the process.
 */
class ServeProcessTest {
    @Test
    void readyLineAndSigtermWhileStreaming(@TempDir Path dir) throws Exception {
        Path stderr = dir.resolve("stderr.txt");
        Path stdout = dir.resolve("stdout.txt");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), ServeCommand.class.getName(),
                "--model", Fixtures.model().toString(), "--listen", "127.0.0.1:0", "--max-batch", "2", "--shutdown-grace", "60")
                .redirectError(stderr.toFile()).redirectOutput(stdout.toFile()).start();
        try {
            long until = System.currentTimeMillis() + 120_000;
            while (Files.readString(stdout).indexOf('\n') < 0 && p.isAlive() && System.currentTimeMillis() < until) {
                Thread.sleep(50);
            }
            String ready = Files.readString(stdout).lines().findFirst().orElse(null);
            assertThat(ready).as("ready line; stderr: " + (Files.exists(stderr) ? Files.readString(stderr) : ""))
                    .startsWith("privllm serve listening on http://127.0.0.1:").contains("plaintext");
            int port = Integer.parseInt(ready.replaceAll(".*127\\.0\\.0\\.1:(\\d+).*", "$1"));
            String model = Fixtures.model().getFileName().toString();
            String prompt = "The history of";
            String expected = Fixtures.text(Fixtures.generate(Fixtures.tokenizer().encode(prompt), 100, Sampling.GREEDY, null));
            CountDownLatch underway = new CountDownLatch(1);
            CompletableFuture<String> stream = CompletableFuture.supplyAsync(() -> FailoverTest.streamUntil(port,
                    "{\"model\": \"" + model + "\", \"prompt\": \"" + prompt + "\", \"max_tokens\": 100, \"temperature\": 0, "
                            + "\"stream\": true}", underway));
            assertThat(underway.await(60, TimeUnit.SECONDS)).isTrue();
            p.destroy(); // SIGTERM
            String body = stream.get(90, TimeUnit.SECONDS);
            assertThat(body).contains("data: [DONE]");
            String sse = String.join("\n", body.lines().filter(l -> l.startsWith("data: ")).toList());
            assertThat(FailoverTest.streamedText(sse)).isEqualTo(expected);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exits on SIGTERM").isTrue();
            assertThat(Files.readAllLines(stdout)).as("stdout holds only the ready line").containsExactly(ready);
            assertThat(Files.readString(stderr)).contains("privllm serve stopped").doesNotContain("The history");
        } finally {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void optionErrorsAreOneLine() {
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.err;
        System.setErr(new java.io.PrintStream(err, true));
        int code;
        try {
            code = ServeCommand.execute("--model", Fixtures.model().toString(), "--listen", "nonsense");
        } finally {
            System.setErr(old);
        }
        assertThat(code).isEqualTo(1);
        assertThat(err.toString().strip()).startsWith("error: --listen must be HOST:PORT").doesNotContain("\n");
    }
}
