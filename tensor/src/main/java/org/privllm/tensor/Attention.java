package org.privllm.tensor;

/**
 * Multi-head causal attention over a {@link KvCache}: the same kernel serves the plaintext engine
 * and the untrusted executor (which runs it on masked Q̃, K̃, Ṽ with {@code N_Q·N_Kᵀ = I}).
 */
public final class Attention {
    private Attention() {}

    /**
     * Appends this step's keys and values to {@code cache} at {@code layer}, then attends.
     *
     * @param qkv   {@code batch·t × 3·width}: [Q | K | V] for the {@code t} new slots of each sequence
     * @param heads number of heads ({@code width} must be divisible by it)
     * @param scale score scale ({@code 1/√d_h}, possibly divided by the layer index)
     * @return {@code batch·t × width}: per head {@code softmax(scale·Q·Kᵀ + causal/pad mask)·V}
     */
    public static Matrix attend(KvCache cache, int layer, Matrix qkv, int t, int heads, float scale) {
        int width = cache.width();
        if (qkv.cols != 3 * width || qkv.rows != cache.batch() * t) {
            throw new IllegalArgumentException("attention input " + qkv.shape() + " for batch " + cache.batch()
                    + " x " + t + " and width " + width);
        }
        if (width % heads != 0) {
            throw new IllegalArgumentException("width " + width + " not divisible by " + heads + " heads");
        }
        cache.append(layer, qkv, qkv, width, 2 * width, t);
        int past = cache.length();
        Matrix out = new Matrix(qkv.rows, width);
        int dh = width / heads;
        int batch = cache.batch();
        float[] kd = cache.keys(layer), vd = cache.values(layer);
        Parallel.forRange(batch * heads, 1, (from, to) -> {
            float[] scores = new float[past + t];
            for (int bh = from; bh < to; bh++) {
                int b = bh / heads, h = bh % heads;
                int pad = cache.leftPad(b);
                for (int i = 0; i < t; i++) {
                    int row = b * t + i;
                    int last = past + i; // causal: keys up to and including this slot
                    attendRow(qkv.data, row * qkv.cols + h * dh, kd, vd, cache.slot(b, 0) + h * dh, width,
                            pad, last, dh, scale, scores, out.data, row * width + h * dh);
                }
            }
        });
        return out;
    }

    /** One query row of one head against key slots {@code [first, last]}. */
    private static void attendRow(float[] q, int qo, float[] k, float[] v, int base, int stride, int first,
                                  int last, int dh, float scale, float[] scores, float[] out, int oo) {
        if (first > last) {
            return; // a padding slot with nothing to attend to: its output is never used
        }
        float max = Float.NEGATIVE_INFINITY;
        for (int j = first; j <= last; j++) {
            float s = Kernels.dot(q, qo, k, base + j * stride, dh) * scale;
            scores[j] = s;
            max = Math.max(max, s);
        }
        float sum = 0f;
        for (int j = first; j <= last; j++) {
            float e = (float) Math.exp(scores[j] - max);
            scores[j] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int j = first; j <= last; j++) {
            Kernels.axpy(scores[j] * inv, v, base + j * stride, out, oo, dh);
        }
    }
}
