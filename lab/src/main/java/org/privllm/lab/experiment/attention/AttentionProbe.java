package org.privllm.lab.experiment.attention;

import java.util.ArrayList;
import java.util.List;
import org.privllm.lab.verify.AttentionCore;
import org.privllm.lab.verify.CoreInputs;
import org.privllm.lab.verify.ErrorAccumulator;
import org.privllm.lab.verify.Verifier;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderWeights;
import org.privllm.model.PlainDecoderOps;
import org.privllm.model.TransformerOps;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.KvCache;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.mask.BlockDiagonalMask;
import org.privllm.trusted.obf.ObfuscatedDecoder;

/**
 * The plaintext engine's operations, with every attention call mirrored on the obfuscated model on the
 * same input (the plaintext attention-norm output), so each layer's attention is measured in isolation at
 * every step: prefill and each decode step over the executor's masked cache. The executor's cache rows are
 * what its attention core makes of its fused q/k/v output for the same input — q/k norms through the trusted
 * round trip, RoPE at each row's position — (the executor offers no read-back of its cache); in padding mode
 * that output is computed with a fresh pad, so it equals the appended rows up to rounding.
 */
final class AttentionProbe implements TransformerOps {
    private final DecoderConfig config;
    private final DecoderWeights weights;
    private final PlainDecoderOps plain;
    private final ObfuscatedDecoder obf;
    private final CoreInputs inputs;
    private final List<PackedWeight> qkv = new ArrayList<>();
    private KvCache plainShadow, maskedShadow;
    private int[] leftPad;
    private StepErrors step = new StepErrors();

    /** Errors of one step (prefill or one decode step), over every layer. */
    static final class StepErrors {
        final AttentionCore.Errors core = new AttentionCore.Errors();
        final ErrorAccumulator output = new ErrorAccumulator();
        final ErrorAccumulator keyAppend = new ErrorAccumulator();
        final ErrorAccumulator valueAppend = new ErrorAccumulator();
    }

    AttentionProbe(DecoderConfig config, DecoderWeights weights, ObfuscatedDecoder obf) {
        this.config = config;
        this.weights = weights;
        this.plain = new PlainDecoderOps(config, weights);
        this.obf = obf;
        this.inputs = new CoreInputs(config);
        for (DecoderWeights.Layer l : weights.layers()) {
            qkv.add(PackedWeight.pack(l.qkv()));
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
        plainShadow = new KvCache(config.layers(), leftPad.length, capacity, config.kvWidth(), leftPad);
        maskedShadow = new KvCache(config.layers(), leftPad.length, capacity, config.kvWidth(), leftPad);
        this.leftPad = leftPad.clone();
        step = new StepErrors();
    }

    @Override
    public Matrix attention(int layer, Matrix x, int t) {
        int q = config.qWidth(), kv = config.kvWidth();
        Matrix out = plain.attention(layer, x, t);
        step.output.add(out, obf.attention(layer, x, t));
        DecoderWeights.Layer l = weights.layers().get(layer);
        int[] positions = CoreInputs.positions(leftPad, plainShadow.length(), t);
        Matrix plainRows = inputs.rotated(inputs.normalized(l, Kernels.matmul(x, qkv.get(layer), l.qkvBias())), positions);
        Matrix product = Verifier.executorLinear(obf.session(), obf.qkv(layer), x);
        Matrix maskedRows = inputs.rotated(obf.attentionRows(layer, product), positions);
        step.keyAppend.add(new BlockDiagonalMask(obf.keyMasks(layer)).apply(Dense.of(plainRows.cols(q, q + kv))),
                Dense.of(maskedRows.cols(q, q + kv)));
        step.valueAppend.add(new BlockDiagonalMask(obf.valueMasks(layer)).apply(Dense.of(plainRows.cols(q + kv, q + 2 * kv))),
                Dense.of(maskedRows.cols(q + kv, q + 2 * kv)));
        plainShadow.append(layer, plainRows, plainRows, q, q + kv, t);
        maskedShadow.append(layer, maskedRows, maskedRows, q, q + kv, t);
        AttentionCore.compare(plainShadow, maskedShadow, layer, plainRows, maskedRows, t, config.heads(), config.kvHeads(),
                config.headDim(), config.attentionScale(layer), obf.valueMasks(layer), step.core);
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
