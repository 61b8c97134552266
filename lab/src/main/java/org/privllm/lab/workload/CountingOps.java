package org.privllm.lab.workload;

import org.privllm.model.TransformerOps;
import org.privllm.tensor.Matrix;

/**
 * A {@link TransformerOps} decorator that charges each real call, with its real shapes, to a
 * {@link Placement}: the trusted work around the call. Give it {@link Ledger#trustedView()} when a
 * {@link CountingExecutor} counts the executor calls themselves, the full ledger when the wrapped ops
 * are the executor (plain).
 */
public final class CountingOps implements TransformerOps {
    private final TransformerOps inner;
    private final Placement placement;
    private final Ledger ledger;
    private int batch;
    private int past;

    public CountingOps(TransformerOps inner, Placement placement, Ledger ledger) {
        this.inner = inner;
        this.placement = placement;
        this.ledger = ledger;
    }

    @Override
    public void startCache(int[] leftPad, int capacity) {
        batch = leftPad.length;
        past = 0;
        placement.startCache(ledger, batch, capacity);
        inner.startCache(leftPad, capacity);
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        placement.attention(ledger, layer, x.rows / t, t, past);
        return inner.attention(layer, x, t);
    }

    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        placement.mlpUp(ledger, x.rows);
        return inner.mlpUp(layer, x);
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        placement.mlpDown(ledger, x.rows);
        return inner.mlpDown(layer, x);
    }

    @Override
    public void advance(int t) {
        placement.advance(ledger, batch * t);
        past += t;
        inner.advance(t);
    }

    @Override
    public Matrix lmHead(Matrix h) {
        placement.lmHead(ledger, h.rows);
        return inner.lmHead(h);
    }
}
