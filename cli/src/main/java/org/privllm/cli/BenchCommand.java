package org.privllm.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Model;
import org.privllm.model.Gpt2Weights;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.MemoryBandwidth;
import org.privllm.tensor.Parallel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bench", description = "Prefill and decode speed on random prompt ids (greedy, warm-up excluded), with the machine's read bandwidth.")
final class BenchCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();
    @Option(names = "--prompt-tokens", defaultValue = "128") int promptTokens;
    @Option(names = "--new-tokens", defaultValue = "64") int newTokens;
    @Option(names = "--batch", defaultValue = "1") int batch;
    @Option(names = "--reps", defaultValue = "3", description = "Measured repetitions; the median is reported (default ${DEFAULT-VALUE}).") int reps;
    @Option(names = "--json", description = "Print one JSON object.") boolean json;

    @Override
    public Integer call() {
        if (promptTokens < 1 || newTokens < 1 || batch < 1 || reps < 1) {
            throw new IllegalArgumentException("--prompt-tokens, --new-tokens, --batch and --reps must be >= 1");
        }
        Gpt2Model m = model.load();
        Gpt2Config c = m.config();
        if (promptTokens + newTokens > c.positions()) {
            throw new IllegalArgumentException("--prompt-tokens + --new-tokens exceeds n_positions " + c.positions());
        }
        Generator gen = new Generator(m.plainForward());
        List<int[]> prompts = randomPrompts(batch, promptTokens, c.vocab(), 1234);
        // Warm-up: let the JIT compile every kernel at these shapes.
        gen.generate(randomPrompts(batch, Math.min(promptTokens, 32), c.vocab(), 99), Math.min(newTokens, 8),
                Sampling.GREEDY, -1, null);
        gen.generate(prompts, Math.min(newTokens, 4), Sampling.GREEDY, -1, null);
        double[] prefill = new double[reps], decode = new double[reps];
        for (int i = 0; i < reps; i++) {
            Generator.Result r = gen.generate(prompts, newTokens, Sampling.GREEDY, -1, null);
            prefill[i] = r.prefillTokensPerSecond();
            // The first new token comes from the prefill logits: decode speed counts the steps that ran.
            decode[i] = r.decodeSteps() * (double) batch / (r.decodeNanos() / 1e9);
        }
        double bw = MemoryBandwidth.measureReadGbps();
        double bytesPerStep = 4.0 * decodeWeightFloats(c, m.weights());
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("prefill_tokens_per_s", Json.round(median(prefill), 2));
        j.put("decode_tokens_per_s", Json.round(median(decode), 2));
        j.put("prefill_tokens_per_s_best", Json.round(Arrays.stream(prefill).max().orElse(0), 2));
        j.put("decode_tokens_per_s_best", Json.round(Arrays.stream(decode).max().orElse(0), 2));
        j.put("read_bandwidth_gb_s", Json.round(bw, 2));
        j.put("decode_bound_tokens_per_s", Json.round(batch * bw * 1e9 / bytesPerStep, 2));
        j.put("weights_mb_per_decode_step", Json.round(bytesPerStep / 1e6, 1));
        j.put("peak_rss_mb", peakRssMb());
        j.put("threads", Parallel.threads());
        j.put("kernels", Kernels.backend());
        j.put("prompt_tokens", promptTokens);
        j.put("new_tokens", newTokens);
        j.put("batch", batch);
        if (json) {
            Json.print(System.out, j);
        } else {
            j.forEach((k, v) -> System.out.println(k + ": " + v));
        }
        return 0;
    }

    static List<int[]> randomPrompts(int batch, int len, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<int[]> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            out.add(r.ints(len, 0, vocab).toArray());
        }
        return out;
    }

    /** Floats one decode step must read: every linear weight and the LM head. */
    static long decodeWeightFloats(Gpt2Config c, Gpt2Weights w) {
        long perLayer = (long) c.embd() * 3 * c.embd() + (long) c.embd() * c.embd() + 2L * c.embd() * c.inner();
        return perLayer * c.layers() + (long) c.vocab() * c.embd();
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static long peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux: no figure
        }
        return -1;
    }
}
