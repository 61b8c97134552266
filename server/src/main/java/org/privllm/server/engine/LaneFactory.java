package org.privllm.server.engine;

/**
 * Opens lanes at one privacy level. {@link #open(int)} takes an attempt number: attempt {@code n} uses the
 * {@code n}-th executor of each {@code --executor} list (round robin), so a retry lands on the next one.
 */
public interface LaneFactory extends AutoCloseable {
    /** A fresh lane on attempt {@code attempt}'s executors. */
    Lane open(int attempt);

    /**
     * Whether one lane may serve one request after another. True where nothing secret outlives a request in
     * the lane (plaintext; strong and two-party: pads are fresh per call and row, the KV cache is trusted and
     * restarted per sequence). False at the seed level: its masks are per session, so a session never serves
     * two requests (two users would share masks).
     */
    boolean reusable();

    /** Whether a failure may succeed on a fresh session (dead, stalled or lying executor). */
    boolean retryable(RuntimeException e);

    /** How many times one sequence may be redone on a fresh session. */
    int retries();

    int vocab();

    int positions();

    /** Checks that a sequence of {@code tokens} tokens runs exactly (one-line IllegalArgumentException). */
    default void checkContext(int tokens) {}

    /** What the lanes run on, for the ready line and /health (no secrets). */
    String describe();

    /** Closes shared resources (executor connections); lanes are closed by their owner. */
    @Override
    default void close() {}
}
