package org.privllm.protocol;

/** An opaque, unguessable session handle (random bytes, hex encoded). */
public record SessionId(String value) {
    public SessionId {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException("empty session id");
        }
    }
}
