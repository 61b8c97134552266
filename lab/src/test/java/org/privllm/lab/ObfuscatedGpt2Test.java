package org.privllm.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.privllm.model.Activation;
import org.privllm.trusted.obf.ObfuscatedDecoder;
import org.privllm.model.ForwardPass;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.Gpt2Model;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.MaskScope;
import org.privllm.trusted.obf.ObfuscationConfig;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.untrusted.InProcessExecutor;

/** Obfuscated generation gives the plaintext answer: ids identical, logits within 1e-3. */
class ObfuscatedGpt2Test {
    static final Gpt2Model SMALL = write(new Gpt2Config(2, 48, 4, 192, 300, 64, 1e-5f, Activation.GELU_NEW, true, true, 299), 21);

    static Gpt2Model write(Gpt2Config c, long seed) {
        return TestModels.write(c, seed);
    }

    static ObfuscationConfig config(String mode, String family, String scope) {
        ObfuscationConfig c = ObfuscationConfig.defaults().withFamily(MaskFamily.parse(family))
                .withMode(ObfuscationMode.valueOf(mode.toUpperCase()))
                .withScope(scope.equals("call") ? MaskScope.PER_CALL : MaskScope.PER_SESSION).withSeed(99);
        return c;
    }

    record Run(List<int[]> ids, List<Matrix> logits) {}

    static Run run(Gpt2Model m, ForwardPass f, List<int[]> prompts, int steps, Sampling s) {
        List<Matrix> logits = new ArrayList<>();
        Generator.Result r = new Generator(f).generate(prompts, steps, s, -1, null, logits::add);
        return new Run(r.outputIds(), logits);
    }

    static double maxAbs(List<Matrix> a, List<Matrix> b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.size(); i++) {
            for (int j = 0; j < a.get(i).data.length; j++) {
                m = Math.max(m, Math.abs(a.get(i).data[j] - b.get(i).data[j]));
            }
        }
        return m;
    }

    static void assertSameAnswer(Gpt2Model m, ObfuscationConfig c, List<int[]> prompts, int steps, Sampling s) {
        Run plain = run(m, m.plainForward(), prompts, steps, s);
        try (InProcessExecutor ex = new InProcessExecutor();
             ObfuscatedDecoder obf = new ObfuscatedDecoder(m.config(), m.weights(), ex, c, Map.of())) {
            Run masked = run(m, new Gpt2Forward(m.config(), m.weights(), obf), prompts, steps, s);
            for (int b = 0; b < prompts.size(); b++) {
                assertThat(masked.ids().get(b)).as("sequence " + b + " with " + c).isEqualTo(plain.ids().get(b));
            }
            assertThat(maxAbs(plain.logits(), masked.logits())).as("max logit error with " + c).isLessThan(1e-3);
        }
    }

    @ParameterizedTest
    @CsvSource({"mask,orthogonal,session", "pad,orthogonal,session", "mask,gaussian,session", "pad,gaussian,session",
            "mask,block:8,session", "pad,block:8,session", "mask,perm,session", "pad,perm,session",
            "mask,orthogonal,call", "pad,perm,call"})
    void greedyBatchMatchesPlaintext(String mode, String family, String scope) {
        List<int[]> prompts = List.of(new int[] {5, 17, 42, 7, 9}, new int[] {100, 3});
        assertSameAnswer(SMALL, config(mode, family, scope), prompts, 12, Sampling.GREEDY);
    }

    @Test
    void seededSamplingMatchesPlaintext() {
        assertSameAnswer(SMALL, config("pad", "orthogonal", "session"), List.of(new int[] {1, 2, 3}), 16,
                Sampling.sample(1.0f, 40, 0.9f, 1234L));
    }

    @Test
    void realFixturesMatchPlaintext() {
        Path shared = Path.of(System.getProperty("privllm.shared", "../shared")).resolve("fixtures");
        List<Path> dirs = new ArrayList<>();
        for (String n : List.of("tiny-random-gpt2", "tiny-gpt2")) {
            if (Files.exists(shared.resolve(n).resolve("config.json"))) {
                dirs.add(shared.resolve(n));
            }
        }
        Assumptions.assumeTrue(!dirs.isEmpty(), "shared fixtures absent");
        for (Path d : dirs) {
            Gpt2Model m = Gpt2Model.load(d);
            for (String mode : List.of("mask", "pad")) {
                for (String fam : List.of("orthogonal", "gaussian", "block:2", "perm")) {
                    assertSameAnswer(m, config(mode, fam, "session"), List.of(new int[] {11, 22, 33, 44}), 32, Sampling.GREEDY);
                }
            }
        }
    }
}
