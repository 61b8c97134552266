package org.privllm.trusted.integrity;

import io.grpc.InsecureServerCredentials;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;
import org.privllm.protocol.grpc.GrpcExecutorServer;
import org.privllm.protocol.grpc.ServerLimits;

/** An executor process over a {@link ReferenceExecutor} for the integrity tests: {@code TestExecutorServerMain TAMPER_PROB}. */
public final class TestExecutorServerMain {
    private TestExecutorServerMain() {}

    public static void main(String[] args) throws Exception {
        double prob = Double.parseDouble(args[0]);
        AtomicLong seeds = new AtomicLong(System.nanoTime());
        GrpcExecutorServer server = GrpcExecutorServer.start(new InetSocketAddress("127.0.0.1", 0),
                () -> new ReferenceExecutor(prob, seeds.incrementAndGet()), ServerLimits.defaults(),
                InsecureServerCredentials.create());
        System.out.println("privllm executor listening on 127.0.0.1:" + server.port());
        System.out.flush();
        server.awaitTermination();
    }
}
