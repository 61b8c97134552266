package org.privllm.protocol.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import org.junit.jupiter.api.Test;

/** Which gRPC statuses count as a lost connection (retry on another executor). */
class TransportLostTest {
    @Test
    void nettysChannelClosedIsALostConnection() {
        // what grpc-netty reports when the executor process is killed while a request is being written
        Status closed = Status.UNKNOWN.withDescription("channel closed").withCause(new ClosedChannelException());
        assertThat(GrpcExecutorClient.transportLost(closed)).isTrue();
        Status reset = Status.INTERNAL.withCause(new RuntimeException(new IOException("Connection reset by peer")));
        assertThat(GrpcExecutorClient.transportLost(reset)).isTrue();
    }

    @Test
    void executorReportedErrorsAreNot() {
        assertThat(GrpcExecutorClient.transportLost(Status.UNKNOWN.withDescription("boom"))).isFalse();
        assertThat(GrpcExecutorClient.transportLost(Status.INTERNAL.withCause(new IllegalStateException()))).isFalse();
        // a rejected request stays rejected even if an IOException is attached
        assertThat(GrpcExecutorClient.transportLost(Status.INVALID_ARGUMENT.withCause(new IOException()))).isFalse();
    }
}
