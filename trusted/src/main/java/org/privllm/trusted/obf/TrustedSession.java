package org.privllm.trusted.obf;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.mask.Mask;

/**
 * The trusted side of one executor session: samples masks, obfuscates and uploads weights, blinds
 * inputs and recovers outputs (DESIGN §1). All algebra is float64; the {@link Channel} decides what
 * precision crosses the wire.
 *
 * <pre>
 *   mask mode:  X̃ = X·N_in                          executor: Ỹ = X̃·W̃ + (X̃·Ã)·B̃ + b̃
 *   pad mode:   X̃ = (X − T)·N_in, C = T·W'·N_out     executor: Ỹ = X̃·W̃ + (X̃·Ã)·B̃ + b̃ + C
 *   recovery:   Y = Ỹ·N_out⁻¹ = X·W + b + (α/r)·X·A·B
 * </pre>
 *
 * Not thread-safe (one generation at a time per session); the pad pool refills on its own thread.
 */
public final class TrustedSession implements AutoCloseable {
    private final Channel channel;
    private final ObfuscationConfig config;
    private final Random random;
    private final SessionId session;
    private final PadSource pads;
    /** Per-call layers' pads (their masks change every call, so no pool can serve them). */
    private final PadSource onlinePads;

    public TrustedSession(Channel channel, ObfuscationConfig config) {
        this.channel = channel;
        this.config = config;
        this.random = config.random();
        this.session = channel.openSession();
        this.onlinePads = PadSource.online(config.padStd(), random);
        this.pads = config.padPool() ? new PadPool(config.poolCapacity(), config.padStd(), random) : onlinePads;
    }

    public ObfuscationConfig config() {
        return config;
    }

    /** The executor session this trusted session owns (per-session weights and the KV cache live there). */
    public SessionId executorSession() {
        return session;
    }

    public Channel channel() {
        return channel;
    }

    /** The pad source: a {@link PadPool} when the config asks for one. */
    public PadSource pads() {
        return pads;
    }

    /**
     * Registers a layer. Per-session scope: draws {@code N_in}, {@code N_out} (and {@code U}) from the
     * configured families and uploads the obfuscated weights once. Per-call scope: uploads nothing;
     * every {@link #forward} draws fresh masks.
     */
    public ObfuscatedLinear register(PlainLinear plain) {
        if (config.scope() == MaskScope.PER_CALL) {
            return new ObfuscatedLinear(plain, MaskScope.PER_CALL, null, null, null, null, null);
        }
        return register(plain, config.family().sample(plain.inDim(), random),
                config.family().sample(plain.outDim(), random));
    }

    /**
     * Registers a layer with given masks (per-session): for layers whose masks are tied to others',
     * e.g. GPT-2's c_attn output {@code diag(N_Q, N_K, N_V)} and c_proj input {@code diag(N_V)}.
     */
    public ObfuscatedLinear register(PlainLinear plain, Mask maskIn, Mask maskOut) {
        return bind(plain, MaskScope.PER_SESSION, maskIn, maskOut, session, false);
    }

    /**
     * {@link #register(PlainLinear, Mask, Mask)} for the fused q/k/v weight of {@code Executor.attention} calls: the
     * upload is marked {@link LinearWeights#asAttentionInput() as an attention input}, so an integrity checker
     * leaves its columns (the executor splits them into heads) as they are.
     */
    public ObfuscatedLinear registerAttentionInput(PlainLinear plain, Mask maskIn, Mask maskOut) {
        return bind(plain, MaskScope.PER_SESSION, maskIn, maskOut, session, true);
    }

    private ObfuscatedLinear bind(PlainLinear plain, MaskScope scope, Mask maskIn, Mask maskOut, SessionId target) {
        return bind(plain, scope, maskIn, maskOut, target, false);
    }

    private ObfuscatedLinear bind(PlainLinear plain, MaskScope scope, Mask maskIn, Mask maskOut, SessionId target,
                                  boolean attentionInput) {
        if (maskIn.dim() != plain.inDim() || maskOut.dim() != plain.outDim()) {
            throw new IllegalArgumentException("masks of dims " + maskIn.dim() + ", " + maskOut.dim()
                    + " do not fit layer " + plain.inDim() + "x" + plain.outDim());
        }
        Mask u = plain.lora() == null ? null : config.loraFamily().sample(plain.lora().rank(), random);
        boolean wire = channel.float32Wire() && wellConditioned(maskIn) && wellConditioned(maskOut)
                && (u == null || wellConditioned(u));
        WeightId id;
        if (attentionInput && channel.float32Wire()) {
            LinearWeights w = wire ? obfuscateWire(plain, maskIn, maskOut, u)
                    : ExecutorChannel.toWire(obfuscate(plain, maskIn, maskOut, u));
            id = channel.uploadWire(target, w.asAttentionInput());
        } else {
            id = wire ? channel.uploadWire(target, obfuscateWire(plain, maskIn, maskOut, u))
                    : channel.upload(target, obfuscate(plain, maskIn, maskOut, u));
        }
        return new ObfuscatedLinear(plain, scope, maskIn, maskOut, u, target, id, wire);
    }

    /**
     * {@code W̃ = N_in⁻¹·W·N_out}, {@code b̃ = b·N_out}, {@code Ã = N_in⁻¹·A·U},
     * {@code B̃ = U⁻¹·(α/r)·B·N_out}: each mask applied at its own cost.
     */
    public static MaskedWeights obfuscate(PlainLinear plain, Mask maskIn, Mask maskOut, Mask loraMask) {
        DMatrixRMaj w = maskOut.apply(maskIn.leftInverse(plain.weight()));
        double[] b = plain.bias() == null ? null
                : maskOut.apply(new DMatrixRMaj(1, plain.outDim(), true, plain.bias())).data;
        DMatrixRMaj a = null, bb = null;
        LowRankAdapter lora = plain.lora();
        if (lora != null) {
            if (loraMask == null || loraMask.dim() != lora.rank()) {
                throw new IllegalArgumentException("adapter of rank " + lora.rank() + " needs an r×r mask");
            }
            a = loraMask.apply(maskIn.leftInverse(lora.a()));
            bb = maskOut.apply(loraMask.leftInverse(Dense.scale(lora.scale(), lora.b())));
        }
        return new MaskedWeights(w, b, a, bb);
    }

    /** Float32 errors grow with κ: only masks this well conditioned (orthogonal, block, perm) take the float paths. */
    private static final double WIRE_MAX_CONDITION = 16;

    private static boolean wellConditioned(Mask m) {
        return m.conditionNumber() <= WIRE_MAX_CONDITION;
    }

    /**
     * {@link #obfuscate} at wire precision: the same products on the float32 kernels, for a channel that
     * sends float32 anyway (a dense 3072-wide mask makes the double products cost minutes per model).
     */
    public static LinearWeights obfuscateWire(PlainLinear plain, Mask maskIn, Mask maskOut, Mask loraMask) {
        Matrix w = maskOut.apply(maskIn.leftInverse(Dense.toFloat(plain.weight())));
        float[] b = plain.bias() == null ? null
                : maskOut.apply(Matrix.rowVector(Dense.toFloat(plain.bias()))).data;
        LowRankAdapter lora = plain.lora();
        if (lora == null) {
            return new LinearWeights(w, b);
        }
        if (loraMask == null || loraMask.dim() != lora.rank()) {
            throw new IllegalArgumentException("adapter of rank " + lora.rank() + " needs an r×r mask");
        }
        Matrix a = loraMask.apply(maskIn.leftInverse(Dense.toFloat(lora.a())));
        Matrix bb = maskOut.apply(loraMask.leftInverse(Dense.toFloat(Dense.scale(lora.scale(), lora.b()))));
        return new LinearWeights(w, b, a, bb);
    }

    /** Blinds {@code x} for a bound layer: {@code X̃} and (pad mode) a never-used pad's compensation. */
    public MaskedInput maskInput(ObfuscatedLinear layer, DMatrixRMaj x) {
        if (!layer.bound()) {
            throw new IllegalArgumentException("per-call layer has no masks until a call draws them");
        }
        if (x.numCols != layer.inDim()) {
            throw new IllegalArgumentException("input " + Dense.shape(x) + " does not fit layer "
                    + layer.inDim() + "x" + layer.outDim());
        }
        if (config.mode() == ObfuscationMode.MASK) {
            return new MaskedInput(layer.maskIn().apply(x), null);
        }
        Pad.Claimed pad = padSource(layer).next(layer, x.numRows).claim();
        return new MaskedInput(layer.maskIn().apply(Dense.sub(x, pad.exactPad())), pad.compensation());
    }

    /** {@code Y = Ỹ·N_out⁻¹}. */
    public DMatrixRMaj recover(ObfuscatedLinear layer, DMatrixRMaj yTilde) {
        return layer.maskOut().applyInverse(yTilde);
    }

    /**
     * One obfuscated linear call; returns the recovered {@code X·W + b (+ LoRA)}. Per-call scope draws
     * fresh masks and uploads freshly obfuscated weights into a short-lived executor session (the
     * executor has no call to drop a single weight, so a per-session upload would pile up).
     */
    public DMatrixRMaj forward(ObfuscatedLinear layer, DMatrixRMaj x) {
        if (layer.bound()) {
            return run(layer, x);
        }
        SessionId once = channel.openSession();
        try {
            PlainLinear plain = layer.plain();
            ObfuscatedLinear fresh = bind(plain, MaskScope.PER_CALL, config.family().sample(plain.inDim(), random),
                    config.family().sample(plain.outDim(), random), once);
            return run(fresh, x);
        } finally {
            channel.closeSession(once);
        }
    }

    /**
     * {@link #forward(ObfuscatedLinear, DMatrixRMaj)} for float32 activations. Bound (per-session) layers
     * run at wire precision end to end — masking, the executor call and recovery on the float kernels —
     * so the trusted cost is the scheme's own; per-call layers go through the float64 algebra.
     */
    public Matrix forward(ObfuscatedLinear layer, Matrix x) {
        if (!layer.bound() || !layer.wirePrecision()) {
            return Dense.toFloat(forward(layer, Dense.of(x)));
        }
        WireInput in = maskInput(layer, x);
        return layer.maskOut().applyInverse(channel.linearWire(layer.session(), layer.weightId(), in.x(), in.compensation()));
    }

    /** {@code X̃} and (pad mode) the compensation, at wire precision. */
    public record WireInput(Matrix x, Matrix compensation) {
        @Override
        public String toString() {
            return "WireInput[" + x.shape() + (compensation != null ? ", compensated" : "") + "]";
        }
    }

    /** {@link #maskInput(ObfuscatedLinear, DMatrixRMaj)} at wire precision (float32 in, float32 out). */
    public WireInput maskInput(ObfuscatedLinear layer, Matrix x) {
        if (!layer.bound()) {
            throw new IllegalArgumentException("per-call layer has no masks until a call draws them");
        }
        if (x.cols != layer.inDim()) {
            throw new IllegalArgumentException("input " + x.shape() + " does not fit layer " + layer.inDim() + "x" + layer.outDim());
        }
        if (!layer.wirePrecision()) { // ill-conditioned masks: the float64 algebra, rounded for the wire
            MaskedInput in = maskInput(layer, Dense.of(x));
            return new WireInput(Dense.toFloat(in.x()), in.compensation() == null ? null : Dense.toFloat(in.compensation()));
        }
        if (config.mode() == ObfuscationMode.MASK) {
            return new WireInput(layer.maskIn().apply(x), null);
        }
        Pad.Claimed pad = padSource(layer).next(layer, x.rows).claim();
        Matrix blinded = x.copy();
        org.privllm.tensor.Kernels.axpy(-1f, pad.pad().data, 0, blinded.data, 0, blinded.data.length);
        return new WireInput(layer.maskIn().apply(blinded), pad.wireCompensation());
    }

    private PadSource padSource(ObfuscatedLinear layer) {
        return layer.scope() == MaskScope.PER_SESSION ? pads : onlinePads;
    }

    private DMatrixRMaj run(ObfuscatedLinear layer, DMatrixRMaj x) {
        MaskedInput in = maskInput(layer, x);
        return recover(layer, channel.linear(layer.session(), layer.weightId(), in.x(), in.compensation()));
    }

    /** Closes the executor session and the pad pool (the channel stays open: it may serve other sessions). */
    @Override
    public void close() {
        pads.close();
        channel.closeSession(session);
    }

    @Override
    public String toString() {
        return "TrustedSession[" + config + "]";
    }
}
