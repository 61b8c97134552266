package org.privllm.untrusted.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.InsecureChannelCredentials;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.protocol.grpc.ExecutorCallException;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.tensor.Matrix;
import org.privllm.untrusted.InProcessExecutor;

/** The executor as a real separate process on loopback. */
class ExecutorProcessTest {
    private static GrpcExecutorClient client(ExecutorProcess p, Duration deadline) {
        return GrpcExecutorClient.connect(p.address(), InsecureChannelCredentials.create(),
                GrpcExecutorClient.Options.defaults().withCallTimeout(deadline));
    }

    @Test
    void sameResultsAsInProcessTranscriptOnDiskAndCleanShutdownOnSigterm(@TempDir Path dir) throws Exception {
        Path transcript = dir.resolve("transcript");
        Workload w = new Workload(21, 24, 3, 3);
        List<Matrix> local;
        try (InProcessExecutor ex = new InProcessExecutor()) {
            local = w.run(ex);
        }
        try (ExecutorProcess p = ExecutorProcess.start("--transcript", transcript.toString(), "--max-sessions", "4");
             GrpcExecutorClient c = client(p, Duration.ofSeconds(20))) {
            assertThat(p.readyLine).isEqualTo("privllm executor listening on 127.0.0.1:" + p.port);
            List<Matrix> remote = w.run(c);
            assertThat(Workload.maxRelativeDifference(local, remote)).isLessThan(1e-5);

            // what the executor received is on disk, with shapes, and equals what was sent
            List<TranscriptReader.Call> calls = TranscriptReader.read(transcript);
            assertThat(calls.getFirst().call()).isEqualTo("open_session");
            assertThat(calls.getLast().call()).isEqualTo("close_session");
            assertThat(calls).extracting(TranscriptReader.Call::call)
                    .contains("upload_linear", "start_cache", "attention", "linear", "advance_cache");
            TranscriptReader.Call firstAttention = calls.stream().filter(k -> k.call().equals("attention")).findFirst().orElseThrow();
            assertThat(firstAttention.args().get("t").asInt()).isEqualTo(w.prompt);
            assertThat(firstAttention.args().get("heads").asInt()).isEqualTo(w.heads);
            Matrix x = firstAttention.tensor("x");
            assertThat(x.shape()).isEqualTo((w.batch * w.prompt) + "x" + w.width);
            TranscriptReader.Call upload = calls.stream().filter(k -> k.call().equals("upload_linear")).findFirst().orElseThrow();
            assertThat(upload.tensor("weight").shape()).isEqualTo(w.width + "x" + 3 * w.width);
            assertThat(upload.tensor("bias").shape()).isEqualTo("1x" + 3 * w.width);

            p.signal("TERM");
            assertThat(p.process.waitFor(10, TimeUnit.SECONDS)).as("exits on SIGTERM").isTrue();
        }
    }

    @Test
    void killedExecutorGivesAClearErrorWithinTheDeadline() throws Exception {
        try (ExecutorProcess p = ExecutorProcess.start();
             GrpcExecutorClient c = client(p, Duration.ofSeconds(3))) {
            Random r = new Random(1);
            SessionId s = c.openSession();
            WeightId w = c.uploadLinear(s, new LinearWeights(Workload.random(r, 16, 16), null));
            c.linear(s, w, Workload.random(r, 2, 16), null);
            p.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> c.linear(s, w, Workload.random(r, 2, 16), null))
                    .isInstanceOfSatisfying(ExecutorCallException.class, e -> {
                        assertThat(e.retryable()).isTrue();
                        assertThat(e.getMessage()).startsWith("executor " + p.address() + ": linear: ").doesNotContain("\n");
                    });
            assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(4));
        }
    }

    @Test
    void tamperFlagCorruptsAndAStalledExecutorHitsTheDeadline() throws Exception {
        try (ExecutorProcess p = ExecutorProcess.start("--tamper", "1");
             GrpcExecutorClient c = client(p, Duration.ofMillis(1500))) {
            Random r = new Random(2);
            Matrix wm = Workload.random(r, 16, 16), x = Workload.random(r, 2, 16);
            SessionId s = c.openSession();
            WeightId w = c.uploadLinear(s, new LinearWeights(wm, null));
            Matrix got = c.linear(s, w, x, null);
            try (InProcessExecutor ex = new InProcessExecutor()) {
                SessionId ls = ex.openSession();
                Matrix want = ex.linear(ls, ex.uploadLinear(ls, new LinearWeights(wm, null)), x, null);
                assertThat(Workload.maxRelativeDifference(List.of(want), List.of(got))).isGreaterThan(1e-3);
            }
            p.signal("STOP");
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> c.linear(s, w, x, null)).isInstanceOfSatisfying(ExecutorCallException.class, e -> {
                assertThat(e.reason()).isEqualTo(ExecutorCallException.Reason.DEADLINE);
                assertThat(e.getMessage()).contains("1500 ms deadline");
            });
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(ms).isBetween(1400L, 3500L);
        }
    }
}
