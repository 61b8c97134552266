package org.privllm.model;

import java.nio.file.Path;

/**
 * A checkpoint directory's weights read from its memory-mapped safetensors ({@link SafeTensorShards}), for a
 * family that names the tensors: the small part is read once, when first asked for, each linear weight every
 * time it is asked for.
 */
abstract class CheckpointReader implements WeightReader {
    protected final SafeTensorShards tensors;
    private DecoderWeights small;

    CheckpointReader(Path dir) {
        this.tensors = SafeTensorShards.open(dir);
    }

    /** The embeddings, norms and biases, read from the checkpoint. */
    protected abstract DecoderWeights readWithoutLinears();

    @Override
    public final synchronized DecoderWeights withoutLinears() {
        if (small == null) {
            small = readWithoutLinears();
        }
        return small;
    }

    @Override
    public void close() {
        tensors.close();
    }
}
