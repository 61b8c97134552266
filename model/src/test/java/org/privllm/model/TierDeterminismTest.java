package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;

/**
 * The plaintext engine gives the same logits, bit for bit, in a JVM that only interprets on one thread and in this
 * one once the JIT has compiled every kernel, on two threads: no kernel may use an operation whose result depends
 * on whether it was compiled (the Vector API's {@code reduceLanes(ADD)} order, its SVML-backed {@code EXP}) or on
 * how a range was split over the threads. A sequence's rows run early and late in a server's life, alone and in
 * a batch, and the engine promises the same bits either way (LayerNorm's lane sums once broke this, found by
 * {@code ContinuousBatcherTest} failing in about half the runs).
 */
class TierDeterminismTest {
    /** Prints every logit's bits of {@link #logits} for each checkpoint directory: run with {@code -Xint}. */
    public static void main(String[] dirs) {
        StringBuilder b = new StringBuilder();
        for (String d : dirs) {
            b.append(logits(DecoderModel.load(Path.of(d))));
        }
        System.out.println(b);
    }

    /** Greedy generations at batch 1 and batch 8 (left padding, the eight-row tile), every step's logits as hex bits. */
    static String logits(DecoderModel m) {
        SplittableRandom r = new SplittableRandom(1130);
        int vocab = m.config().vocab();
        List<int[]> eight = new ArrayList<>();
        for (int s = 0; s < 8; s++) {
            eight.add(r.ints(3 + s, 0, vocab).toArray());
        }
        StringBuilder b = new StringBuilder();
        for (List<int[]> prompts : List.of(List.of(eight.get(7)), eight)) {
            new Generator(m.plainForward()).generate(prompts, 4, Sampling.GREEDY, -1, null, x -> {
                for (float v : x.data) {
                    b.append(Integer.toHexString(Float.floatToRawIntBits(v))).append(',');
                }
                b.append('\n');
            });
        }
        return b.toString();
    }

    @Test
    void logitsAreTheSameInterpretedOnOneThreadAndCompiledOnTwo() throws Exception {
        List<String> dirs = new ArrayList<>();
        Path gpt2 = Files.createTempDirectory("privllm-tier-gpt2");
        Fixture.write(gpt2, Gpt2Config.of(2, 30, 3, 97, 64), 5); // widths off the vector length: every tail
        dirs.add(gpt2.toString());
        Path llama = Files.createTempDirectory("privllm-tier-llama");
        Fixture.write(llama, new LlamaFixture.Spec(Architecture.QWEN3, 2, 24, 4, 1, 16, 40, 100, 96, true,
                SafeTensors.DType.BF16, 1, 22, 1e6, null, true)); // q/k norms, BF16 panels, one KV head
        dirs.add(llama.toString());
        String compiled = null;
        List<DecoderModel> models = dirs.stream().map(d -> DecoderModel.load(Path.of(d))).toList();
        for (int i = 0; i < 400; i++) { // thousands of calls of each kernel: C2 has compiled them long before the end
            StringBuilder b = new StringBuilder();
            for (DecoderModel m : models) {
                b.append(logits(m));
            }
            compiled = b.toString();
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xint", "--add-modules=jdk.incubator.vector", "-Dprivllm.threads=1", "-cp",
                System.getProperty("java.class.path"), TierDeterminismTest.class.getName()));
        cmd.addAll(dirs);
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String interpreted = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        List<String> want = compiled.trim().lines().toList(), got = interpreted.lines().toList();
        assertThat(got).as("logits rows").hasSameSizeAs(want);
        for (int i = 0; i < want.size(); i++) { // one step's row named, not megabytes of hex
            assertThat(got.get(i)).as("logits of step row %d, interpreted against compiled", i).isEqualTo(want.get(i));
        }
    }
}
