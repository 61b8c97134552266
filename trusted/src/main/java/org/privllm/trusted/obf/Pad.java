package org.privllm.trusted.obf;

import java.util.concurrent.atomic.AtomicBoolean;
import org.ejml.data.DMatrixRMaj;

/**
 * A one-time pad {@code T (n×d_in)} with its compensation {@code C_T = T·W'·N_out}, bound to one
 * layer's masks. {@link #claim()} hands it out once; a second claim throws, so a pad can never blind
 * two inputs (two uses would reveal {@code (X₁ − X₂)·N_in}).
 */
public final class Pad {
    private final ObfuscatedLinear layer;
    private final DMatrixRMaj pad;
    private final DMatrixRMaj compensation;
    private final AtomicBoolean used = new AtomicBoolean();

    Pad(ObfuscatedLinear layer, DMatrixRMaj pad, DMatrixRMaj compensation) {
        this.layer = layer;
        this.pad = pad;
        this.compensation = compensation;
    }

    /** The pad and its compensation, exactly once. */
    public record Claimed(DMatrixRMaj pad, DMatrixRMaj compensation) {
        @Override
        public String toString() {
            return "Pad[" + pad.numRows + "x" + pad.numCols + "]";
        }
    }

    public Claimed claim() {
        if (!used.compareAndSet(false, true)) {
            throw new IllegalStateException("pad already used: a pad blinds exactly one input");
        }
        return new Claimed(pad, compensation);
    }

    public boolean used() {
        return used.get();
    }

    public ObfuscatedLinear layer() {
        return layer;
    }

    public int rows() {
        return pad.numRows;
    }

    @Override
    public String toString() {
        return "Pad[" + pad.numRows + "x" + pad.numCols + (used.get() ? ", used" : "") + "]";
    }
}
