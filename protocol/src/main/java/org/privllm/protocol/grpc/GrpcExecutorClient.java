package org.privllm.protocol.grpc;

import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.protocol.grpc.proto.AdvanceCacheRequest;
import org.privllm.protocol.grpc.proto.AttentionRequest;
import org.privllm.protocol.grpc.proto.ExecutorServiceGrpc;
import org.privllm.protocol.grpc.proto.Linear64Request;
import org.privllm.protocol.grpc.proto.LinearRequest;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.protocol.grpc.proto.OpenSessionRequest;
import org.privllm.protocol.grpc.proto.Part;
import org.privllm.protocol.grpc.proto.SessionRef;
import org.privllm.protocol.grpc.proto.Slice;
import org.privllm.protocol.grpc.proto.StartCacheRequest;
import org.privllm.protocol.grpc.proto.UploadChunk;
import org.privllm.protocol.grpc.proto.UploadHeader;
import org.privllm.protocol.grpc.proto.UploadReply;
import org.privllm.tensor.Matrix;

/**
 * The {@link Executor} of a remote executor process. Every call has a deadline ({@link Options}); a
 * dead, stalled or refusing executor surfaces as an {@link ExecutorCallException} with a one-line
 * message within that deadline. Weights stream in slices of {@link ServerLimits#SLICE_BYTES} with
 * flow control. Thread-safe: one channel, any number of sessions.
 */
public final class GrpcExecutorClient implements Executor {

    /**
     * @param callTimeout     deadline of each compute or control call
     * @param uploadTimeout   deadline of one whole weight upload
     * @param maxMessageBytes largest reply accepted (a result tensor)
     */
    public record Options(Duration callTimeout, Duration uploadTimeout, int maxMessageBytes) {
        public static Options defaults() {
            return new Options(Duration.ofSeconds(30), Duration.ofMinutes(5), 256 << 20);
        }

        public Options withCallTimeout(Duration d) {
            return new Options(d, uploadTimeout, maxMessageBytes);
        }

        public Options withUploadTimeout(Duration d) {
            return new Options(callTimeout, d, maxMessageBytes);
        }
    }

    private final String target;
    private final Options options;
    private final ManagedChannel channel;
    private final ExecutorServiceGrpc.ExecutorServiceBlockingStub blocking;
    private final ExecutorServiceGrpc.ExecutorServiceStub async;

    private GrpcExecutorClient(String target, ChannelCredentials credentials, Options options) {
        this.target = target;
        this.options = options;
        HostPort hp = HostPort.parse(target);
        this.channel = Grpc.newChannelBuilderForAddress(hp.host(), hp.port(), credentials)
                .maxInboundMessageSize(options.maxMessageBytes())
                .build();
        this.blocking = ExecutorServiceGrpc.newBlockingStub(channel);
        this.async = ExecutorServiceGrpc.newStub(channel);
    }

    /** Connects (lazily: the first call opens the connection) to {@code HOST:PORT}. */
    public static GrpcExecutorClient connect(String hostPort, ChannelCredentials credentials, Options options) {
        return new GrpcExecutorClient(hostPort, credentials, options);
    }

    public String target() {
        return target;
    }

    private ExecutorServiceGrpc.ExecutorServiceBlockingStub stub() {
        return blocking.withDeadlineAfter(options.callTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Runs one unary call, turning any failure into a one-line {@link ExecutorCallException}. */
    private <T> T call(String what, Supplier<T> body) {
        try {
            return body.get();
        } catch (StatusRuntimeException e) {
            throw failure(what, e.getStatus(), e);
        }
    }

    private ExecutorCallException failure(String what, Status status, Throwable cause) {
        String desc = status.getDescription() == null ? "" : status.getDescription().lines().findFirst().orElse("");
        ExecutorCallException.Reason reason;
        String msg;
        switch (transportLost(status) ? Status.Code.UNAVAILABLE : status.getCode()) {
            case DEADLINE_EXCEEDED -> {
                reason = ExecutorCallException.Reason.DEADLINE;
                long ms = (what.equals("uploadLinear") ? options.uploadTimeout() : options.callTimeout()).toMillis();
                msg = "no answer within the " + ms + " ms deadline (executor stalled or overloaded)";
            }
            case UNAVAILABLE -> {
                reason = ExecutorCallException.Reason.UNAVAILABLE;
                msg = "executor unavailable" + (desc.isEmpty() ? "" : ": " + desc);
            }
            case NOT_FOUND -> {
                reason = ExecutorCallException.Reason.SESSION_LOST;
                msg = desc.isEmpty() ? "session lost" : desc;
            }
            case RESOURCE_EXHAUSTED -> {
                // a message over the size bound fails the same way on every executor: not retryable
                boolean tooLarge = desc.contains("exceeds maximum size") || desc.contains("larger than max");
                reason = tooLarge ? ExecutorCallException.Reason.REJECTED : ExecutorCallException.Reason.EXHAUSTED;
                msg = tooLarge ? "request rejected: message larger than the executor's limit (" + desc + ")"
                        : desc.isEmpty() ? "executor out of resources" : desc;
            }
            case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE -> {
                reason = ExecutorCallException.Reason.REJECTED;
                msg = "request rejected: " + desc;
            }
            default -> {
                reason = ExecutorCallException.Reason.INTERNAL;
                msg = status.getCode() + (desc.isEmpty() ? "" : ": " + desc);
            }
        }
        return new ExecutorCallException(reason, "executor " + target + ": " + what + ": " + msg, cause);
    }

    /**
     * Whether a status is really a lost connection. grpc-netty reports a peer that dies mid-call
     * sometimes as UNAVAILABLE and sometimes as {@code UNKNOWN: channel closed} (cause a
     * {@link java.nio.channels.ClosedChannelException}, grpc-java #7376, #10120), depending on
     * whether the write or the read notices first; both mean "try another executor".
     */
    static boolean transportLost(Status status) {
        if (status.getCode() != Status.Code.UNKNOWN && status.getCode() != Status.Code.INTERNAL) {
            return false;
        }
        for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
            if (t instanceof java.io.IOException) {
                return true;
            }
        }
        return false;
    }

    private static String session(SessionId s) {
        return s.value();
    }

    @Override
    public SessionId openSession() {
        return call("openSession", () -> new SessionId(stub().openSession(OpenSessionRequest.getDefaultInstance())
                .getSession()));
    }

    @Override
    public void closeSession(SessionId session) {
        call("closeSession", () -> stub().closeSession(SessionRef.newBuilder().setSession(session(session)).build()));
    }

    @Override
    public Matrix linear(SessionId session, WeightId weight, Matrix x, Matrix compensation) {
        LinearRequest.Builder r = LinearRequest.newBuilder().setSession(session(session)).setWeight(weight.value())
                .setX(WireTensors.toWire(x));
        if (compensation != null) {
            r.setCompensation(WireTensors.toWire(compensation));
        }
        return call("linear", () -> WireTensors.fromWire(stub().linear(r.build()), "linear result"));
    }

    @Override
    public DoubleMatrix linear64(SessionId session, WeightId weight, DoubleMatrix x) {
        Linear64Request r = Linear64Request.newBuilder().setSession(session(session)).setWeight(weight.value())
                .setX(WireTensors.toWire(x)).build();
        return call("linear64", () -> WireTensors.fromWire(stub().linear64(r), "linear64 result"));
    }

    @Override
    public void startCache(SessionId session, int layers, int capacity, int width, int[] leftPad) {
        StartCacheRequest.Builder r = StartCacheRequest.newBuilder().setSession(session(session)).setLayers(layers)
                .setCapacity(capacity).setWidth(width);
        for (int p : leftPad) {
            r.addLeftPad(p);
        }
        call("startCache", () -> stub().startCache(r.build()));
    }

    @Override
    public Matrix attention(SessionId session, AttentionCall c) {
        AttentionRequest.Builder r = AttentionRequest.newBuilder().setSession(session(session)).setLayer(c.layer())
                .setProj(c.proj().value()).setX(WireTensors.toWire(c.x())).setT(c.t())
                .setHeads(c.heads()).setKvHeads(c.kvHeads()).setHeadDim(c.headDim()).setScale(c.scale());
        if (c.qkv() != null) {
            r.setQkv(c.qkv().value());
        }
        if (c.rotation() != null) {
            for (double f : c.rotation().inverseFrequencies()) {
                r.addRopeInverseFrequencies(f);
            }
            for (int p : c.rotation().positions()) {
                r.addPositions(p);
            }
        }
        if (c.compensation() != null) {
            r.setCompensation(WireTensors.toWire(c.compensation()));
        }
        return call("attention", () -> WireTensors.fromWire(stub().attention(r.build()), "attention result"));
    }

    @Override
    public void advanceCache(SessionId session, int t) {
        call("advanceCache", () -> stub().advanceCache(AdvanceCacheRequest.newBuilder().setSession(session(session))
                .setT(t).build()));
    }

    @Override
    public WeightId uploadLinear(SessionId session, LinearWeights w) {
        CompletableFuture<UploadReply> reply = new CompletableFuture<>();
        Object ready = new Object();
        ClientResponseObserver<UploadChunk, UploadReply> observer = new ClientResponseObserver<>() {
            private UploadReply value;

            @Override
            public void beforeStart(ClientCallStreamObserver<UploadChunk> requests) {
                requests.setOnReadyHandler(() -> {
                    synchronized (ready) {
                        ready.notifyAll();
                    }
                });
            }

            @Override
            public void onNext(UploadReply r) {
                value = r;
            }

            @Override
            public void onError(Throwable t) {
                reply.completeExceptionally(t);
                synchronized (ready) {
                    ready.notifyAll();
                }
            }

            @Override
            public void onCompleted() {
                reply.complete(value);
            }
        };
        long deadlineMs = options.uploadTimeout().toMillis();
        var requests = (ClientCallStreamObserver<UploadChunk>) async
                .withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS).uploadLinear(observer);
        int rank = w.loraA() == null ? 0 : w.loraA().cols;
        try {
            requests.onNext(UploadChunk.newBuilder().setHeader(UploadHeader.newBuilder().setSession(session(session))
                    .setInDim(w.weight().rows).setOutDim(w.weight().cols).setHasBias(w.bias() != null).setRank(rank))
                    .build());
            send(requests, reply, ready, Part.WEIGHT, w.weight().data);
            send(requests, reply, ready, Part.BIAS, w.bias());
            send(requests, reply, ready, Part.LORA_A, w.loraA() == null ? null : w.loraA().data);
            send(requests, reply, ready, Part.LORA_B, w.loraB() == null ? null : w.loraB().data);
            if (!reply.isDone()) {
                requests.onCompleted();
            }
            UploadReply r = reply.get(deadlineMs + 1000, TimeUnit.MILLISECONDS);
            return new WeightId(r.getWeight());
        } catch (ExecutionException e) {
            throw failure("uploadLinear", Status.fromThrowable(e.getCause()), e.getCause());
        } catch (TimeoutException e) {
            requests.cancel("upload deadline passed", null);
            throw failure("uploadLinear", Status.DEADLINE_EXCEEDED, e);
        } catch (InterruptedException e) {
            requests.cancel("interrupted", e);
            Thread.currentThread().interrupt();
            throw failure("uploadLinear", Status.CANCELLED.withDescription("interrupted"), e);
        }
    }

    /** Streams one part in slices, waiting for flow control; stops early if the server already answered. */
    private static void send(ClientCallStreamObserver<UploadChunk> requests, CompletableFuture<UploadReply> reply,
                             Object ready, Part part, float[] values) throws InterruptedException {
        if (values == null) {
            return;
        }
        int per = ServerLimits.SLICE_BYTES / Float.BYTES;
        for (int from = 0; from < values.length; from += per) {
            synchronized (ready) {
                while (!requests.isReady() && !reply.isDone()) {
                    ready.wait(100);
                }
            }
            if (reply.isDone()) {
                return; // the server refused the upload; the reply carries why
            }
            int to = Math.min(values.length, from + per);
            requests.onNext(UploadChunk.newBuilder().setSlice(Slice.newBuilder().setPart(part).setOffset(from)
                    .setData(WireTensors.pack(values, from, to))).build());
        }
    }

    /** A gRPC executor runs in another process. */
    @Override
    public boolean remote() {
        return true;
    }

    @Override
    public void close() {
        channel.shutdown();
        try {
            if (!channel.awaitTermination(2, TimeUnit.SECONDS)) {
                channel.shutdownNow();
            }
        } catch (InterruptedException e) {
            channel.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    /** {@code HOST:PORT}, with IPv6 hosts in brackets. */
    public record HostPort(String host, int port) {
        public static HostPort parse(String s) {
            int colon = s.lastIndexOf(':');
            if (colon <= 0 || colon == s.length() - 1) {
                throw new IllegalArgumentException("executor address must be HOST:PORT, got '" + s + "'");
            }
            String host = s.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port;
            try {
                port = Integer.parseInt(s.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("executor address must be HOST:PORT, got '" + s + "'");
            }
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port " + port + " out of range in '" + s + "'");
            }
            return new HostPort(host, port);
        }
    }
}
