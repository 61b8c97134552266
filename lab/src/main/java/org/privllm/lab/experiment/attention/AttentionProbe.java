package org.privllm.lab.experiment.attention;

import java.util.ArrayList;
import java.util.List;
import org.privllm.lab.verify.AttentionCore;
import org.privllm.lab.verify.ErrorAccumulator;
import org.privllm.lab.verify.Verifier;
import org.privllm.model.Gpt2Adapter;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Weights;
import org.privllm.model.PlainDecoderOps;
import org.privllm.model.TransformerOps;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.trusted.gpt2.ObfuscatedGpt2;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.mask.BlockDiagonalMask;

/**
 * The plaintext engine's operations, with every attention call mirrored on the obfuscated model on the
 * same input (the plaintext {@code ln_1} output), so each layer's attention is measured in isolation at
 * every step: prefill and each decode step over the executor's masked cache. The executor's cache rows are
 * the {@code K̃}, {@code Ṽ} columns of its fused {@code c_attn} output for the same input (the executor
 * offers no read-back of its cache); in padding mode that output is computed with a fresh pad, so it
 * equals the appended rows up to rounding.
 */
final class AttentionProbe implements TransformerOps {
    private final Gpt2Config config;
    private final Gpt2Weights weights;
    private final PlainDecoderOps plain;
    private final ObfuscatedGpt2 obf;
    private final List<PackedWeight> cAttn = new ArrayList<>();
    private KvCache plainShadow, maskedShadow;
    private StepErrors step = new StepErrors();

    /** Errors of one step (prefill or one decode step), over every layer. */
    static final class StepErrors {
        final AttentionCore.Errors core = new AttentionCore.Errors();
        final ErrorAccumulator output = new ErrorAccumulator();
        final ErrorAccumulator keyAppend = new ErrorAccumulator();
        final ErrorAccumulator valueAppend = new ErrorAccumulator();
    }

    AttentionProbe(Gpt2Config config, Gpt2Weights weights, ObfuscatedGpt2 obf) {
        this.config = config;
        this.weights = weights;
        this.plain = new PlainDecoderOps(Gpt2Adapter.config(config, weights), Gpt2Adapter.weights(weights));
        this.obf = obf;
        for (Gpt2Weights.Layer l : weights.layers()) {
            cAttn.add(PackedWeight.pack(l.cAttn()));
        }
    }

    /** The errors gathered since the last call, and a fresh accumulator for the next step. */
    StepErrors takeStep() {
        StepErrors s = step;
        step = new StepErrors();
        return s;
    }

    @Override
    public void startCache(int[] leftPad, int capacity) {
        plain.startCache(leftPad, capacity);
        obf.startCache(leftPad, capacity);
        plainShadow = new KvCache(config.layers(), leftPad.length, capacity, config.embd(), leftPad);
        maskedShadow = new KvCache(config.layers(), leftPad.length, capacity, config.embd(), leftPad);
        step = new StepErrors();
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        int d = config.embd();
        Matrix out = plain.attention(layer, x, t);
        step.output.add(out, obf.attention(layer, x, t));
        Matrix qkv = Kernels.matmul(x, cAttn.get(layer), weights.layers().get(layer).cAttnBias());
        Matrix qkvMasked = Verifier.executorLinear(obf.session(), obf.cAttn(layer), x);
        step.keyAppend.add(new BlockDiagonalMask(obf.keyMasks(layer)).apply(Dense.of(qkv.cols(d, 2 * d))),
                Dense.of(qkvMasked.cols(d, 2 * d)));
        step.valueAppend.add(new BlockDiagonalMask(obf.valueMasks(layer)).apply(Dense.of(qkv.cols(2 * d, 3 * d))),
                Dense.of(qkvMasked.cols(2 * d, 3 * d)));
        plainShadow.append(layer, qkv, qkv, d, 2 * d, t);
        maskedShadow.append(layer, qkvMasked, qkvMasked, d, 2 * d, t);
        AttentionCore.compare(plainShadow, maskedShadow, layer, qkv, qkvMasked, t, config.heads(),
                config.attentionScale(layer), obf.valueMasks(layer), step.core);
        return out;
    }

    @Override
    public Matrix mlpUp(int layer, Matrix x) {
        return plain.mlpUp(layer, x);
    }

    @Override
    public Matrix mlpDown(int layer, Matrix x) {
        return plain.mlpDown(layer, x);
    }

    @Override
    public void advance(int t) {
        plain.advance(t);
        obf.advance(t);
        plainShadow.advance(t);
        maskedShadow.advance(t);
    }

    @Override
    public Matrix lmHead(Matrix h) {
        return plain.lmHead(h);
    }
}
