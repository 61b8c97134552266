package org.privllm.trusted.obf;

import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.trusted.mask.Mask;

/**
 * A linear layer registered with a {@link TrustedSession}. With per-session scope it holds its secret
 * masks {@code N_in}, {@code N_out} (and the adapter mask {@code U}) and the id of its obfuscated weights
 * on the executor; with per-call scope it holds only the plaintext layer and every call draws a fresh
 * instance. Trusted-side object: never serialised, never printed beyond its shape.
 */
public final class ObfuscatedLinear {
    private final PlainLinear plain;
    private final MaskScope scope;
    private final Mask maskIn;
    private final Mask maskOut;
    private final Mask loraMask;
    private final SessionId session;
    private final WeightId weightId;

    /** Whether its weights crossed as float32 (then pads are compensated at that precision too). */
    private final boolean wirePrecision;

    ObfuscatedLinear(PlainLinear plain, MaskScope scope, Mask maskIn, Mask maskOut, Mask loraMask,
                     SessionId session, WeightId weightId) {
        this(plain, scope, maskIn, maskOut, loraMask, session, weightId, false);
    }

    ObfuscatedLinear(PlainLinear plain, MaskScope scope, Mask maskIn, Mask maskOut, Mask loraMask,
                     SessionId session, WeightId weightId, boolean wirePrecision) {
        this.wirePrecision = wirePrecision;
        this.plain = plain;
        this.scope = scope;
        this.maskIn = maskIn;
        this.maskOut = maskOut;
        this.loraMask = loraMask;
        this.session = session;
        this.weightId = weightId;
    }

    public PlainLinear plain() {
        return plain;
    }

    public MaskScope scope() {
        return scope;
    }

    /** {@code N_in} (null for a per-call template). */
    public Mask maskIn() {
        return maskIn;
    }

    /** {@code N_out} (null for a per-call template). */
    public Mask maskOut() {
        return maskOut;
    }

    /** The adapter mask {@code U}, or null. */
    public Mask loraMask() {
        return loraMask;
    }

    /** The executor session holding the obfuscated weights (null for a per-call template). */
    public SessionId session() {
        return session;
    }

    /** The obfuscated weights' id on the executor (null for a per-call template). */
    public WeightId weightId() {
        return weightId;
    }

    public int inDim() {
        return plain.inDim();
    }

    public int outDim() {
        return plain.outDim();
    }

    private volatile org.privllm.tensor.PackedWeight effectivePacked;

    /**
     * {@code W' = W + (α/r)·A·B} in float32, packed once: the trusted side's plaintext copy for computing
     * pad compensations at wire precision (never sent anywhere).
     */
    org.privllm.tensor.PackedWeight effectiveWeightPacked() {
        org.privllm.tensor.PackedWeight p = effectivePacked;
        if (p == null) {
            org.ejml.data.DMatrixRMaj w = plain.weight();
            if (plain.lora() != null) {
                w = org.privllm.trusted.linalg.Dense.add(w, org.privllm.trusted.linalg.Dense.scale(plain.lora().scale(),
                        org.privllm.trusted.linalg.Dense.mul(plain.lora().a(), plain.lora().b())));
            }
            effectivePacked = p = org.privllm.tensor.PackedWeight.pack(org.privllm.trusted.linalg.Dense.toFloat(w));
        }
        return p;
    }

    boolean wirePrecision() {
        return wirePrecision;
    }

    boolean bound() {
        return weightId != null;
    }

    @Override
    public String toString() {
        return "ObfuscatedLinear[" + inDim() + "x" + outDim() + ", " + scope + "]";
    }
}
