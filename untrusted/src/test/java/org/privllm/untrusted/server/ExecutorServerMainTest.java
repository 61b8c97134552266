package org.privllm.untrusted.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.protocol.grpc.WireTensors;
import org.privllm.tensor.Matrix;
import org.privllm.testing.Cases;

class ExecutorServerMainTest {
    private static String runExpectingError(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertThat(ExecutorServerMain.execute(args)).isNotZero();
        } finally {
            System.setErr(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    @Test
    void badOptionsAreOneLineErrors() {
        assertThat(runExpectingError("--listen", "127.0.0.1:0", "--tamper", "2"))
                .isEqualTo("error: --tamper must be a probability in [0, 1], got 2.0" + System.lineSeparator());
        assertThat(runExpectingError("--listen", "nohost")).startsWith("error: executor address must be HOST:PORT");
        assertThat(runExpectingError("--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent.pem"))
                .startsWith("error: TLS needs both --tls-cert and --tls-key");
        assertThat(runExpectingError("--listen", "127.0.0.1:0", "--max-sessions", "0"))
                .startsWith("error: max sessions must be at least 1");
    }

    @Test
    void addressesParse() {
        assertThat(GrpcExecutorClient.HostPort.parse("[::1]:50051")).isEqualTo(new GrpcExecutorClient.HostPort("::1", 50051));
        assertThat(GrpcExecutorClient.HostPort.parse("gpu-box:7")).isEqualTo(new GrpcExecutorClient.HostPort("gpu-box", 7));
    }

    static Stream<Arguments> wireTensorsRoundTripExactly() {
        return Cases.of(50, 8_000, d -> new Object[] {d.intIn(0, 17), d.intIn(0, 33), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] rows={0}, cols={1}, seed={2}")
    @MethodSource
    void wireTensorsRoundTripExactly(int rows, int cols, long seed) {
        Matrix m = Workload.random(new java.util.Random(seed), rows, cols);
        if (m.data.length > 0) {
            m.data[0] = Float.NaN;
            m.data[m.data.length - 1] = -0f;
        }
        Matrix back = WireTensors.fromWire(WireTensors.toWire(m), "t");
        assertThat(back.shape()).isEqualTo(m.shape());
        for (int i = 0; i < m.data.length; i++) {
            assertThat(Float.floatToRawIntBits(back.data[i])).isEqualTo(Float.floatToRawIntBits(m.data[i]));
        }
    }
}
