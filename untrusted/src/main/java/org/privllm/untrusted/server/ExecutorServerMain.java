package org.privllm.untrusted.server;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.privllm.protocol.Executor;
import org.privllm.protocol.grpc.GrpcExecutorClient;
import org.privllm.protocol.grpc.GrpcExecutorServer;
import org.privllm.protocol.grpc.ServerLimits;
import org.privllm.protocol.grpc.TlsFiles;
import org.privllm.untrusted.InProcessExecutor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * The untrusted executor as its own process: {@code executor --listen HOST:PORT [...]}. Prints exactly
 * one line ({@code privllm executor listening on HOST:PORT}) once it accepts calls, and shuts down
 * cleanly on SIGTERM (running calls get a moment to finish, every session is freed).
 */
@Command(name = "executor", mixinStandardHelpOptions = true,
        description = "Serve the untrusted executor over gRPC.")
public final class ExecutorServerMain implements Callable<Integer> {
    @Mixin
    ExecutorOptions options = new ExecutorOptions();

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line with the project's error convention: {@code error: <message>}, exit 1. */
    public static int execute(String[] args) {
        CommandLine cl = new CommandLine(new ExecutorServerMain());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + oneLine(e));
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() throws Exception {
        return serve(options);
    }

    /** Starts the server, prints the ready line and serves until SIGTERM; returns the exit code. */
    public static int serve(ExecutorOptions options) throws IOException, InterruptedException {
        // gRPC logs hostile requests (unparseable messages) at WARNING with a stack trace: one line each is enough
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT %4$s %3$s: %5$s%n");
        }
        try (GrpcExecutorServer server = start(options)) {
            Runtime.getRuntime().addShutdownHook(new Thread(server::close, "privllm-executor-shutdown"));
            announce(System.out, options, server);
            server.awaitTermination();
        }
        return 0;
    }

    /** The ready line; tests and scripts wait for it. */
    public static void announce(PrintStream out, ExecutorOptions o, GrpcExecutorServer server) {
        String host = GrpcExecutorClient.HostPort.parse(o.listen).host();
        out.println("privllm executor listening on " + (host.contains(":") ? "[" + host + "]" : host) + ":" + server.port());
        out.flush();
    }

    /** Starts a server as the options say: an {@link InProcessExecutor} per session, with tamper and transcript. */
    public static GrpcExecutorServer start(ExecutorOptions o) throws IOException {
        GrpcExecutorClient.HostPort hp = GrpcExecutorClient.HostPort.parse(o.listen);
        if (!(o.tamper >= 0 && o.tamper <= 1)) {
            throw new IllegalArgumentException("--tamper must be a probability in [0, 1], got " + o.tamper);
        }
        if (o.idleTimeoutSeconds < 0 || o.maxMemoryMb < 1) {
            throw new IllegalArgumentException("--idle-timeout must be >= 0 and --max-memory-mb >= 1");
        }
        ServerLimits limits = new ServerLimits(o.maxSessions, o.maxMemoryMb << 20,
                Duration.ofMillis((long) (o.idleTimeoutSeconds * 1000)), Math.multiplyExact(o.maxMessageMb, 1 << 20));
        DiskTranscript transcript = o.transcript == null ? null : new DiskTranscript(o.transcript);
        double tamper = o.tamper;
        Supplier<Executor> backends = () -> {
            Executor e = new InProcessExecutor();
            if (tamper > 0) {
                e = new TamperingExecutor(e, tamper);
            }
            return transcript == null ? e : new RecordingExecutor(e, transcript);
        };
        try {
            return GrpcExecutorServer.start(new InetSocketAddress(hp.host(), hp.port()), backends, limits,
                    TlsFiles.server(o.tlsCert, o.tlsKey, o.tlsClientCa));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + o.listen + ": " + oneLine(e), e);
        }
    }

    static String oneLine(Throwable e) {
        Throwable t = e;
        while (t.getMessage() == null && t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        return m.lines().findFirst().orElse("");
    }
}
