package org.privllm.protocol;

import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;

/**
 * What the untrusted executor offers the trusted domain. Every argument and result is an
 * obfuscated tensor, a shape, a public scalar or an opaque id: this interface is what goes over the
 * wire (in-process, a separate process, or a GPU server), so nothing in it may rely on shared memory.
 * Implementations must copy what they keep.
 */
public interface Executor extends AutoCloseable {

    /** Opens an isolated session; the id is unguessable. */
    SessionId openSession();

    /** Frees everything the session holds (weights, KV cache). Unknown ids are ignored. */
    void closeSession(SessionId session);

    /**
     * Stores an obfuscated linear layer {@code W̃ (in×out)}, {@code b̃ (out, nullable)} and an optional
     * masked low-rank adapter {@code Ã (in×r)}, {@code B̃ (r×out)} (the LoRA scale folded into B̃).
     */
    WeightId uploadLinear(SessionId session, LinearWeights weights);

    /**
     * {@code Ỹ = X̃·W̃ + (X̃·Ã)·B̃ + b̃ + C}; the compensation {@code C (n×out)} is null in mask mode.
     */
    Matrix linear(SessionId session, WeightId weight, Matrix x, Matrix compensation);

    /**
     * {@code Y = X·W} in float64 on a stored weight that was uploaded without bias and adapter. The
     * blinded privacy levels send rows padded far beyond the signal (or additive shares of it) against the
     * public weight; only float64 keeps the pad's product cancelling on the trusted side.
     */
    DoubleMatrix linear64(SessionId session, WeightId weight, DoubleMatrix x);

    /**
     * Starts a new (empty) KV cache for a batch of left-padded sequences in this session, replacing
     * any previous one. {@code leftPad[b]} slots at the start of sequence b are padding.
     */
    void startCache(SessionId session, int layers, int capacity, int width, int[] leftPad);

    /**
     * One attention sublayer over the session's KV cache: {@code qkv = X̃·W̃_qkv + b̃ + C} (or the given
     * {@code [Q̃|K̃|Ṽ]} rows when the call names no q/k/v weight), split into {@code heads} query and
     * {@code kvHeads} key and value heads; queries and keys rotated by the call's rotary embedding, if any;
     * K̃ and Ṽ appended at {@code layer}; causal softmax attention per query head with {@code scale} over its
     * group's key/value head; then {@code ·W̃_proj + b̃_proj}. Returns the masked projection output.
     *
     * @param call {@code t}: new slots per sequence in this call (prompt length at prefill, 1 at decode)
     */
    Matrix attention(SessionId session, AttentionCall call);

    /** Marks {@code t} slots written by every layer's {@link #attention} as part of the cache. */
    void advanceCache(SessionId session, int t);

    /**
     * Whether calls leave this process (another process or machine): the trusted side may then do its own
     * share of a call's work while the call is in flight. An in-process executor computes on this machine's
     * cores itself, so overlapping would only make the two compete for them.
     */
    default boolean remote() {
        return false;
    }

    @Override
    void close();
}
