package org.privllm.protocol.grpc;

import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.protocol.grpc.proto.AdvanceCacheRequest;
import org.privllm.protocol.grpc.proto.AttentionRequest;
import org.privllm.protocol.grpc.proto.Empty;
import org.privllm.protocol.grpc.proto.ExecutorServiceGrpc;
import org.privllm.protocol.grpc.proto.Linear64Request;
import org.privllm.protocol.grpc.proto.LinearRequest;
import org.privllm.protocol.grpc.proto.Tensor64;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.protocol.grpc.proto.OpenSessionReply;
import org.privllm.protocol.grpc.proto.OpenSessionRequest;
import org.privllm.protocol.grpc.proto.Part;
import org.privllm.protocol.grpc.proto.SessionRef;
import org.privllm.protocol.grpc.proto.Slice;
import org.privllm.protocol.grpc.proto.StartCacheRequest;
import org.privllm.protocol.grpc.proto.Tensor;
import org.privllm.protocol.grpc.proto.UploadChunk;
import org.privllm.protocol.grpc.proto.UploadHeader;
import org.privllm.protocol.grpc.proto.UploadReply;
import org.privllm.tensor.Matrix;

/**
 * Serves any {@link Executor} over gRPC. Each wire session gets its own backend executor from the
 * factory (so sessions share nothing), behind a fresh 128-bit random id. The server checks every
 * request against what the session holds (weight ids and shapes, the cache) before the backend sees
 * it, enforces the {@link ServerLimits}, and answers every bad request with an error status carrying a
 * one-line description; nothing a client sends can stop it serving the others.
 */
public final class GrpcExecutorServer implements AutoCloseable {
    private static final SecureRandom IDS = new SecureRandom();

    private final Supplier<? extends Executor> backends;
    private final ServerLimits limits;
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    private final AtomicLong memoryInUse = new AtomicLong();
    private final ScheduledExecutorService sweeper;
    private final Server server;

    private GrpcExecutorServer(InetSocketAddress listen, Supplier<? extends Executor> backends, ServerLimits limits,
                               ServerCredentials credentials) throws IOException {
        this.backends = backends;
        this.limits = limits;
        this.server = NettyServerBuilder.forAddress(listen, credentials)
                .maxInboundMessageSize(limits.maxMessageBytes())
                .maxInboundMetadataSize(16 << 10)
                .addService(new Service())
                .build()
                .start();
        this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "privllm-session-sweeper");
            t.setDaemon(true);
            return t;
        });
        if (!limits.idleTimeout().isZero()) {
            long period = Math.max(50, Math.min(1000, limits.idleTimeout().toMillis() / 4));
            sweeper.scheduleAtFixedRate(this::closeIdle, period, period, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Starts serving on {@code listen} (port 0 picks a free port, see {@link #port()}).
     *
     * @param credentials {@code InsecureServerCredentials.create()} or TLS credentials ({@link TlsFiles})
     */
    public static GrpcExecutorServer start(InetSocketAddress listen, Supplier<? extends Executor> backends,
                                           ServerLimits limits, ServerCredentials credentials) throws IOException {
        return new GrpcExecutorServer(listen, backends, limits, credentials);
    }

    public int port() {
        return ((InetSocketAddress) server.getListenSockets().getFirst()).getPort();
    }

    public int sessionCount() {
        return sessions.size();
    }

    /** Bytes of weights and caches currently held (what {@link ServerLimits#maxMemoryBytes()} bounds). */
    public long memoryInUse() {
        return memoryInUse.get();
    }

    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    /** Stops accepting calls, lets running ones finish briefly, then frees every session. */
    @Override
    public void close() {
        server.shutdown();
        try {
            if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                server.shutdownNow();
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        sweeper.shutdownNow();
        for (String id : sessions.keySet()) {
            closeSession(id);
        }
    }

    // ---- sessions and memory ----

    /** What one wire session holds; every use happens under its monitor. */
    private static final class Session {
        final Executor backend;
        final SessionId backendId;
        final Map<Long, int[]> weights = new HashMap<>(); // id -> {in, out, 1 if it has a bias or an adapter}
        long bytes;
        long cacheBytes;
        int[] cache; // {layers, batch, capacity, width, length}, null before startCache
        volatile long lastUsed = System.nanoTime();
        volatile int busy;
        boolean closed;

        Session(Executor backend, SessionId backendId) {
            this.backend = backend;
            this.backendId = backendId;
        }
    }

    private void reserve(long bytes) {
        long used;
        do {
            used = memoryInUse.get();
            if (used + bytes > limits.maxMemoryBytes()) {
                throw Status.RESOURCE_EXHAUSTED.withDescription("executor memory limit: " + mib(used) + " MiB in use + "
                        + mib(bytes) + " MiB requested > " + mib(limits.maxMemoryBytes()) + " MiB").asRuntimeException();
            }
        } while (!memoryInUse.compareAndSet(used, used + bytes));
    }

    private void release(long bytes) {
        memoryInUse.addAndGet(-bytes);
    }

    private static long mib(long bytes) {
        return (bytes + (1 << 20) - 1) >> 20;
    }

    private String openSession() {
        synchronized (sessions) {
            if (sessions.size() >= limits.maxSessions()) {
                throw Status.RESOURCE_EXHAUSTED.withDescription("executor at its limit of " + limits.maxSessions()
                        + " sessions").asRuntimeException();
            }
            Executor backend = backends.get();
            SessionId backendId;
            try {
                backendId = backend.openSession();
            } catch (RuntimeException e) {
                backend.close();
                throw e;
            }
            byte[] raw = new byte[16];
            IDS.nextBytes(raw);
            String id = HexFormat.of().formatHex(raw);
            sessions.put(id, new Session(backend, backendId));
            return id;
        }
    }

    private void closeSession(String id) {
        Session s = sessions.remove(id);
        if (s == null) {
            return;
        }
        synchronized (s) {
            if (!s.closed) {
                s.closed = true;
                try {
                    s.backend.closeSession(s.backendId);
                } finally {
                    s.backend.close();
                    release(s.bytes);
                }
            }
        }
    }

    private void closeIdle() {
        long now = System.nanoTime();
        long limit = limits.idleTimeout().toNanos();
        sessions.forEach((id, s) -> {
            if (s.busy == 0 && now - s.lastUsed > limit) {
                closeSession(id);
            }
        });
    }

    @FunctionalInterface
    private interface SessionBody<T> {
        T run(Session s);
    }

    /** Runs {@code body} with the session locked, or fails with NOT_FOUND for unknown or closed ids. */
    private <T> T withSession(String id, SessionBody<T> body) {
        Session s = sessions.get(id);
        if (s == null) {
            throw notFound();
        }
        synchronized (s) {
            if (s.closed) {
                throw notFound();
            }
            s.busy++;
            s.lastUsed = System.nanoTime();
            try {
                return body.run(s);
            } finally {
                s.busy--;
                s.lastUsed = System.nanoTime();
            }
        }
    }

    private static StatusRuntimeException notFound() {
        return Status.NOT_FOUND.withDescription("unknown or expired session").asRuntimeException();
    }

    private static StatusRuntimeException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
    }

    private static int[] weightShape(Session s, long id, String what) {
        int[] shape = s.weights.get(id);
        if (shape == null) {
            throw invalid(what + ": unknown weight id " + id);
        }
        return shape;
    }

    private static Matrix optional(boolean present, Tensor t, String what) {
        return present ? WireTensors.fromWire(t, what) : null;
    }

    /** Maps whatever went wrong to a status with a one-line description (never a secret: only shapes reach here). */
    static StatusRuntimeException toStatus(Throwable e) {
        if (e instanceof StatusRuntimeException s) {
            return s;
        }
        Status status = switch (e) {
            case IllegalArgumentException ignored -> Status.INVALID_ARGUMENT;
            case IllegalStateException ignored -> Status.FAILED_PRECONDITION;
            case OutOfMemoryError ignored -> Status.RESOURCE_EXHAUSTED;
            default -> Status.INTERNAL;
        };
        String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        if (status == Status.INTERNAL) {
            msg = "executor failed: " + e.getClass().getSimpleName() + ": " + msg;
        }
        return status.withDescription(msg.lines().findFirst().orElse("")).asRuntimeException();
    }

    @FunctionalInterface
    private interface Call<T> {
        T run();
    }

    private static <T> void answer(StreamObserver<T> out, Call<T> call) {
        T result;
        try {
            result = call.run();
        } catch (RuntimeException | OutOfMemoryError e) {
            out.onError(toStatus(e));
            return;
        }
        out.onNext(result);
        out.onCompleted();
    }

    // ---- the service ----

    private final class Service extends ExecutorServiceGrpc.ExecutorServiceImplBase {
        private final Empty empty = Empty.getDefaultInstance();

        @Override
        public void openSession(OpenSessionRequest request, StreamObserver<OpenSessionReply> out) {
            answer(out, () -> OpenSessionReply.newBuilder().setSession(GrpcExecutorServer.this.openSession()).build());
        }

        @Override
        public void closeSession(SessionRef request, StreamObserver<Empty> out) {
            answer(out, () -> {
                GrpcExecutorServer.this.closeSession(request.getSession());
                return empty;
            });
        }

        @Override
        public void linear(LinearRequest r, StreamObserver<Tensor> out) {
            answer(out, () -> withSession(r.getSession(), s -> {
                int[] shape = weightShape(s, r.getWeight(), "linear");
                Matrix x = WireTensors.fromWire(r.getX(), "linear input");
                Matrix c = optional(r.hasCompensation(), r.getCompensation(), "linear compensation");
                if (x.cols != shape[0]) {
                    throw invalid("linear input " + x.shape() + " does not fit weight " + shape[0] + "x" + shape[1]);
                }
                if (c != null && (c.rows != x.rows || c.cols != shape[1])) {
                    throw invalid("linear compensation " + c.shape() + " for output " + x.rows + "x" + shape[1]);
                }
                return WireTensors.toWire(s.backend.linear(s.backendId, new WeightId(r.getWeight()), x, c));
            }));
        }

        @Override
        public void linear64(Linear64Request r, StreamObserver<Tensor64> out) {
            answer(out, () -> withSession(r.getSession(), s -> {
                int[] shape = weightShape(s, r.getWeight(), "linear64");
                if (shape[2] != 0) {
                    throw invalid("linear64: weight " + r.getWeight() + " has a bias or an adapter (only bare weights)");
                }
                DoubleMatrix x = WireTensors.fromWire(r.getX(), "linear64 input");
                if (x.cols != shape[0]) {
                    throw invalid("linear64 input " + x.shape() + " does not fit weight " + shape[0] + "x" + shape[1]);
                }
                return WireTensors.toWire(s.backend.linear64(s.backendId, new WeightId(r.getWeight()), x));
            }));
        }

        @Override
        public void startCache(StartCacheRequest r, StreamObserver<Empty> out) {
            answer(out, () -> withSession(r.getSession(), s -> {
                int batch = r.getLeftPadCount();
                if (r.getLayers() < 1 || r.getCapacity() < 1 || r.getWidth() < 1 || batch < 1) {
                    throw invalid("cache needs positive layers, capacity, width and batch; got " + r.getLayers() + ", "
                            + r.getCapacity() + ", " + r.getWidth() + ", " + batch);
                }
                int[] pads = r.getLeftPadList().stream().mapToInt(Integer::intValue).toArray();
                for (int p : pads) {
                    if (p < 0 || p > r.getCapacity()) {
                        throw invalid("left pad " + p + " outside cache capacity " + r.getCapacity());
                    }
                }
                long bytes = cacheBytes(r.getLayers(), batch, r.getCapacity(), r.getWidth());
                reserve(bytes);
                try {
                    s.backend.startCache(s.backendId, r.getLayers(), r.getCapacity(), r.getWidth(), pads);
                } catch (RuntimeException | OutOfMemoryError e) {
                    release(bytes);
                    throw e;
                }
                release(s.cacheBytes); // the previous cache is replaced
                s.bytes += bytes - s.cacheBytes;
                s.cacheBytes = bytes;
                s.cache = new int[] {r.getLayers(), batch, r.getCapacity(), r.getWidth(), 0};
                return empty;
            }));
        }

        @Override
        public void attention(AttentionRequest r, StreamObserver<Tensor> out) {
            answer(out, () -> withSession(r.getSession(), s -> {
                int[] cache = s.cache;
                if (cache == null) {
                    throw Status.FAILED_PRECONDITION.withDescription("attention before startCache").asRuntimeException();
                }
                int width = cache[3];
                int[] qkv = r.hasQkv() ? weightShape(s, r.getQkv(), "attention qkv") : null;
                int[] proj = weightShape(s, r.getProj(), "attention proj");
                Matrix x = WireTensors.fromWire(r.getX(), "attention input");
                Matrix c = optional(r.hasCompensation(), r.getCompensation(), "attention compensation");
                if (r.getLayer() < 0 || r.getLayer() >= cache[0]) {
                    throw invalid("attention layer " + r.getLayer() + " outside cache of " + cache[0] + " layers");
                }
                if (r.getT() < 1 || cache[4] + (long) r.getT() > cache[2]) {
                    throw invalid("attention of " + r.getT() + " slots at cache length " + cache[4] + " (capacity "
                            + cache[2] + ")");
                }
                // 0: GPT-2's multi-head call (one key/value head per query head of width cache width / heads)
                int heads = r.getHeads(), kvHeads = r.getKvHeads() == 0 ? heads : r.getKvHeads();
                if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0 || width % kvHeads != 0) {
                    throw invalid(heads + " query heads cannot share " + kvHeads + " key/value heads of a cache "
                            + width + " wide");
                }
                int headDim = r.getHeadDim() == 0 ? width / kvHeads : r.getHeadDim();
                if (headDim < 1 || (long) kvHeads * headDim != width) {
                    throw invalid("cache width " + width + " is not " + kvHeads + " key/value heads of " + headDim);
                }
                long qkvWidth = (long) (heads + 2L * kvHeads) * headDim, qWidth = (long) heads * headDim;
                if (x.rows != (long) cache[1] * r.getT() || proj[0] != qWidth
                        || (qkv != null ? qkv[1] != qkvWidth || x.cols != qkv[0] : x.cols != qkvWidth)) {
                    throw invalid("attention shapes: input " + x.shape() + (qkv != null ? ", qkv " + qkv[0] + "x" + qkv[1] : "")
                            + ", proj " + proj[0] + "x" + proj[1] + " for batch " + cache[1] + " x " + r.getT() + ", "
                            + heads + " query and " + kvHeads + " key/value heads of " + headDim);
                }
                if (c != null && (qkv == null || c.rows != x.rows || c.cols != qkv[1])) {
                    throw invalid("attention compensation " + c.shape() + " for " + x.rows + "x" + qkvWidth
                            + (qkv == null ? " given q/k/v rows" : ""));
                }
                AttentionCall.Rotation rotation = null;
                if (r.getRopeInverseFrequenciesCount() > 0 || r.getPositionsCount() > 0) {
                    if (headDim % 2 != 0 || r.getRopeInverseFrequenciesCount() != headDim / 2
                            || r.getPositionsCount() != x.rows) {
                        throw invalid("rotary embedding of " + r.getRopeInverseFrequenciesCount() + " frequencies and "
                                + r.getPositionsCount() + " positions for " + x.rows + " rows of heads " + headDim + " wide");
                    }
                    double[] freq = r.getRopeInverseFrequenciesList().stream().mapToDouble(Double::doubleValue).toArray();
                    int[] pos = r.getPositionsList().stream().mapToInt(Integer::intValue).toArray();
                    for (double f : freq) {
                        if (!Double.isFinite(f)) {
                            throw invalid("rotary frequencies must be finite");
                        }
                    }
                    for (int p : pos) {
                        if (p < 0) {
                            throw invalid("negative rotary position " + p);
                        }
                    }
                    rotation = new AttentionCall.Rotation(freq, pos);
                }
                AttentionCall call = new AttentionCall(r.getLayer(), qkv == null ? null : new WeightId(r.getQkv()),
                        new WeightId(r.getProj()), x, c, r.getT(), heads, kvHeads, headDim, r.getScale(), rotation);
                return WireTensors.toWire(s.backend.attention(s.backendId, call));
            }));
        }

        @Override
        public void advanceCache(AdvanceCacheRequest r, StreamObserver<Empty> out) {
            answer(out, () -> withSession(r.getSession(), s -> {
                if (s.cache == null) {
                    throw Status.FAILED_PRECONDITION.withDescription("advanceCache before startCache").asRuntimeException();
                }
                if (r.getT() < 1 || s.cache[4] + (long) r.getT() > s.cache[2]) {
                    throw invalid("cannot advance cache of length " + s.cache[4] + " by " + r.getT() + " (capacity "
                            + s.cache[2] + ")");
                }
                s.backend.advanceCache(s.backendId, r.getT());
                s.cache[4] += r.getT();
                return empty;
            }));
        }

        @Override
        public StreamObserver<UploadChunk> uploadLinear(StreamObserver<UploadReply> out) {
            return new Upload(out);
        }
    }

    /** Bytes of a KV cache (keys and values), saturating instead of overflowing for absurd shapes. */
    static long cacheBytes(int layers, int batch, int capacity, int width) {
        double bytes = 8.0 * layers * batch * capacity * width;
        return bytes >= Long.MAX_VALUE / 2 ? Long.MAX_VALUE / 2 : (long) bytes;
    }

    /**
     * One streamed weight upload: a header with the shapes, then slices of each part in order without
     * gaps. The memory is reserved when the header arrives, so an oversized upload is refused before
     * any data is buffered.
     */
    private final class Upload implements StreamObserver<UploadChunk> {
        private final StreamObserver<UploadReply> out;
        private String session;
        private float[][] parts; // indexed by Part number - 1
        private int inDim;
        private int part;        // index of the part being filled
        private int filled;
        private long reserved;
        private boolean done;

        Upload(StreamObserver<UploadReply> out) {
            this.out = out;
        }

        @Override
        public synchronized void onNext(UploadChunk chunk) {
            if (done) {
                return;
            }
            try {
                switch (chunk.getKindCase()) {
                    case HEADER -> header(chunk.getHeader());
                    case SLICE -> slice(chunk.getSlice());
                    default -> throw invalid("upload message carries neither header nor slice");
                }
            } catch (RuntimeException | OutOfMemoryError e) {
                fail(toStatus(e));
            }
        }

        private void header(UploadHeader h) {
            if (parts != null) {
                throw invalid("upload header sent twice");
            }
            long in = h.getInDim(), outDim = h.getOutDim(), rank = h.getRank();
            if (in < 1 || outDim < 1 || rank < 0 || in * outDim > Integer.MAX_VALUE - 8
                    || rank * Math.max(in, outDim) > Integer.MAX_VALUE - 8) {
                throw invalid("upload shape " + in + "x" + outDim + " rank " + rank + " is not allowed");
            }
            // reject early for unknown sessions, before reserving anything
            withSession(h.getSession(), s -> s);
            long floats = in * outDim + (h.getHasBias() ? outDim : 0) + rank * (in + outDim);
            reserve(4 * floats);
            reserved = 4 * floats;
            session = h.getSession();
            inDim = (int) in;
            parts = new float[][] {new float[(int) (in * outDim)], h.getHasBias() ? new float[(int) outDim] : null,
                    rank > 0 ? new float[(int) (in * rank)] : null, rank > 0 ? new float[(int) (rank * outDim)] : null};
            part = 0;
            skipAbsent();
        }

        private void skipAbsent() {
            while (part < parts.length && (parts[part] == null || filled == parts[part].length)) {
                part++;
                filled = 0;
            }
        }

        private void slice(Slice sl) {
            if (parts == null) {
                throw invalid("upload slice before header");
            }
            if (sl.getData().size() > ServerLimits.SLICE_BYTES) {
                throw invalid("upload slice of " + sl.getData().size() + " bytes exceeds " + ServerLimits.SLICE_BYTES);
            }
            int p = sl.getPartValue() - 1;
            if (p < 0 || p >= parts.length || parts[p] == null) {
                throw invalid("upload slice for part " + sl.getPart() + " which this upload does not have");
            }
            if (p != part || sl.getOffset() != filled) {
                throw invalid("upload slice out of order: " + sl.getPart() + " at " + sl.getOffset() + ", expected "
                        + (part < parts.length ? Part.forNumber(part + 1) + " at " + filled : "end of upload"));
            }
            WireTensors.unpack(sl.getData(), parts[p], filled);
            filled += sl.getData().size() / Float.BYTES;
            skipAbsent();
        }

        @Override
        public synchronized void onError(Throwable t) {
            // the client went away (cancel, deadline): drop the buffers
            if (!done) {
                done = true;
                releaseBuffers();
            }
        }

        @Override
        public synchronized void onCompleted() {
            if (done) {
                return;
            }
            try {
                if (parts == null) {
                    throw invalid("upload without header");
                }
                if (part < parts.length) {
                    throw invalid("upload ended early: " + Part.forNumber(part + 1) + " has " + filled + " of "
                            + parts[part].length + " values");
                }
                WeightId id = withSession(session, s -> {
                    int outDim = parts[0].length / inDim;
                    Matrix w = new Matrix(inDim, outDim, parts[0]);
                    Matrix a = parts[2] == null ? null : new Matrix(inDim, parts[2].length / inDim, parts[2]);
                    Matrix b = parts[3] == null ? null : new Matrix(a.cols, outDim, parts[3]);
                    WeightId wid = s.backend.uploadLinear(s.backendId, new LinearWeights(w, parts[1], a, b));
                    s.weights.put(wid.value(), new int[] {inDim, outDim, parts[1] != null || a != null ? 1 : 0});
                    s.bytes += reserved;
                    reserved = 0;
                    return wid;
                });
                done = true;
                parts = null;
                out.onNext(UploadReply.newBuilder().setWeight(id.value()).build());
                out.onCompleted();
            } catch (RuntimeException | OutOfMemoryError e) {
                fail(toStatus(e));
            }
        }

        private void fail(StatusRuntimeException e) {
            done = true;
            releaseBuffers();
            out.onError(e);
        }

        private void releaseBuffers() {
            parts = null;
            release(reserved);
            reserved = 0;
        }
    }
}
