package org.privllm.tensor;

/**
 * Keys and values of every layer for a batch of sequences, as the attention kernel sees them.
 * Sequences are left-padded: slot {@code j} of sequence {@code b} is a real token iff
 * {@code j >= leftPad[b]}. The cache knows nothing about what its rows mean (plaintext or masked).
 */
public final class KvCache {
    private final int layers;
    private final int batch;
    private final int capacity;
    private final int width;
    private final float[][] keys;
    private final float[][] values;
    private final int[] leftPad;
    private int length;

    /**
     * @param width    values per slot: all key/value heads side by side ({@code n_embd} for GPT-2,
     *                 {@code kvHeads·headDim} with grouped-query attention)
     * @param capacity slots per sequence (at most {@code n_positions} plus padding)
     */
    public KvCache(int layers, int batch, int capacity, int width, int[] leftPad) {
        if (leftPad.length != batch) {
            throw new IllegalArgumentException("leftPad has " + leftPad.length + " entries for batch " + batch);
        }
        long floats = (long) layers * batch * capacity * width * 2;
        if (floats > Integer.MAX_VALUE * 8L) {
            throw new IllegalArgumentException("KV cache too large: " + floats * 4 / (1 << 20) + " MiB");
        }
        this.layers = layers;
        this.batch = batch;
        this.capacity = capacity;
        this.width = width;
        this.leftPad = leftPad.clone();
        this.keys = new float[layers][];
        this.values = new float[layers][];
        for (int l = 0; l < layers; l++) {
            keys[l] = new float[batch * capacity * width];
            values[l] = new float[batch * capacity * width];
        }
    }

    public int layers() { return layers; }
    public int batch() { return batch; }
    public int capacity() { return capacity; }
    public int width() { return width; }
    /** Slots filled so far (the same for every sequence of the batch). */
    public int length() { return length; }
    public int leftPad(int b) { return leftPad[b]; }
    public int[] leftPads() { return leftPad.clone(); }

    float[] keys(int layer) { return keys[layer]; }
    float[] values(int layer) { return values[layer]; }

    /** Offset of slot {@code j} of sequence {@code b} in a layer's key or value array. */
    int slot(int b, int j) {
        return (b * capacity + j) * width;
    }

    /**
     * Appends {@code t} new slots per sequence to {@code layer}: rows {@code b·t + i} of {@code k}
     * and {@code v} (each {@code batch·t × width}). The cache length advances once every layer has
     * been written, via {@link #advance(int)}.
     */
    public void append(int layer, Matrix k, Matrix v, int kCol, int vCol, int t) {
        if (length + t > capacity) {
            throw new IllegalStateException("KV cache full: " + length + " + " + t + " > " + capacity);
        }
        if (k.rows != batch * t || v.rows != batch * t) {
            throw new IllegalArgumentException("append of " + k.rows + " rows to a batch of " + batch + " x " + t);
        }
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < t; i++) {
                int r = b * t + i;
                System.arraycopy(k.data, r * k.cols + kCol, keys[layer], slot(b, length + i), width);
                System.arraycopy(v.data, r * v.cols + vCol, values[layer], slot(b, length + i), width);
            }
        }
    }

    /**
     * Appends {@code t} new slots to a one-sequence cache (a sequence of a ragged batch) at {@code layer}: keys
     * from rows {@code [row, row + t)} of {@code src} at column {@code kCol}, values at {@code vCol}. The length
     * advances with {@link #advance(int)} once every layer has been written.
     */
    public void append(int layer, Matrix src, int row, int kCol, int vCol, int t) {
        if (batch != 1) {
            throw new IllegalStateException("row-range appends are for one-sequence caches, this one holds " + batch);
        }
        if (length + t > capacity) {
            throw new IllegalStateException("KV cache full: " + length + " + " + t + " > " + capacity);
        }
        if (row < 0 || row + t > src.rows || kCol + width > src.cols || vCol + width > src.cols) {
            throw new IllegalArgumentException("append of rows [" + row + ", " + (row + t) + ") from " + src.shape());
        }
        for (int i = 0; i < t; i++) {
            int r = row + i;
            System.arraycopy(src.data, r * src.cols + kCol, keys[layer], slot(0, length + i), width);
            System.arraycopy(src.data, r * src.cols + vCol, values[layer], slot(0, length + i), width);
        }
    }

    public void advance(int t) {
        if (length + t > capacity) {
            throw new IllegalStateException("KV cache full");
        }
        length += t;
    }

    /** Key slot {@code j} of sequence {@code b} at {@code layer} (a copy; for checks and experiments). */
    public float[] key(int layer, int b, int j) {
        return java.util.Arrays.copyOfRange(keys[layer], slot(b, j), slot(b, j) + width);
    }

    public float[] value(int layer, int b, int j) {
        return java.util.Arrays.copyOfRange(values[layer], slot(b, j), slot(b, j) + width);
    }

    public long bytes() {
        return 8L * layers * batch * capacity * width;
    }
}
