package org.privllm.untrusted.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.protocol.grpc.ExecutorCallException;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.protocol.grpc.GrpcExecutorServer;
import org.privllm.protocol.grpc.ServerLimits;
import org.privllm.protocol.grpc.WireTensors;
import org.privllm.protocol.grpc.proto.ExecutorServiceGrpc;
import org.privllm.protocol.grpc.proto.LinearRequest;
import org.privllm.protocol.grpc.proto.OpenSessionRequest;
import org.privllm.protocol.grpc.proto.Part;
import org.privllm.protocol.grpc.proto.Slice;
import org.privllm.protocol.grpc.proto.Tensor;
import org.privllm.protocol.grpc.proto.UploadChunk;
import org.privllm.protocol.grpc.proto.UploadHeader;
import org.privllm.protocol.grpc.proto.UploadReply;
import org.privllm.tensor.Matrix;
import org.privllm.untrusted.InProcessExecutor;

/** The gRPC transport in one JVM: exact results, limits, and hostile clients. */
class GrpcExecutorServerTest {
    private final List<AutoCloseable> open = new ArrayList<>();

    private GrpcExecutorServer server(ServerLimits limits) throws Exception {
        GrpcExecutorServer s = GrpcExecutorServer.start(new InetSocketAddress("127.0.0.1", 0), InProcessExecutor::new,
                limits, InsecureServerCredentials.create());
        open.add(s);
        return s;
    }

    private GrpcExecutorClient client(GrpcExecutorServer s) {
        GrpcExecutorClient c = GrpcExecutorClient.connect("127.0.0.1:" + s.port(), InsecureChannelCredentials.create(),
                GrpcExecutorClient.Options.defaults().withCallTimeout(Duration.ofSeconds(20)));
        open.add(c);
        return c;
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    @Test
    void resultsAreBitIdenticalToInProcessAndSessionsAreFreed() throws Exception {
        GrpcExecutorServer s = server(ServerLimits.defaults());
        Workload w = new Workload(7, 32, 4, 3);
        List<Matrix> local;
        try (InProcessExecutor ex = new InProcessExecutor()) {
            local = w.run(ex);
        }
        List<Matrix> remote = w.run(client(s));
        assertThat(remote).hasSameSizeAs(local);
        assertThat(Workload.maxRelativeDifference(local, remote)).isLessThan(1e-5);
        assertThat(s.sessionCount()).isZero();
        assertThat(s.memoryInUse()).isZero();
    }

    @Test
    void largeWeightsStreamInSeveralSlices() throws Exception {
        GrpcExecutorServer s = server(ServerLimits.defaults());
        GrpcExecutorClient c = client(s);
        Random r = new Random(3);
        Matrix w = Workload.random(r, 1100, 1000); // 4.4 MB: two slices
        float[] bias = Workload.vector(r, 1000);
        Matrix x = Workload.random(r, 2, 1100);
        SessionId id = c.openSession();
        WeightId wid = c.uploadLinear(id, new LinearWeights(w, bias));
        assertThat(s.memoryInUse()).isEqualTo(4L * (1100 * 1000 + 1000));
        try (InProcessExecutor ex = new InProcessExecutor()) {
            SessionId ls = ex.openSession();
            WeightId lw = ex.uploadLinear(ls, new LinearWeights(w, bias));
            Matrix want = ex.linear(ls, lw, x, null);
            Matrix got = c.linear(id, wid, x, null);
            assertThat(Workload.maxRelativeDifference(List.of(want), List.of(got))).isLessThan(1e-5);
        }
        c.closeSession(id);
        assertThat(s.memoryInUse()).isZero();
    }

    @Test
    void concurrentClientsEachGetTheirOwnExactResults() throws Exception {
        GrpcExecutorServer s = server(ServerLimits.defaults());
        int clients = 4;
        List<CompletableFuture<Boolean>> runs = new ArrayList<>();
        for (int k = 0; k < clients; k++) {
            Workload w = new Workload(100 + k, 16, 2, 4);
            GrpcExecutorClient c = client(s);
            runs.add(CompletableFuture.supplyAsync(() -> {
                List<Matrix> remote = w.run(c);
                try (InProcessExecutor ex = new InProcessExecutor()) {
                    return Workload.maxRelativeDifference(w.run(ex), remote) < 1e-5;
                }
            }));
        }
        for (var f : runs) {
            assertThat(f.get(60, TimeUnit.SECONDS)).isTrue();
        }
    }

    @Test
    void limitsOnSessionsAndMemoryAreEnforcedWithClearErrors() throws Exception {
        GrpcExecutorServer s = server(ServerLimits.defaults().withMaxSessions(2).withMaxMemoryBytes(1 << 20));
        GrpcExecutorClient c = client(s);
        SessionId a = c.openSession();
        c.openSession();
        assertThatThrownBy(c::openSession).isInstanceOf(ExecutorCallException.class)
                .hasMessageContaining("limit of 2 sessions");
        Random r = new Random(1);
        assertThatThrownBy(() -> c.uploadLinear(a, new LinearWeights(Workload.random(r, 600, 600), null)))
                .isInstanceOf(ExecutorCallException.class).hasMessageContaining("memory limit");
        assertThat(s.memoryInUse()).isZero();
        assertThatThrownBy(() -> c.startCache(a, 12, 1024, 768, new int[] {0}))
                .hasMessageContaining("memory limit");
        c.closeSession(a);
        c.openSession(); // the slot is free again
        assertThat(s.sessionCount()).isEqualTo(2);
    }

    @Test
    void idleSessionsAreClosedAndTheirMemoryFreed() throws Exception {
        GrpcExecutorServer s = server(ServerLimits.defaults().withIdleTimeout(Duration.ofMillis(300)));
        GrpcExecutorClient c = client(s);
        SessionId a = c.openSession();
        c.uploadLinear(a, new LinearWeights(Workload.random(new Random(1), 8, 8), null));
        assertThat(s.memoryInUse()).isPositive();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (s.sessionCount() > 0 && System.nanoTime() < until) {
            Thread.sleep(50);
        }
        assertThat(s.sessionCount()).isZero();
        assertThat(s.memoryInUse()).isZero();
        assertThatThrownBy(() -> c.linear(a, new WeightId(1), new Matrix(1, 8), null))
                .isInstanceOf(ExecutorCallException.class).hasMessageContaining("unknown or expired session")
                .satisfies(e -> assertThat(((ExecutorCallException) e).retryable()).isTrue());
    }

    /** Raw messages a well-behaved client never sends, answered with a status while a good client is served. */
    @Test
    void malformedAndOversizedRequestsGetErrorsWhileOthersAreServed() throws Exception {
        GrpcExecutorServer s = server(ServerLimits.defaults().withMaxMessageBytes(5 << 20));
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger goodRuns = new AtomicInteger();
        GrpcExecutorClient good = client(s);
        Workload w = new Workload(5, 16, 2, 2);
        List<Matrix> expected;
        try (InProcessExecutor ex = new InProcessExecutor()) {
            expected = w.run(ex);
        }
        CompletableFuture<Void> goodLoop = CompletableFuture.runAsync(() -> {
            while (!stop.get()) {
                if (Workload.maxRelativeDifference(expected, w.run(good)) > 1e-5) {
                    throw new AssertionError("good client got a wrong result");
                }
                goodRuns.incrementAndGet();
            }
        });

        GRPC_LOG.setLevel(java.util.logging.Level.OFF); // the server logs each unparseable message with a stack trace
        ManagedChannel ch = Grpc.newChannelBuilderForAddress("127.0.0.1", s.port(), InsecureChannelCredentials.create())
                .maxInboundMessageSize(64 << 20).build();
        try {
            var stub = ExecutorServiceGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS);
            String session = stub.openSession(OpenSessionRequest.getDefaultInstance()).getSession();
            Random r = new Random(9);
            for (int round = 0; round < 40; round++) {
                Tensor bad = switch (round % 5) {
                    case 0 -> Tensor.newBuilder().setRows(3).setCols(4).setData(ByteString.copyFrom(new byte[47])).build();
                    case 1 -> Tensor.newBuilder().setRows(-1).setCols(4).build();
                    case 2 -> Tensor.newBuilder().setRows(1 << 20).setCols(1 << 20).build();
                    case 3 -> WireTensors.toWire(Workload.random(r, 2, 7));
                    default -> Tensor.newBuilder().setRows(1).setCols(5).setData(ByteString.copyFrom(new byte[r.nextInt(40)])).build();
                };
                String sess = round % 7 == 6 ? "00ff" + round : session;
                var req = LinearRequest.newBuilder().setSession(sess).setWeight(r.nextInt(3)).setX(bad).build();
                assertThatThrownBy(() -> stub.linear(req)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isIn(Status.Code.INVALID_ARGUMENT, Status.Code.NOT_FOUND);
                    assertThat(e.getStatus().getDescription()).doesNotContain("\n").isNotBlank();
                });
            }
            // oversized: one message beyond the server's bound
            var huge = LinearRequest.newBuilder().setSession(session).setWeight(1)
                    .setX(Tensor.newBuilder().setRows(1).setCols(6 << 18).setData(ByteString.copyFrom(new byte[6 << 20])))
                    .build();
            assertThatThrownBy(() -> stub.linear(huge)).isInstanceOfSatisfying(StatusRuntimeException.class,
                    e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
            GrpcExecutorClient typed = client(s);
            SessionId typedSession = typed.openSession();
            WeightId typedWeight = typed.uploadLinear(typedSession, new LinearWeights(new Matrix(6 << 18, 1), null));
            assertThatThrownBy(() -> typed.linear(typedSession, typedWeight, new Matrix(1, 6 << 18), null))
                    .isInstanceOfSatisfying(ExecutorCallException.class, e -> {
                        assertThat(e.retryable()).isFalse();
                        assertThat(e.getMessage()).contains("larger than the executor's limit");
                    });
            typed.closeSession(typedSession);

            // uploads: slices out of order, before the header, past the end, for an absent part, header twice
            var async = ExecutorServiceGrpc.newStub(ch);
            UploadChunk header = UploadChunk.newBuilder().setHeader(UploadHeader.newBuilder().setSession(session)
                    .setInDim(4).setOutDim(4)).build();
            List<List<UploadChunk>> streams = List.of(
                    List.of(slice(Part.WEIGHT, 0, 4)),
                    List.of(header, slice(Part.WEIGHT, 4, 4)),
                    List.of(header, slice(Part.WEIGHT, 0, 20)),
                    List.of(header, slice(Part.BIAS, 0, 4)),
                    List.of(header, header),
                    List.of(header, slice(Part.WEIGHT, 0, 8)),
                    List.of(UploadChunk.newBuilder().setHeader(UploadHeader.newBuilder().setSession(session)
                            .setInDim(1 << 16).setOutDim(1 << 16)).build()),
                    List.of(UploadChunk.getDefaultInstance()));
            for (List<UploadChunk> stream : streams) {
                CompletableFuture<UploadReply> reply = new CompletableFuture<>();
                StreamObserver<UploadChunk> req = async.withDeadlineAfter(20, TimeUnit.SECONDS)
                        .uploadLinear(observer(reply));
                stream.forEach(req::onNext);
                req.onCompleted();
                assertThatThrownBy(() -> reply.get(20, TimeUnit.SECONDS)).hasCauseInstanceOf(StatusRuntimeException.class)
                        .satisfies(e -> assertThat(Status.fromThrowable(e.getCause()).getCode())
                                .isIn(Status.Code.INVALID_ARGUMENT, Status.Code.RESOURCE_EXHAUSTED));
            }
            // random bytes as any request message: a parse error status, never a crash
            for (var method : List.of(ExecutorServiceGrpc.getLinearMethod(), ExecutorServiceGrpc.getAttentionMethod(),
                    ExecutorServiceGrpc.getStartCacheMethod(), ExecutorServiceGrpc.getOpenSessionMethod())) {
                var raw = io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder().setType(io.grpc.MethodDescriptor.MethodType.UNARY)
                        .setFullMethodName(method.getFullMethodName()).setRequestMarshaller(BYTES)
                        .setResponseMarshaller(BYTES).build();
                for (int k = 0; k < 10; k++) {
                    byte[] junk = new byte[r.nextInt(300)];
                    r.nextBytes(junk);
                    try {
                        io.grpc.stub.ClientCalls.blockingUnaryCall(ch, raw,
                                io.grpc.CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), junk);
                    } catch (StatusRuntimeException e) {
                        assertThat(e.getStatus().getCode()).isNotEqualTo(Status.Code.DEADLINE_EXCEEDED);
                    }
                }
            }
            // the hostile session itself still works
            CompletableFuture<UploadReply> ok = new CompletableFuture<>();
            StreamObserver<UploadChunk> req = async.uploadLinear(observer(ok));
            req.onNext(header);
            req.onNext(slice(Part.WEIGHT, 0, 16));
            req.onCompleted();
            assertThat(ok.get(20, TimeUnit.SECONDS).getWeight()).isPositive();
        } finally {
            stop.set(true);
            ch.shutdownNow();
            GRPC_LOG.setLevel(null);
        }
        goodLoop.get(60, TimeUnit.SECONDS);
        assertThat(goodRuns.get()).isPositive();
        assertThat(s.memoryInUse()).isEqualTo(4L * 16);
    }

    private static final java.util.logging.Logger GRPC_LOG = java.util.logging.Logger.getLogger("io.grpc");

    private static final io.grpc.MethodDescriptor.Marshaller<byte[]> BYTES = new io.grpc.MethodDescriptor.Marshaller<>() {
        @Override
        public java.io.InputStream stream(byte[] value) {
            return new java.io.ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(java.io.InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    };

    private static UploadChunk slice(Part part, long offset, int values) {
        return UploadChunk.newBuilder().setSlice(Slice.newBuilder().setPart(part).setOffset(offset)
                .setData(ByteString.copyFrom(new byte[4 * values]))).build();
    }

    private static StreamObserver<UploadReply> observer(CompletableFuture<UploadReply> f) {
        return new StreamObserver<>() {
            UploadReply v;

            @Override
            public void onNext(UploadReply value) {
                v = value;
            }

            @Override
            public void onError(Throwable t) {
                f.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                f.complete(v);
            }
        };
    }
}
