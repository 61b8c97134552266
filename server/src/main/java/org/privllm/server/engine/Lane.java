package org.privllm.server.engine;

import org.privllm.model.ForwardPass;

/**
 * One slot's forward pass: its own KV cache and, at the protected levels, its own executor sessions.
 * {@code resources} closes them (sessions, in-process executors the lane owns).
 */
public record Lane(ForwardPass forward, AutoCloseable resources) implements AutoCloseable {
    @Override
    public void close() {
        if (resources != null) {
            try {
                resources.close();
            } catch (Exception ignored) {
                // a dead executor has dropped its sessions already
            }
        }
    }
}
