package org.privllm.bench;

import java.util.SplittableRandom;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;

/** The GPT-2-124M weight shapes ({@code in x out}) and helpers to build them. */
final class Gpt2Shapes {
    /** c_attn, attn c_proj, mlp c_fc, mlp c_proj, and the tied LM head (wte is vocab x n_embd). */
    static final String[] LINEAR = {"768x2304", "768x768", "768x3072", "3072x768"};
    static final String HEAD = "768x50257";

    private Gpt2Shapes() {}

    static int in(String shape) {
        return Integer.parseInt(shape.substring(0, shape.indexOf('x')));
    }

    static int out(String shape) {
        return Integer.parseInt(shape.substring(shape.indexOf('x') + 1));
    }

    static Matrix random(int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Matrix m = new Matrix(rows, cols);
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] = (float) (rnd.nextDouble() - 0.5);
        }
        return m;
    }

    /** A packed weight of {@code shape}; the LM head is packed from {@code wte} as the engine does. */
    static PackedWeight weight(String shape, long seed) {
        int in = in(shape), out = out(shape);
        return shape.equals(HEAD) ? PackedWeight.packTransposed(random(out, in, seed))
                : PackedWeight.pack(random(in, out, seed));
    }
}
