package org.privllm.protocol.grpc;

/**
 * A remote executor call failed. The message is one line naming the executor, the call and the
 * reason; {@link #retryable()} tells a retry wrapper whether a fresh session (on this or another
 * executor) may succeed: the executor is gone, stalled, or lost the session, as opposed to a request
 * it rejected as malformed.
 */
public final class ExecutorCallException extends RuntimeException {
    /** Why the call failed. */
    public enum Reason {
        /** Connection refused or lost (executor down, killed, or unreachable). */
        UNAVAILABLE(true),
        /** The call's deadline passed (executor stalled or overloaded). */
        DEADLINE(true),
        /** The executor no longer knows the session (idle timeout or restart). */
        SESSION_LOST(true),
        /** The executor is at its session or memory limit. */
        EXHAUSTED(true),
        /** The executor rejected the request (shapes, ids, order). */
        REJECTED(false),
        /** Anything else the executor reported. */
        INTERNAL(false);

        private final boolean retryable;

        Reason(boolean retryable) {
            this.retryable = retryable;
        }
    }

    private final Reason reason;

    public ExecutorCallException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    public boolean retryable() {
        return reason.retryable;
    }
}
