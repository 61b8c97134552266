package org.privllm.trusted.obf;

import org.ejml.data.DMatrixRMaj;
import org.privllm.protocol.Executor;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;

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

    /**
     * The same call at wire precision (float32 in and out). The default widens to the float64 call; the
     * real executor channel passes the tensors straight through.
     */
    default Matrix linearWire(SessionId session, WeightId weight, Matrix x, Matrix compensation) {
        return Dense.toFloat(linear(session, weight, Dense.of(x), compensation == null ? null : Dense.of(compensation)));
    }

    /** True when tensors cross as float32: weights may then be obfuscated at that precision ({@link #uploadWire}). */
    default boolean float32Wire() {
        return false;
    }

    /** Uploads weights already in wire form (only for {@link #float32Wire()} channels). */
    default WeightId uploadWire(SessionId session, org.privllm.protocol.LinearWeights weights) {
        throw new UnsupportedOperationException("this channel takes float64 weights");
    }

    @Override
    void close();

    static ExecutorChannel float32(Executor executor) {
        return new ExecutorChannel(executor);
    }
}
