package org.privllm.bench;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Two builds of the tensor module's products, alternated in one JVM: GPT-2 124M's 48 linear weights, every rep
 * running all 48 products on build A and then on build B, medians reported. On this project's shared host whole runs
 * swing by more than a 5–10 % kernel change; alternating in one process sees it.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:+UseTransparentHugePages -cp bench/target/benchmarks.jar \
 *     org.privllm.bench.AlternatedProducts A/tensor/target/classes B/tensor/target/classes ROWS [f32|bf16|f64] [REPS]
 * </pre>
 *
 * Each directory is loaded by its own class loader (its own worker threads too). {@code f64} times the blinded
 * levels' float64 products ({@code WideKernels.matmul}); {@code bf16} packs half-width weights. Run it again with A
 * and B swapped: the second build of a rep tends to gain or lose a little from the first.
 */
public final class AlternatedProducts {
    private AlternatedProducts() {}

    /** One build's entry points, found by name so that the two builds' classes never mix. */
    private static final class Build {
        final String dir;
        final MethodHandle newMatrix, data, pack, matmul, newDoubles, doubles, wideMatmul;
        final Object precision;

        Build(String dir, String precision) throws ReflectiveOperationException, java.io.IOException {
            this.dir = dir;
            ClassLoader cl = new URLClassLoader(new URL[] {Path.of(dir).toUri().toURL()},
                    ClassLoader.getPlatformClassLoader());
            Class<?> m = cl.loadClass("org.privllm.tensor.Matrix");
            Class<?> p = cl.loadClass("org.privllm.tensor.PackedWeight");
            Class<?> pr = cl.loadClass("org.privllm.tensor.PackedWeight$Precision");
            Class<?> d = cl.loadClass("org.privllm.tensor.DoubleMatrix");
            MethodHandles.Lookup l = MethodHandles.publicLookup();
            newMatrix = l.findConstructor(m, MethodType.methodType(void.class, int.class, int.class));
            data = l.findGetter(m, "data", float[].class);
            pack = l.findStatic(p, "pack", MethodType.methodType(p, m, pr));
            matmul = l.findStatic(cl.loadClass("org.privllm.tensor.Kernels"), "matmul",
                    MethodType.methodType(void.class, m, p, float[].class, m));
            newDoubles = l.findConstructor(d, MethodType.methodType(void.class, int.class, int.class));
            doubles = l.findGetter(d, "data", double[].class);
            wideMatmul = l.findStatic(cl.loadClass("org.privllm.tensor.WideKernels"), "matmul",
                    MethodType.methodType(d, d, p));
            this.precision = pr.getField(precision.equals("bf16") ? "BF16" : "F32").get(null);
        }

        /** Random values in [-0.5, 0.5), rounded to bfloat16 so that either precision packs them exactly. */
        Object matrix(int rows, int cols, long seed) throws Throwable {
            Object x = newMatrix.invoke(rows, cols);
            float[] v = (float[]) data.invoke(x);
            SplittableRandom rnd = new SplittableRandom(seed);
            for (int i = 0; i < v.length; i++) {
                v[i] = Float.intBitsToFloat(Float.floatToIntBits((float) (rnd.nextDouble() - 0.5)) & 0xffff0000);
            }
            return x;
        }

        Object doubles(int rows, int cols, long seed) throws Throwable {
            Object x = newDoubles.invoke(rows, cols);
            double[] v = (double[]) doubles.invoke(x);
            SplittableRandom rnd = new SplittableRandom(seed);
            for (int i = 0; i < v.length; i++) {
                v[i] = rnd.nextDouble() - 0.5;
            }
            return x;
        }
    }

    public static void main(String[] args) throws Throwable {
        if (args.length < 3) {
            System.err.println("usage: AlternatedProducts A_CLASSES B_CLASSES ROWS [f32|bf16|f64] [REPS]");
            System.exit(2);
        }
        int rows = Integer.parseInt(args[2]);
        String kind = args.length > 3 ? args[3] : "f32";
        boolean wide = kind.equals("f64");
        int reps = args.length > 4 ? Integer.parseInt(args[4]) : wide ? 20 : 60;
        Build[] builds = {new Build(args[0], kind), new Build(args[1], kind)};
        int n = Gpt2Shapes.LINEAR.length * 12;
        Object[][] weights = new Object[2][n], inputs = new Object[2][n], outputs = new Object[2][n];
        double flops = 0;
        for (int b = 0; b < 2; b++) {
            for (int i = 0; i < n; i++) {
                String shape = Gpt2Shapes.LINEAR[i % Gpt2Shapes.LINEAR.length];
                int in = Gpt2Shapes.in(shape), out = Gpt2Shapes.out(shape);
                weights[b][i] = builds[b].pack.invoke(builds[b].matrix(in, out, i), builds[b].precision);
                inputs[b][i] = wide ? builds[b].doubles(rows, in, in) : builds[b].matrix(rows, in, in);
                outputs[b][i] = wide ? null : builds[b].newMatrix.invoke(rows, out);
                flops += b == 0 ? 2.0 * rows * in * out : 0;
            }
        }
        long[][] times = new long[2][reps];
        for (int pass = 0; pass < 2; pass++) { // the first pass warms both builds up
            for (int r = 0; r < reps; r++) {
                for (int b = 0; b < 2; b++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < n; i++) {
                        if (wide) {
                            builds[b].wideMatmul.invoke(inputs[b][i], weights[b][i]);
                        } else {
                            builds[b].matmul.invoke(inputs[b][i], weights[b][i], (float[]) null, outputs[b][i]);
                        }
                    }
                    times[b][r] = System.nanoTime() - t0;
                }
            }
        }
        for (int b = 0; b < 2; b++) {
            long[] t = times[b].clone();
            Arrays.sort(t);
            System.out.printf("%s: %d rows %s, 48 products: min %.2f ms, median %.2f ms (%.1f GFLOP/s)%n",
                    builds[b].dir, rows, kind, t[0] / 1e6, t[reps / 2] / 1e6, flops / t[reps / 2]);
        }
    }
}
