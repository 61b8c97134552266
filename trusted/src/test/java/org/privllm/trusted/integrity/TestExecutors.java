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

    /** An executor process over a {@link ReferenceExecutor} (see {@link RemoteTamperTest#start}). */
    public static Process startProcess(double tamper) throws java.io.IOException {
        return RemoteTamperTest.start(tamper);
    }

    /** The HOST:PORT a process from {@link #startProcess} announces (waits for its ready line). */
    public static String address(Process p) throws Exception {
        return RemoteTamperTest.address(p);
    }
}
