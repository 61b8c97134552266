package org.privllm.trusted.obf;

import org.ejml.data.DMatrixRMaj;
import org.privllm.protocol.Executor;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;

/**
 * The executor as the (float64) trusted algebra sees it. {@link #float32(Executor)} is the real one:
 * it rounds every tensor to float32 for the wire and widens the results; the verification package has
 * an exact float64 counterpart, so the same obfuscation code can be checked to 1e-10.
 */
public interface Channel extends AutoCloseable {
    SessionId openSession();

    void closeSession(SessionId session);

    WeightId upload(SessionId session, MaskedWeights weights);

    /** {@code X̃·W̃ + (X̃·Ã)·B̃ + b̃ + C} ({@code C} null in mask mode). */
    DMatrixRMaj linear(SessionId session, WeightId weight, DMatrixRMaj x, DMatrixRMaj compensation);

    @Override
    void close();

    static ExecutorChannel float32(Executor executor) {
        return new ExecutorChannel(executor);
    }
}
