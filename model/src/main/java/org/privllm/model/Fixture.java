package org.privllm.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Writes a randomly initialised GPT-2 checkpoint in HuggingFace layout ({@code config.json},
 * {@code model.safetensors} with the {@code transformer.}-less keys of openai-community/gpt2),
 * initialised like GPT-2 (normal, σ = 0.02; LayerNorm gains near 1). The same seed gives the
 * same checkpoint.
 */
public final class Fixture {
    private Fixture() {}

    /** The 124M shape: 12 layers, 768 wide, 12 heads, 50257 tokens, 1024 positions. */
    public static Gpt2Config gpt2Preset() {
        return Gpt2Config.of(12, 768, 12, 50257, 1024);
    }

    /** A random Llama-family checkpoint (llama, mistral, qwen2, qwen3) in HuggingFace layout; see {@link LlamaFixture}. */
    public static void write(Path out, LlamaFixture.Spec spec) {
        LlamaFixture.write(out, spec);
    }

    public static void write(Path out, Gpt2Config c, long seed) {
        write(out, c, seed, SafeTensors.DType.F32, 1);
    }

    /** As {@link #write(Path, Gpt2Config, long)}, stored as {@code dtype} in {@code shards} files (an index when more than one). */
    public static void write(Path out, Gpt2Config c, long seed, SafeTensors.DType dtype, int shards) {
        try {
            Files.createDirectories(out);
            SplittableRandom root = new SplittableRandom(seed);
            int d = c.embd(), v = c.vocab();
            SafeTensorsWriter w = new SafeTensorsWriter(dtype);
            w.put("wte.weight", normal(root.split(), (long) v * d, 0.02, 0), v, d);
            w.put("wpe.weight", normal(root.split(), (long) c.positions() * d, 0.01, 0), c.positions(), d);
            for (int i = 0; i < c.layers(); i++) {
                String p = "h." + i + ".";
                w.put(p + "ln_1.weight", normal(root.split(), d, 0.1, 1), d);
                w.put(p + "ln_1.bias", normal(root.split(), d, 0.02, 0), d);
                w.put(p + "attn.c_attn.weight", normal(root.split(), (long) d * 3 * d, 0.02, 0), d, 3L * d);
                w.put(p + "attn.c_attn.bias", normal(root.split(), 3L * d, 0.02, 0), 3L * d);
                w.put(p + "attn.c_proj.weight", normal(root.split(), (long) d * d, 0.02, 0), d, d);
                w.put(p + "attn.c_proj.bias", normal(root.split(), d, 0.02, 0), d);
                w.put(p + "ln_2.weight", normal(root.split(), d, 0.1, 1), d);
                w.put(p + "ln_2.bias", normal(root.split(), d, 0.02, 0), d);
                w.put(p + "mlp.c_fc.weight", normal(root.split(), (long) d * c.inner(), 0.02, 0), d, c.inner());
                w.put(p + "mlp.c_fc.bias", normal(root.split(), c.inner(), 0.02, 0), c.inner());
                w.put(p + "mlp.c_proj.weight", normal(root.split(), (long) c.inner() * d, 0.02, 0), c.inner(), d);
                w.put(p + "mlp.c_proj.bias", normal(root.split(), d, 0.02, 0), d);
            }
            w.put("ln_f.weight", normal(root.split(), d, 0.1, 1), d);
            w.put("ln_f.bias", normal(root.split(), d, 0.02, 0), d);
            w.writeCheckpoint(out, shards);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(out.resolve("config.json").toFile(), c.toJson());
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": cannot write fixture (" + e.getMessage() + ")", e);
        }
    }

    static float[] normal(SplittableRandom r, long n, double std, double mean) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i += 2) {
            // Box-Muller: two normals per pair of uniforms.
            double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble();
            double rad = Math.sqrt(-2 * Math.log(u1)) * std;
            a[i] = (float) (mean + rad * Math.cos(2 * Math.PI * u2));
            if (i + 1 < a.length) {
                a[i + 1] = (float) (mean + rad * Math.sin(2 * Math.PI * u2));
            }
        }
        return a;
    }
}
