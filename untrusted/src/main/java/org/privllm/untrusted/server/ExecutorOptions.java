package org.privllm.untrusted.server;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options of the executor server, shared by {@link ExecutorServerMain} and the CLI's {@code executor} command. */
public final class ExecutorOptions {
    /**
     * An executor on 127.0.0.1 (any free port) that records everything it receives to {@code transcript} (null:
     * nothing), with a local experiment's limits: 4 sessions, 512 MiB, 64 MiB messages, no idle timeout.
     */
    public static ExecutorOptions loopback(Path transcript) {
        ExecutorOptions o = new ExecutorOptions();
        o.listen = "127.0.0.1:0";
        o.transcript = transcript;
        o.maxSessions = 4;
        o.maxMemoryMb = 512;
        o.maxMessageMb = 64;
        return o;
    }

    @Option(names = "--listen", required = true, paramLabel = "HOST:PORT",
            description = "Address to listen on; port 0 picks a free port (printed when ready).")
    public String listen;

    @Option(names = "--transcript", paramLabel = "DIR",
            description = "Write everything received to DIR (index.jsonl + .npy files; docs/transcript-format.md).")
    public Path transcript;

    @Option(names = "--max-sessions", defaultValue = "64", description = "Sessions open at once (default ${DEFAULT-VALUE}).")
    public int maxSessions;

    @Option(names = "--max-memory-mb", defaultValue = "8192",
            description = "Memory for weights and KV caches of all sessions, MiB (default ${DEFAULT-VALUE}).")
    public long maxMemoryMb;

    @Option(names = "--idle-timeout", defaultValue = "600", paramLabel = "S",
            description = "Close sessions idle this many seconds (0 = never; default ${DEFAULT-VALUE}).")
    public double idleTimeoutSeconds;

    @Option(names = "--max-message-mb", defaultValue = "64",
            description = "Largest inbound message, MiB (default ${DEFAULT-VALUE}).")
    public int maxMessageMb;

    @Option(names = "--tamper", defaultValue = "0", paramLabel = "PROB",
            description = "Corrupt linear and attention results with this probability (for integrity tests).")
    public double tamper;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "Server certificate chain (PEM).")
    public Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "Server private key (PKCS#8 PEM).")
    public Path tlsKey;

    @Option(names = "--tls-client-ca", paramLabel = "FILE",
            description = "Require client certificates signed by this CA (mutual TLS).")
    public Path tlsClientCa;
}
