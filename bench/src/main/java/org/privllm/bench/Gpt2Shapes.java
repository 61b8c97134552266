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
        return weight(shape, seed, "f32");
    }

    /**
     * {@link #weight(String, long)} at {@code precision} ({@code f32}, or {@code bf16}: the values rounded to
     * bfloat16 and packed half width, as a BF16 checkpoint's are).
     */
    static PackedWeight weight(String shape, long seed, String precision) {
        int in = in(shape), out = out(shape);
        PackedWeight.Precision p = PackedWeight.Precision.valueOf(precision.toUpperCase(java.util.Locale.ROOT));
        Matrix m = shape.equals(HEAD) ? random(out, in, seed) : random(in, out, seed);
        if (p == PackedWeight.Precision.BF16) {
            for (int i = 0; i < m.data.length; i++) {
                m.data[i] = Float.intBitsToFloat((Float.floatToRawIntBits(m.data[i]) + 0x8000) & 0xffff0000);
            }
        }
        return shape.equals(HEAD) ? PackedWeight.packTransposed(m, p) : PackedWeight.pack(m, p);
    }
}
