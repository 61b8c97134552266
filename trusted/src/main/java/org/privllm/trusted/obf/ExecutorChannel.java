package org.privllm.trusted.obf;

import org.ejml.data.DMatrixRMaj;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;

/** A {@link Channel} over a real {@link Executor}: float32 on the wire. Closing it closes the executor. */
public final class ExecutorChannel implements Channel {
    private final Executor executor;

    public ExecutorChannel(Executor executor) {
        this.executor = executor;
    }

    /** The executor behind this channel (for calls beyond linear layers: attention, KV cache). */
    public Executor executor() {
        return executor;
    }

    @Override
    public SessionId openSession() {
        return executor.openSession();
    }

    @Override
    public void closeSession(SessionId session) {
        executor.closeSession(session);
    }

    @Override
    public WeightId upload(SessionId session, MaskedWeights w) {
        return executor.uploadLinear(session, toWire(w));
    }

    /** The float32 wire form of masked weights. */
    public static LinearWeights toWire(MaskedWeights w) {
        return new LinearWeights(Dense.toFloat(w.weight()), w.bias() == null ? null : Dense.toFloat(w.bias()),
                w.loraA() == null ? null : Dense.toFloat(w.loraA()), w.loraB() == null ? null : Dense.toFloat(w.loraB()));
    }

    @Override
    public DMatrixRMaj linear(SessionId session, WeightId weight, DMatrixRMaj x, DMatrixRMaj compensation) {
        return Dense.of(executor.linear(session, weight, Dense.toFloat(x),
                compensation == null ? null : Dense.toFloat(compensation)));
    }

    @Override
    public boolean float32Wire() {
        return true;
    }

    @Override
    public WeightId uploadWire(SessionId session, LinearWeights weights) {
        return executor.uploadLinear(session, weights);
    }

    @Override
    public Matrix linearWire(SessionId session, WeightId weight, Matrix x, Matrix compensation) {
        return executor.linear(session, weight, x, compensation);
    }

    @Override
    public void close() {
        executor.close();
    }
}
