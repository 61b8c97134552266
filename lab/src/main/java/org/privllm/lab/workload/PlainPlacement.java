package org.privllm.lab.workload;

import org.privllm.model.DecoderConfig;
import org.privllm.model.Gpt2Config;

/**
 * {@code plain}: the executor runs the whole model in plaintext; the trusted side sends token ids and
 * receives logits, one round trip per forward pass. The executor is provisioned with the public model
 * beforehand (no setup crossings).
 */
public final class PlainPlacement extends Placement {
    public PlainPlacement(Gpt2Config config) {
        super(config);
    }

    public PlainPlacement(DecoderConfig config) {
        super(config);
    }

    @Override public String strategy() { return "plain"; }
    @Override public boolean live() { return true; }

    @Override
    public void setup(Ledger l) {}

    @Override
    public void startCache(Ledger l, int batch, int capacity) {}

    @Override
    public void attention(Ledger l, int layer, int batch, int t, int past) {
        long n = (long) batch * t;
        if (layer == 0) {
            l.crossing(OpCosts.FLOAT_BYTES * n, 0, 1); // token ids (int32); positions follow from the cache
            l.working(OpCosts.FLOAT_BYTES * n);
        }
        executorAttention(l, layer, batch, t, past, true);
    }

    @Override
    public void lmHead(Ledger l, int rows) {
        executorHead(l, rows);
        l.crossing(0, OpCosts.FLOAT_BYTES * (long) rows * vocab, 0); // the reply of this forward's round trip
        l.working(OpCosts.FLOAT_BYTES * (long) rows * vocab);
    }
}
