package org.privllm.protocol;

import org.privllm.tensor.Matrix;

/**
 * One attention sublayer request (see {@link Executor#attention}).
 *
 * @param layer        which layer's cache slot to append to
 * @param qkv          the fused obfuscated c_attn weight
 * @param proj         the obfuscated c_proj weight (absorbs the value mask on its input side)
 * @param x            masked input rows, {@code batch·t × in}
 * @param compensation padding-mode compensation for the c_attn product, or null
 * @param t            new slots per sequence
 * @param heads        number of heads
 * @param scale        score scale
 */
public record AttentionCall(int layer, WeightId qkv, WeightId proj, Matrix x, Matrix compensation, int t,
                            int heads, float scale) {}
