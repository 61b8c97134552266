package org.privllm.protocol.grpc;

import java.time.Duration;

/**
 * Resource bounds of an executor server.
 *
 * @param maxSessions     sessions open at once
 * @param maxMemoryBytes  bytes of weights and KV caches held by all sessions together
 * @param idleTimeout     a session untouched this long is closed and its memory freed (zero = never)
 * @param maxMessageBytes largest inbound message (a request tensor, an upload slice)
 */
public record ServerLimits(int maxSessions, long maxMemoryBytes, Duration idleTimeout, int maxMessageBytes) {
    /** Weights travel in slices of at most this many bytes. */
    public static final int SLICE_BYTES = 4 << 20;

    public ServerLimits {
        if (maxSessions < 1) {
            throw new IllegalArgumentException("max sessions must be at least 1, got " + maxSessions);
        }
        if (maxMemoryBytes < 1) {
            throw new IllegalArgumentException("max memory must be positive");
        }
        if (idleTimeout.isNegative()) {
            throw new IllegalArgumentException("idle timeout must not be negative");
        }
        if (maxMessageBytes < SLICE_BYTES + 1024) {
            throw new IllegalArgumentException("max message size must exceed one upload slice ("
                    + (SLICE_BYTES >> 20) + " MiB)");
        }
    }

    public static ServerLimits defaults() {
        return new ServerLimits(64, 8L << 30, Duration.ofMinutes(10), 64 << 20);
    }

    public ServerLimits withMaxSessions(int n) {
        return new ServerLimits(n, maxMemoryBytes, idleTimeout, maxMessageBytes);
    }

    public ServerLimits withMaxMemoryBytes(long bytes) {
        return new ServerLimits(maxSessions, bytes, idleTimeout, maxMessageBytes);
    }

    public ServerLimits withIdleTimeout(Duration timeout) {
        return new ServerLimits(maxSessions, maxMemoryBytes, timeout, maxMessageBytes);
    }

    public ServerLimits withMaxMessageBytes(int bytes) {
        return new ServerLimits(maxSessions, maxMemoryBytes, idleTimeout, bytes);
    }
}
