package org.privllm.trusted.integrity;

import org.privllm.protocol.Executor;

/** The trusted module's test executors, for tests in other packages. */
public final class TestExecutors {
    private TestExecutors() {}

    /** An honest in-memory executor. */
    public static Executor honest() {
        return new ReferenceExecutor(0, 1);
    }

    /** One that corrupts results with probability {@code p} (see {@link ReferenceExecutor}). */
    public static Executor tampering(double p, long seed) {
        return new ReferenceExecutor(p, seed);
    }
}
