package org.privllm.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Parallel;

/**
 * Prefill and decode speed of GPT-2 124M (through the {@link Gpt2Forward} facade and through the
 * general decoder directly) and of the llama-124m preset, measured as {@code privllm bench} does: warm-up, then the
 * median of {@code reps} runs of a {@code prompt}-token prefill and {@code new} greedy tokens; the
 * engines take turns so a noisy neighbour slows them alike. A development harness (test scope):
 *
 * <pre>java --add-modules=jdk.incubator.vector -Xmx6g -cp … org.privllm.model.DecoderSpeed DIR [prompt new reps]</pre>
 *
 * writes the two random checkpoints under {@code DIR} on first use.
 */
public final class DecoderSpeed {
    private DecoderSpeed() {}

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        int prompt = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int fresh = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        Path gpt2Dir = dir.resolve("gpt2-124m"), llamaDir = dir.resolve("llama-124m");
        if (!Files.exists(gpt2Dir.resolve("config.json"))) {
            Fixture.write(gpt2Dir, Fixture.gpt2Preset(), 1);
        }
        if (!Files.exists(llamaDir.resolve("config.json"))) {
            Fixture.write(llamaDir, LlamaFixture.Spec.llama124m(1));
        }
        Gpt2Model gpt2 = Gpt2Model.load(gpt2Dir);
        DecoderModel llama = DecoderModel.load(llamaDir);
        Map<String, ForwardPass> engines = new LinkedHashMap<>();
        engines.put("gpt2-124m (Gpt2Forward facade)", new Gpt2Forward(gpt2.config(), gpt2.weights(), new PlainOps(gpt2.config(), gpt2.weights())));
        engines.put("gpt2-124m (DecoderForward)", Gpt2Adapter.model(gpt2).plainForward());
        engines.put("llama-124m (DecoderForward)", llama.plainForward());
        Map<String, double[][]> speeds = new LinkedHashMap<>();
        engines.forEach((name, f) -> {
            Generator g = new Generator(f);
            for (int i = 0; i < 4; i++) { // warm-up at the measured shapes, as bench does
                g.generate(List.of(ids(prompt, f.vocab(), 99)), 8, Sampling.GREEDY, new int[0], null);
            }
            speeds.put(name, new double[2][reps]);
        });
        for (int r = 0; r < reps; r++) {
            for (Map.Entry<String, ForwardPass> e : engines.entrySet()) {
                Generator.Result res = new Generator(e.getValue()).generate(List.of(ids(prompt, e.getValue().vocab(), r)),
                        fresh, Sampling.GREEDY, new int[0], null);
                speeds.get(e.getKey())[0][r] = res.prefillTokensPerSecond();
                speeds.get(e.getKey())[1][r] = res.decodeSteps() / (res.decodeNanos() / 1e9);
            }
        }
        System.out.printf("%d prompt + %d new tokens, median of %d, %d threads, %s%n", prompt, fresh, reps,
                Parallel.threads(), Kernels.backend());
        speeds.forEach((name, s) -> System.out.printf("%-28s prefill %7.1f tok/s   decode %6.2f tok/s   (runs: %s / %s)%n",
                name, median(s[0]), median(s[1]), round(s[0]), round(s[1])));
    }

    private static int[] ids(int n, int vocab, long seed) {
        return new SplittableRandom(seed).ints(n, 0, vocab).toArray();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static List<String> round(double[] v) {
        List<String> out = new ArrayList<>();
        for (double x : v) {
            out.add(String.format("%.1f", x));
        }
        return out;
    }
}
