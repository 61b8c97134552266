package org.privllm.bench;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Two builds of the whole plaintext engine, their greedy generations alternated in one JVM: each build's
 * {@code privllm.jar} is loaded by its own class loader (its own worker threads too), both open the same checkpoint,
 * and every rep runs one generation (prefill, then decode) on build A and then on build B; medians of the decode
 * and prefill tokens per second are reported. What {@link AlternatedProducts} does for the products, for a change
 * outside them (scheduling, sampling, norms) that only a whole step shows.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -XX:+UseTransparentHugePages -Xmn512m -cp bench/target/benchmarks.jar \
 *     org.privllm.bench.AlternatedDecode A/cli/target/privllm.jar B/cli/target/privllm.jar MODEL_DIR BATCH \
 *     [PROMPT_TOKENS] [NEW_TOKENS] [REPS]
 * </pre>
 *
 * {@code BATCH} may be {@code A_BATCH/B_BATCH} (e.g. {@code 8/1} with the same jar twice): then the two sides run
 * different batch sizes and the report adds the ratio of their decode throughputs, rep by rep — the batched-decode
 * speed-up measured in one process, where two {@code bench} runs minutes apart see two different hosts.
 */
public final class AlternatedDecode {
    private AlternatedDecode() {}

    /** One build's engine over the checkpoint, reached by name so that the two builds' classes never mix. */
    private static final class Build {
        final String jar;
        final int vocab;
        final Object generator, greedy;
        final MethodHandle generate, decodeNanos, decodeSteps, prefillRate;

        Build(String jar, Path model) throws Throwable {
            this.jar = jar;
            ClassLoader cl = new URLClassLoader(new URL[] {Path.of(jar).toUri().toURL()},
                    ClassLoader.getPlatformClassLoader());
            MethodHandles.Lookup l = MethodHandles.publicLookup();
            Class<?> dm = cl.loadClass("org.privllm.model.DecoderModel");
            Class<?> config = cl.loadClass("org.privllm.model.DecoderConfig");
            Class<?> reader = cl.loadClass("org.privllm.model.WeightReader");
            Class<?> ops = cl.loadClass("org.privllm.model.PlainDecoderOps");
            Class<?> storage = cl.loadClass("org.privllm.model.PlainDecoderOps$Storage");
            Class<?> forward = cl.loadClass("org.privllm.model.DecoderForward");
            Class<?> pass = cl.loadClass("org.privllm.model.ForwardPass");
            Class<?> gen = cl.loadClass("org.privllm.model.generate.Generator");
            Class<?> sampling = cl.loadClass("org.privllm.model.generate.Sampling");
            Class<?> listener = cl.loadClass("org.privllm.model.generate.Generator$TokenListener");
            Class<?> result = cl.loadClass("org.privllm.model.generate.Generator$Result");
            Object m = l.findStatic(dm, "open", MethodType.methodType(dm, Path.class)).invoke(model);
            Object c = l.findVirtual(dm, "config", MethodType.methodType(config)).invoke(m);
            vocab = (int) l.findVirtual(config, "vocab", MethodType.methodType(int.class)).invoke(c);
            Object r = l.findVirtual(dm, "reader", MethodType.methodType(reader)).invoke(m);
            Object f = l.findStatic(ops, "forward", MethodType.methodType(forward, config, reader, storage))
                    .invoke(c, r, storage.getField("NATIVE").get(null));
            ((AutoCloseable) r).close();
            generator = l.findConstructor(gen, MethodType.methodType(void.class, pass)).invoke(f);
            greedy = sampling.getField("GREEDY").get(null);
            generate = l.findVirtual(gen, "generate",
                    MethodType.methodType(result, List.class, int.class, sampling, int.class, listener));
            decodeNanos = l.findVirtual(result, "decodeNanos", MethodType.methodType(long.class));
            decodeSteps = l.findVirtual(result, "decodeSteps", MethodType.methodType(int.class));
            prefillRate = l.findVirtual(result, "prefillTokensPerSecond", MethodType.methodType(double.class));
        }

        /** One generation: {decode tokens/s over the batch, prefill tokens/s}. */
        double[] run(List<int[]> prompts, int newTokens) throws Throwable {
            Object res = generate.invoke(generator, prompts, newTokens, greedy, -1, null);
            long nanos = (long) decodeNanos.invoke(res);
            int steps = (int) decodeSteps.invoke(res);
            return new double[] {steps * (double) prompts.size() / (nanos / 1e9), (double) prefillRate.invoke(res)};
        }
    }

    public static void main(String[] args) throws Throwable {
        if (args.length < 4) {
            System.err.println("usage: AlternatedDecode A_JAR B_JAR MODEL_DIR BATCH [PROMPT_TOKENS] [NEW_TOKENS] [REPS]");
            System.exit(2);
        }
        Path model = Path.of(args[2]);
        String[] sizes = args[3].split("/");
        int[] batch = {Integer.parseInt(sizes[0]), Integer.parseInt(sizes[sizes.length - 1])};
        int promptTokens = args.length > 4 ? Integer.parseInt(args[4]) : 128;
        int newTokens = args.length > 5 ? Integer.parseInt(args[5]) : 64;
        int reps = args.length > 6 ? Integer.parseInt(args[6]) : 12;
        Build[] builds = {new Build(args[0], model), new Build(args[1], model)};
        List<List<int[]>> prompts = new ArrayList<>();
        for (int side = 0; side < 2; side++) {
            SplittableRandom rnd = new SplittableRandom(1234); // the smaller batch's prompts begin the larger's
            List<int[]> p = new ArrayList<>();
            for (int b = 0; b < batch[side]; b++) {
                p.add(rnd.ints(promptTokens, 0, builds[side].vocab).toArray());
            }
            prompts.add(p);
        }
        double[][] decode = new double[2][reps], prefill = new double[2][reps];
        for (int pass = 0; pass < 2; pass++) { // the first pass warms both builds up
            for (int r = 0; r < reps; r++) {
                for (int b = 0; b < 2; b++) {
                    double[] d = builds[b].run(prompts.get(b), newTokens);
                    decode[b][r] = d[0];
                    prefill[b][r] = d[1];
                }
            }
        }
        for (int b = 0; b < 2; b++) {
            double[] d = decode[b].clone(), p = prefill[b].clone();
            Arrays.sort(d);
            Arrays.sort(p);
            System.out.printf("%s: batch %d, decode median %.1f tok/s (best %.1f), prefill median %.0f tok/s%n",
                    builds[b].jar, batch[b], d[reps / 2], d[reps - 1], p[reps / 2]);
        }
        double[] ratio = new double[reps];
        for (int r = 0; r < reps; r++) {
            ratio[r] = decode[0][r] / decode[1][r];
            System.out.printf("  rep %2d: %.1f / %.1f (B/A %.3f)%n", r, decode[0][r], decode[1][r], 1 / ratio[r]);
        }
        if (batch[0] != batch[1]) {
            Arrays.sort(ratio);
            System.out.printf("decode throughput, batch %d over batch %d: median %.2fx (rep by rep %.2f-%.2fx)%n",
                    batch[0], batch[1], ratio[reps / 2], ratio[0], ratio[reps - 1]);
        }
        System.exit(0); // the builds' worker threads are daemons, but their class loaders keep the JVM busy
    }
}
