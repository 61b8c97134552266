package org.privllm.lab.verify;

import java.util.HashMap;
import java.util.Map;
import org.privllm.model.TransformerOps;
import org.privllm.tensor.Matrix;

/**
 * A {@link TransformerOps} decorator that keeps copies of what {@link org.privllm.model.DecoderForward}
 * hands to the linear algebra while {@link #recording} is on: the inputs of each layer's attention
 * ({@code ln_1} output), {@code c_fc} ({@code ln_2} output) and MLP {@code c_proj} (activation output),
 * and the output of {@code c_fc}. These are exactly the trusted domain's computations, so comparing two
 * pipelines' recordings checks LayerNorm and GELU where they run.
 */
public final class RecordingOps implements TransformerOps {
    private final TransformerOps inner;
    private final Map<Integer, Matrix> ln1 = new HashMap<>(), ln2 = new HashMap<>(), act = new HashMap<>(),
            fc = new HashMap<>();
    private boolean recording = true;

    public RecordingOps(TransformerOps inner) {
        this.inner = inner;
    }

    public TransformerOps inner() {
        return inner;
    }

    /** Turns recording on or off (later steps leave earlier recordings untouched). */
    public void recording(boolean on) {
        recording = on;
    }

    /** {@code ln_1} output of {@code layer}: the attention sublayer's input. */
    public Matrix ln1(int layer) {
        return get(ln1, layer);
    }

    /** {@code ln_2} output of {@code layer}: {@code c_fc}'s input. */
    public Matrix ln2(int layer) {
        return get(ln2, layer);
    }

    /** {@code c_fc} output of {@code layer} (before the activation). */
    public Matrix cFcOut(int layer) {
        return get(fc, layer);
    }

    /** Activation (GELU) output of {@code layer}: the MLP {@code c_proj}'s input. */
    public Matrix activation(int layer) {
        return get(act, layer);
    }

    private static Matrix get(Map<Integer, Matrix> m, int layer) {
        Matrix x = m.get(layer);
        if (x == null) {
            throw new IllegalStateException("nothing recorded for layer " + layer);
        }
        return x;
    }

    @Override
    public void startCache(int[] leftPad, int capacity) {
        inner.startCache(leftPad, capacity);
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        if (recording) {
            ln1.put(layer, x.copy());
        }
        return inner.attention(layer, x, t);
    }

    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        Matrix y = inner.mlpUp(layer, x);
        if (recording) {
            ln2.put(layer, x.copy());
            fc.put(layer, y.copy()); // the caller applies the activation in place
        }
        return y;
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        if (recording) {
            act.put(layer, x.copy());
        }
        return inner.mlpDown(layer, x);
    }

    @Override
    public void advance(int t) {
        inner.advance(t);
    }

    @Override
    public Matrix lmHead(Matrix h) {
        return inner.lmHead(h);
    }
}
