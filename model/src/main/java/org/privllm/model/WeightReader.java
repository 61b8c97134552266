package org.privllm.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.privllm.tensor.Matrix;

/**
 * A decoder's weights handed out a piece at a time, in the {@link DecoderWeights} layout: everything small at
 * once, each big linear weight and the LM head when asked. An engine that packs the linear weights can so let
 * each float32 copy go before the next is read, and never hold the whole float32 set. From a checkpoint
 * directory ({@link #open}: read from its memory-mapped safetensors, which {@link #close} unmaps) or from
 * weights in memory ({@link #of}).
 */
public interface WeightReader extends AutoCloseable {

    /** The embeddings, norms and biases: {@link DecoderWeights#withoutLinears}, the same object on every call. */
    DecoderWeights withoutLinears();

    /** Block {@code layer}'s {@code linear} weight, {@code in×out} at float32 (from a checkpoint: read now, kept nowhere). */
    Matrix linear(int layer, DecoderWeights.Linear linear);

    /** The LM head as {@code vocab × hidden}, or null when it is tied to the embeddings. */
    Matrix lmHead();

    @Override
    void close();

    /** Every weight at float32, as one {@link DecoderWeights}. */
    default DecoderWeights readAll() {
        Matrix head = lmHead(); // first: a checkpoint's missing or misshapen head is named before its layers'
        DecoderWeights small = withoutLinears();
        List<DecoderWeights.Layer> layers = new ArrayList<>();
        for (int i = 0; i < small.layers().size(); i++) {
            DecoderWeights.Layer l = small.layers().get(i);
            for (DecoderWeights.Linear k : DecoderWeights.Linear.values()) {
                l = l.with(k, linear(i, k));
            }
            layers.add(l);
        }
        return new DecoderWeights(small.embeddings(), small.positionEmbeddings(), List.copyOf(layers), small.finalNorm(),
                head);
    }

    /** The weights of the checkpoint in {@code dir}, whose config is {@code c} (its family decides the tensor names). */
    static WeightReader open(Path dir, DecoderConfig c) {
        return c.architecture() == Architecture.GPT2 ? Gpt2Adapter.reader(dir, c) : LlamaCheckpoint.reader(dir, c);
    }

    /** Weights already in memory, handed out as they are (nothing is copied; closing does nothing). */
    static WeightReader of(DecoderWeights w) {
        DecoderWeights small = w.withoutLinears();
        return new WeightReader() {
            @Override
            public DecoderWeights withoutLinears() {
                return small;
            }

            @Override
            public Matrix linear(int layer, DecoderWeights.Linear linear) {
                return linear.weight(w.layers().get(layer));
            }

            @Override
            public Matrix lmHead() {
                return w.lmHead();
            }

            @Override
            public void close() {}
        };
    }
}
