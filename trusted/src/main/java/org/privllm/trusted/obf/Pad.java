package org.privllm.trusted.obf;

import java.util.concurrent.atomic.AtomicBoolean;
import org.ejml.data.DMatrixRMaj;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;

/**
 * A one-time pad {@code T (n×d_in)} with its compensation {@code C_T = T·W'·N_out}, bound to one
 * layer's masks. {@link #claim()} hands it out once; a second claim throws, so a pad can never blind
 * two inputs (two uses would reveal {@code (X₁ − X₂)·N_in}).
 *
 * <p>{@code T} is float-valued (exact in either precision). {@code C_T} is kept in the precision of the
 * layer's channel: float32 for layers whose weights crossed as float32, float64 for the exact channel.
 */
public final class Pad {
    private final ObfuscatedLinear layer;
    private final Matrix pad;
    private final Matrix wireCompensation;
    private final DMatrixRMaj exactCompensation;
    private final AtomicBoolean used = new AtomicBoolean();

    private Pad(ObfuscatedLinear layer, Matrix pad, Matrix wireCompensation, DMatrixRMaj exactCompensation) {
        this.layer = layer;
        this.pad = pad;
        this.wireCompensation = wireCompensation;
        this.exactCompensation = exactCompensation;
    }

    static Pad wire(ObfuscatedLinear layer, Matrix pad, Matrix compensation) {
        return new Pad(layer, pad, compensation, null);
    }

    static Pad exact(ObfuscatedLinear layer, Matrix pad, DMatrixRMaj compensation) {
        return new Pad(layer, pad, null, compensation);
    }

    /** The pad and its compensation, handed out once; either precision can be read from it. */
    public final class Claimed {
        private Claimed() {}

        /** {@code T} in float32. */
        public Matrix pad() {
            return pad;
        }

        /** {@code T} widened to float64 (exactly). */
        public DMatrixRMaj exactPad() {
            return Dense.of(pad);
        }

        /** {@code C_T} in float64 (widened when it was computed at wire precision). */
        public DMatrixRMaj compensation() {
            return exactCompensation != null ? exactCompensation : Dense.of(wireCompensation);
        }

        /** {@code C_T} in float32 (rounded when it was computed in float64). */
        public Matrix wireCompensation() {
            return wireCompensation != null ? wireCompensation : Dense.toFloat(exactCompensation);
        }

        @Override
        public String toString() {
            return "Pad[" + pad.rows + "x" + pad.cols + "]";
        }
    }

    public Claimed claim() {
        if (!used.compareAndSet(false, true)) {
            throw new IllegalStateException("pad already used: a pad blinds exactly one input");
        }
        return new Claimed();
    }

    public boolean used() {
        return used.get();
    }

    public ObfuscatedLinear layer() {
        return layer;
    }

    public int rows() {
        return pad.rows;
    }

    @Override
    public String toString() {
        return "Pad[" + pad.rows + "x" + pad.cols + (used.get() ? ", used" : "") + "]";
    }
}
