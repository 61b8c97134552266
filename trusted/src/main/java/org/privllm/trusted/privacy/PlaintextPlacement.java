package org.privllm.trusted.privacy;

import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.Matrix;

/**
 * The TSLP-style partition baseline ({@code trusted_nonlinear}, DESIGN §2): every linear layer runs in
 * plaintext on one executor (weight and bias uploaded unmasked, a private adapter kept trusted). It hides
 * nothing from the executor but the nonlinear results it never sees; it exists to be measured against the
 * other levels.
 */
public final class PlaintextPlacement implements LinearPlacement {
    private final Executor executor;
    private final SessionId session;

    /** Opens a session on {@code executor} (which the caller keeps). */
    public PlaintextPlacement(Executor executor) {
        this.executor = executor;
        this.session = executor.openSession();
    }

    @Override
    public PlacedLinear bind(PlacedLinear local, double inputRms) {
        WeightId id = executor.uploadLinear(session, new LinearWeights(local.weight().toMatrix(), local.bias()));
        return local.placed(new WeightId[] {id}, 0);
    }

    @Override
    public Matrix forward(PlacedLinear layer, Matrix x) {
        Matrix y = executor.linear(session, layer.ids()[0], x, null);
        layer.addAdapter(x, y);
        return y;
    }

    /** Frees the executor session (the executor itself stays open). */
    @Override
    public void close() {
        executor.closeSession(session);
    }
}
