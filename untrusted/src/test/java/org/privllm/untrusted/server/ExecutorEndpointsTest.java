package org.privllm.untrusted.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.privllm.protocol.grpc.ExecutorCallException;
import org.privllm.protocol.grpc.ExecutorEndpoints;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.protocol.grpc.GrpcExecutorServer;
import org.privllm.protocol.grpc.ServerLimits;
import org.privllm.tensor.Matrix;
import org.privllm.untrusted.InProcessExecutor;

/** The retry path: a dead first executor, the work redone from scratch on the next one, same results. */
class ExecutorEndpointsTest {
    @Test
    void aFailedAttemptIsRedoneOnTheNextExecutorWithTheSameResults() throws Exception {
        Workload w = new Workload(31, 16, 2, 3);
        List<Matrix> expected;
        try (InProcessExecutor ex = new InProcessExecutor()) {
            expected = w.run(ex);
        }
        GrpcExecutorServer dead = GrpcExecutorServer.start(new InetSocketAddress("127.0.0.1", 0), InProcessExecutor::new,
                ServerLimits.defaults(), InsecureServerCredentials.create());
        int deadPort = dead.port();
        dead.close();
        try (GrpcExecutorServer live = GrpcExecutorServer.start(new InetSocketAddress("127.0.0.1", 0),
                InProcessExecutor::new, ServerLimits.defaults(), InsecureServerCredentials.create());
             ExecutorEndpoints endpoints = ExecutorEndpoints.parse("127.0.0.1:" + deadPort + ", 127.0.0.1:" + live.port(),
                     InsecureChannelCredentials.create(), GrpcExecutorClient.Options.defaults().withCallTimeout(Duration.ofSeconds(5)))) {
            AtomicInteger attempts = new AtomicInteger();
            List<Matrix> got = endpoints.withRetries(2, e -> false, ex -> {
                attempts.incrementAndGet();
                return w.run(ex);
            });
            assertThat(attempts.get()).isEqualTo(2);
            assertThat(Workload.maxRelativeDifference(expected, got)).isLessThan(1e-5);

            // non-retryable failures are not retried; retries exhausted → one line naming the attempts
            assertThatThrownBy(() -> endpoints.withRetries(3, e -> false, ex -> {
                throw new IllegalStateException("bad request");
            })).hasMessage("bad request");
            assertThatThrownBy(() -> endpoints.withRetries(1, e -> e instanceof IllegalStateException, ex -> {
                throw new IllegalStateException("integrity");
            })).isInstanceOf(ExecutorCallException.class).hasMessage("gave up after 2 attempts; last: integrity");
        }
    }
}
