package org.privllm.trusted.integrity;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.InsecureChannelCredentials;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.tensor.Matrix;

/** A tampering executor in its own process, checked through gRPC: no corrupted result is ever accepted. */
class RemoteTamperTest {
    /** Starts {@link TestExecutorServerMain} in its own JVM on the test classpath. */
    public static Process start(double tamper) throws java.io.IOException {
        return new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                "--add-modules=jdk.incubator.vector", "-XX:TieredStopAtLevel=1", "-Xmx512m", "-cp",
                System.getProperty("java.class.path"), TestExecutorServerMain.class.getName(), Double.toString(tamper))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    /** Waits (at most a minute) for the ready line and returns the announced HOST:PORT; call once per process. */
    public static String address(Process p) throws Exception {
        var reader = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String ready = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return reader.readLine();
            } catch (java.io.IOException e) {
                return null;
            }
        }).get(60, TimeUnit.SECONDS);
        assertThat(ready).startsWith("privllm executor listening on 127.0.0.1:");
        return ready.substring(ready.lastIndexOf(' ') + 1);
    }

    @Test
    void corruptedStepsAreDetectedAcrossTheProcessBoundary() throws Exception {
        Process p = start(0.05);
        try {
            String address = address(p);
            int detected = 0, clean = 0, runs = 40;
            try (GrpcExecutorClient client = GrpcExecutorClient.connect(address, InsecureChannelCredentials.create(),
                    GrpcExecutorClient.Options.defaults().withCallTimeout(Duration.ofSeconds(20)))) {
                for (int run = 0; run < runs; run++) {
                    List<Matrix> got;
                    try {
                        got = VerifyingExecutorTest.session(new VerifyingExecutor(client), new Random(run), 32, 4, 40, 2);
                    } catch (IntegrityException e) {
                        detected++;
                        continue;
                    }
                    clean++;
                    // an accepted run must equal an honest one: a corrupted result was never let through
                    List<Matrix> honest = VerifyingExecutorTest.session(new ReferenceExecutor(0, 0), new Random(run), 32, 4, 40, 2);
                    for (int i = 0; i < honest.size(); i++) {
                        float[] a = honest.get(i).data, b = got.get(i).data;
                        for (int k = 0; k < a.length; k++) {
                            assertThat((double) b[k]).as("run %d result %d", run, i)
                                    .isCloseTo(a[k], org.assertj.core.data.Offset.offset(1e-3 * (1 + Math.abs(a[k]))));
                        }
                    }
                }
            }
            // 16 checked results per run at 5%: about 56% of runs see a corruption
            assertThat(detected).isGreaterThan(runs / 5);
            assertThat(clean).isPositive();
        } finally {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
