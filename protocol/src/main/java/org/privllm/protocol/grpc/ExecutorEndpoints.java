package org.privllm.protocol.grpc;

import io.grpc.ChannelCredentials;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.function.Predicate;
import org.privllm.protocol.Executor;

/**
 * The executors a trusted client may use, in order ({@code --executor A,B}), with a retry loop that
 * runs a whole piece of work (open a session, upload, prefill, decode) again on a fresh session of the
 * next executor when an attempt fails in a retryable way. Channels are opened lazily and reused.
 */
public final class ExecutorEndpoints implements AutoCloseable {
    private final List<String> addresses;
    private final ChannelCredentials credentials;
    private final GrpcExecutorClient.Options options;
    private final GrpcExecutorClient[] clients;

    public ExecutorEndpoints(List<String> addresses, ChannelCredentials credentials, GrpcExecutorClient.Options options) {
        if (addresses.isEmpty()) {
            throw new IllegalArgumentException("no executor address given");
        }
        addresses.forEach(GrpcExecutorClient.HostPort::parse); // fail early on a bad address
        this.addresses = List.copyOf(addresses);
        this.credentials = credentials;
        this.options = options;
        this.clients = new GrpcExecutorClient[addresses.size()];
    }

    /** {@code "HOST:PORT[,HOST:PORT...]"}. */
    public static ExecutorEndpoints parse(String list, ChannelCredentials credentials, GrpcExecutorClient.Options options) {
        return new ExecutorEndpoints(Arrays.stream(list.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList(),
                credentials, options);
    }

    public List<String> addresses() {
        return addresses;
    }

    /** The executor for attempt {@code attempt} (0 first): the addresses in turn, round robin. */
    public synchronized GrpcExecutorClient forAttempt(int attempt) {
        int i = Math.floorMod(attempt, addresses.size());
        if (clients[i] == null) {
            clients[i] = GrpcExecutorClient.connect(addresses.get(i), credentials, options);
        }
        return clients[i];
    }

    /**
     * Runs {@code work} on attempt 0's executor; if it throws an exception that {@code retryable}
     * accepts (by default {@link ExecutorCallException#retryable()}; callers add their integrity
     * failure), runs it again from scratch on the next executor, at most {@code retries} more times.
     * {@code work} must own its session (open, use, close) so that a retry starts clean. The last
     * failure is rethrown with the number of attempts in its message.
     */
    public <T> T withRetries(int retries, Predicate<RuntimeException> retryable, Function<Executor, T> work) {
        return retrying(retries, retryable, attempt -> work.apply(forAttempt(attempt)));
    }

    /**
     * The retry loop of {@link #withRetries(int, Predicate, Function)} for work that picks its executors
     * itself from the attempt number (e.g. one from each of two lists, for two non-colluding parties).
     */
    public static <T> T retrying(int retries, Predicate<RuntimeException> retryable, IntFunction<T> attemptWork) {
        if (retries < 0) {
            throw new IllegalArgumentException("--retries must be >= 0, got " + retries);
        }
        for (int attempt = 0; ; attempt++) {
            try {
                return attemptWork.apply(attempt);
            } catch (RuntimeException e) {
                boolean again = e instanceof ExecutorCallException c ? c.retryable() : retryable.test(e);
                if (!again || attempt >= retries) {
                    if (attempt == 0) {
                        throw e;
                    }
                    throw new ExecutorCallException(ExecutorCallException.Reason.UNAVAILABLE,
                            "gave up after " + (attempt + 1) + " attempts; last: " + e.getMessage(), e);
                }
            }
        }
    }

    @Override
    public synchronized void close() {
        for (GrpcExecutorClient c : clients) {
            if (c != null) {
                c.close();
            }
        }
    }
}
