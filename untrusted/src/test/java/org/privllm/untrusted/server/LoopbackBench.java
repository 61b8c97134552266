package org.privllm.untrusted.server;

import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import java.net.InetSocketAddress;
import java.util.Random;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.protocol.grpc.GrpcExecutorServer;
import org.privllm.protocol.grpc.ServerLimits;
import org.privllm.tensor.Matrix;
import org.privllm.untrusted.InProcessExecutor;

/**
 * Not a test: a manual measurement of loopback overhead at GPT-2 124M shapes (decode step of one
 * block: attention + c_fc + mlp c_proj), in-process vs gRPC in the same run. {@code java -cp ... LoopbackBench [target]}.
 */
public final class LoopbackBench {
    public static void main(String[] args) throws Exception {
        int d = 768, heads = 12, ctx = 64, iters = 200;
        try (GrpcExecutorServer server = GrpcExecutorServer.start(new InetSocketAddress("127.0.0.1", 0),
                InProcessExecutor::new, ServerLimits.defaults(), InsecureServerCredentials.create());
             GrpcExecutorClient client = GrpcExecutorClient.connect(args.length > 0 ? args[0] : "127.0.0.1:" + server.port(),
                     InsecureChannelCredentials.create(), GrpcExecutorClient.Options.defaults());
             InProcessExecutor local = new InProcessExecutor()) {
            for (int round = 0; round < 2; round++) {
                for (Executor ex : new Executor[] {local, client}) {
                    Random r = new Random(1);
                    SessionId s = ex.openSession();
                    LinearWeights[] ws = {new LinearWeights(Workload.random(r, d, 3 * d), Workload.vector(r, 3 * d)),
                            new LinearWeights(Workload.random(r, d, d), Workload.vector(r, d)),
                            new LinearWeights(Workload.random(r, d, 4 * d), Workload.vector(r, 4 * d)),
                            new LinearWeights(Workload.random(r, 4 * d, d), Workload.vector(r, d)),
                            new LinearWeights(Workload.random(r, 8, 8), null)};
                    long u0 = System.nanoTime();
                    WeightId qkv = ex.uploadLinear(s, ws[0]), proj = ex.uploadLinear(s, ws[1]), fc = ex.uploadLinear(s, ws[2]),
                            fc2 = ex.uploadLinear(s, ws[3]);
                    double uploadMs = (System.nanoTime() - u0) / 1e6;
                    WeightId tiny = ex.uploadLinear(s, ws[4]);
                    Matrix tx = Workload.random(r, 1, 8);
                    long p0 = System.nanoTime();
                    for (int i = 0; i < iters; i++) {
                        ex.linear(s, tiny, tx, null);
                    }
                    double pingUs = (System.nanoTime() - p0) / 1e3 / iters;
                    ex.startCache(s, 1, ctx + iters + 1, d, new int[] {0});
                    ex.attention(s, new AttentionCall(0, qkv, proj, Workload.random(r, ctx, d), null, ctx, heads, 0.125f));
                    ex.advanceCache(s, ctx);
                    Matrix x = Workload.random(r, 1, d), h = Workload.random(r, 1, 4 * d);
                    long t0 = System.nanoTime();
                    for (int i = 0; i < iters; i++) {
                        ex.attention(s, new AttentionCall(0, qkv, proj, x, null, 1, heads, 0.125f));
                        ex.advanceCache(s, 1);
                        ex.linear(s, fc, x, null);
                        ex.linear(s, fc2, h, null);
                    }
                    double perStep = (System.nanoTime() - t0) / 1e6 / iters;
                    ex.closeSession(s);
                    if (round == 1) {
                        System.out.printf("%-10s upload 28.3 MB: %7.1f ms; 8x8 linear round trip: %7.1f us; "
                                + "one block decode step (4 calls): %.3f ms%n",
                                ex == local ? "in-process" : "loopback", uploadMs, pingUs, perStep);
                    }
                }
            }
        }
    }
}
