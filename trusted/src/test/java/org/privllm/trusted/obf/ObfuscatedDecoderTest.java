package org.privllm.trusted.obf;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderConfig.Llama3Scaling;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.DecoderWeights;
import org.privllm.model.Fixture;
import org.privllm.model.LlamaFixture;
import org.privllm.model.PlainDecoderOps;
import org.privllm.model.SafeTensors;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.protocol.Executor;
import org.privllm.tensor.Matrix;
import org.privllm.testing.Cases;
import org.privllm.trusted.integrity.VerifyingExecutor;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.lora.LoraMerge;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;

/**
 * The seed level on the Llama family (issue 12, item 4): masked weights, the attention core with RoPE on
 * masked queries and keys, grouped key/value heads with shared masks, the masked KV cache and the permuted
 * vocabulary on the executor give the plaintext answer — ids identical, logits within 1e-3 — on random
 * llama/mistral/qwen2/qwen3 checkpoints of varied shapes, in mask and pad mode, every mask family, both scopes,
 * with a pad pool, a Llama-named adapter and the integrity checks (Freivalds, attention checksums).
 */
class ObfuscatedDecoderTest {

    record Run(List<int[]> ids, List<Matrix> logits) {}

    static Run run(DecoderForward f, List<int[]> prompts, int steps, Sampling s) {
        List<Matrix> logits = new ArrayList<>();
        Generator.Result r = new Generator(f).generate(prompts, steps, s, new int[0], null, logits::add);
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

    static DecoderForward plain(DecoderModel m, Map<String, LowRankAdapter> adapters) {
        DecoderWeights w = LoraMerge.merged(m.weights(), adapters);
        return new DecoderForward(m.config(), w, new PlainDecoderOps(m.config(), w));
    }

    /** Seed-level generation on {@code executor} (closed afterwards). */
    static Run seed(DecoderModel m, ObfuscationConfig c, Map<String, LowRankAdapter> adapters, Executor executor,
                    List<int[]> prompts, int steps, Sampling s) {
        try (executor; ObfuscatedDecoder ops = new ObfuscatedDecoder(m.config(), m.weights(), executor, c, adapters)) {
            return run(new DecoderForward(m.config(), m.weights(), ops), prompts, steps, s);
        }
    }

    /**
     * Ids identical and logits within 1e-3 — relative to the largest logit under Gaussian masks, whose error grows with
     * their condition number (up to 1e3 by default) on the float32 wire (README, Numerics).
     */
    static void assertSameAnswer(Run want, Run got, String what) {
        for (int b = 0; b < want.ids().size(); b++) {
            assertThat(got.ids().get(b)).as("sequence %d, %s", b, what).isEqualTo(want.ids().get(b));
        }
        double scale = what.contains("gaussian") ? Math.max(1, maxAbs(want.logits())) : 1;
        assertThat(maxAbs(want.logits(), got.logits())).as("max logit error, %s", what).isLessThan(1e-3 * scale);
    }

    static double maxAbs(List<Matrix> a) {
        double m = 0;
        for (Matrix x : a) {
            for (float v : x.data) {
                m = Math.max(m, Math.abs(v));
            }
        }
        return m;
    }

    static ObfuscationConfig config(ObfuscationMode mode, String family, MaskScope scope, int pool, long seed) {
        ObfuscationConfig c = ObfuscationConfig.defaults().withMode(mode).withFamily(MaskFamily.parse(family))
                .withScope(scope).withSeed(seed);
        return pool > 0 ? c.withPadPool(pool) : c;
    }

    static DecoderModel write(LlamaFixture.Spec spec, Path dir) {
        Fixture.write(dir, spec);
        return DecoderModel.load(dir);
    }

    static Stream<Arguments> seedLlamaFamilyMatchesPlaintext() {
        return Cases.of(32, 52_000, d -> {
            Architecture arch = d.oneOf(Architecture.LLAMA, Architecture.MISTRAL, Architecture.QWEN2, Architecture.QWEN3);
            int kv = d.intIn(1, 3), heads = kv * d.intIn(1, 3); // from one KV head to one per head
            Llama3Scaling scaling = d.bool() ? new Llama3Scaling(d.oneOf(2.0, 8.0, 32.0), 1, 4, 32) : null;
            boolean bias = (arch == Architecture.LLAMA || arch == Architecture.QWEN3) && d.bool();
            LlamaFixture.Spec spec = new LlamaFixture.Spec(arch, d.intIn(1, 2), d.oneOf(16, 24), heads, kv,
                    d.oneOf(4, 8, 12), d.intIn(8, 40), d.intIn(20, 200), 48, d.bool(), d.oneOf(SafeTensors.DType.class),
                    1, d.anyLong(), d.oneOf(10000.0, 500000.0), scaling, bias);
            ObfuscationMode mode = d.oneOf(ObfuscationMode.class);
            MaskScope scope = d.oneOf(MaskScope.class);
            int pool = mode == ObfuscationMode.PAD && scope == MaskScope.PER_SESSION && d.bool() ? 4 : 0;
            List<String> targets = new ArrayList<>();
            if (d.rnd().nextInt(3) == 0) {
                for (String t : LoraAdapter.LLAMA_TARGETS) {
                    if (d.bool()) {
                        targets.add(t);
                    }
                }
                if (targets.isEmpty()) {
                    targets.add(d.oneOf(LoraAdapter.LLAMA_TARGETS.toArray(String[]::new)));
                }
            }
            return new Object[] {spec, mode, d.oneOf("orthogonal", "gaussian", "block:4", "perm"), scope, pool, targets,
                    d.bool(), d.intIn(1, 9)};
        });
    }

    @ParameterizedTest(name = "[{index}] {1} {2} {3} pool={4} lora={5} verified={6} prompt={7} {0}")
    @MethodSource
    void seedLlamaFamilyMatchesPlaintext(LlamaFixture.Spec spec, ObfuscationMode mode, String family, MaskScope scope,
                                         int pool, List<String> targets, boolean verified, int len, @TempDir Path dir) {
        DecoderModel m = write(spec, dir.resolve("model"));
        Map<String, LowRankAdapter> adapters = Map.of();
        if (!targets.isEmpty()) {
            LoraAdapter.writeRandom(dir.resolve("lora"), m.config(), 2, 4f, targets, spec.seed() ^ 7);
            adapters = LoraAdapter.load(dir.resolve("lora"), m.config()).layers();
        }
        int vocab = spec.vocab();
        int[] first = new int[len];
        for (int i = 0; i < len; i++) {
            first[i] = Math.floorMod(spec.seed() * 31 + i * 17L, vocab);
        }
        List<int[]> prompts = List.of(first, new int[] {Math.floorMod(spec.seed(), vocab)}); // left padding
        Run want = run(plain(m, adapters), prompts, 6, Sampling.GREEDY);
        Transcript view = new Transcript();
        InProcessExecutor inner = new InProcessExecutor(view);
        Executor executor = verified ? new VerifyingExecutor(inner) : inner;
        Run got = seed(m, config(mode, family, scope, pool, spec.seed()), adapters, executor, prompts, 6, Sampling.GREEDY);
        assertSameAnswer(want, got, mode + " " + family + " " + scope);
        assertExecutorView(m.config(), view, mode);
    }

    /**
     * What the executor is asked: one attention call per layer and step with the model's head geometry and its
     * rotary embedding (public positions: slot minus left padding); with q/k norms a linear call first (the trusted
     * round trip) and attention on the given rows; a compensation in pad mode only where the product runs there.
     */
    static void assertExecutorView(DecoderConfig c, Transcript view, ObfuscationMode mode) {
        List<Transcript.Entry> attention = view.entries().stream().filter(e -> e.kind() == Transcript.Kind.ATTENTION).toList();
        assertThat(attention).isNotEmpty();
        for (Transcript.Entry e : attention) {
            List<Number> a = e.args();
            assertThat(a.get(2).intValue()).isEqualTo(c.heads());
            assertThat(a.get(4).intValue()).isEqualTo(c.kvHeads());
            assertThat(a.get(5).intValue()).isEqualTo(c.headDim());
            assertThat(a).hasSize(6 + e.tensor("x").rows);
            assertThat(e.wide("rope_inverse_frequencies").cols).isEqualTo(c.headDim() / 2);
            assertThat(e.weight() < 0).as("attention on given rows (q/k norm round trip)").isEqualTo(c.qkNorm());
            assertThat(e.tensor("compensation") != null).isEqualTo(mode == ObfuscationMode.PAD && !c.qkNorm());
            if (c.qkNorm()) {
                assertThat(e.tensor("x").cols).isEqualTo(c.qkvWidth());
            }
        }
        Transcript.Entry start = view.entries().stream().filter(e -> e.kind() == Transcript.Kind.START_CACHE)
                .findFirst().orElseThrow();
        assertThat(start.args().get(2).intValue()).as("cache width").isEqualTo(c.kvWidth());
    }

    /** Sampling with a seed gives the plaintext's sampled ids at the seed level too (a Qwen3 with GQA and biases). */
    @Test
    void seededSamplingMatchesPlaintext(@TempDir Path dir) {
        DecoderModel m = write(new LlamaFixture.Spec(Architecture.QWEN3, 2, 24, 6, 2, 8, 32, 150, 48, false,
                SafeTensors.DType.F32, 1, 5, 1e6, null, true), dir);
        List<int[]> prompts = List.of(new int[] {3, 14, 15, 92, 65}, new int[] {35, 89});
        Sampling s = Sampling.sample(1.0f, 20, 0.9f, 77L);
        Run want = run(m.plainForward(), prompts, 12, s);
        for (ObfuscationMode mode : ObfuscationMode.values()) {
            Run got = seed(m, config(mode, "orthogonal", MaskScope.PER_SESSION, 0, 3), Map.of(), new InProcessExecutor(),
                    prompts, 12, s);
            assertSameAnswer(want, got, mode.toString());
        }
    }

    /** A private Llama-named adapter on every projection changes the answer and is masked on the executor, never merged. */
    @Test
    void aLlamaAdapterIsMaskedOnTheExecutorAndMatters(@TempDir Path dir) {
        DecoderModel m = write(new LlamaFixture.Spec(Architecture.LLAMA, 2, 24, 4, 1, 8, 32, 120, 48, true,
                SafeTensors.DType.BF16, 1, 9, 1e4, new Llama3Scaling(8, 1, 4, 16), true), dir.resolve("model"));
        LoraAdapter.writeRandom(dir.resolve("lora"), m.config(), 4, 8f, LoraAdapter.LLAMA_TARGETS, 6);
        Map<String, LowRankAdapter> lora = LoraAdapter.load(dir.resolve("lora"), m.config()).layers();
        List<int[]> prompts = List.of(new int[] {3, 14, 15, 92, 65}, new int[] {35, 89});
        Run base = run(plain(m, Map.of()), prompts, 10, Sampling.GREEDY);
        Run want = run(plain(m, lora), prompts, 10, Sampling.GREEDY);
        assertThat(maxAbs(base.logits(), want.logits())).isGreaterThan(1e-2);
        for (ObfuscationMode mode : ObfuscationMode.values()) {
            Transcript view = new Transcript();
            Run got = seed(m, config(mode, "orthogonal", MaskScope.PER_SESSION, 0, 4), lora,
                    new VerifyingExecutor(new InProcessExecutor(view)), prompts, 10, Sampling.GREEDY);
            assertSameAnswer(want, got, mode + " with the adapter");
            long adapted = view.entries().stream().filter(e -> e.kind() == Transcript.Kind.UPLOAD_LINEAR
                    && e.tensor("loraA") != null).count();
            assertThat(adapted).as("every fused linear of both layers uploads its masked adapter").isEqualTo(8);
        }
    }

    /** {@code /work/shared/fixtures/stories260k} (a real llama2.c checkpoint) at every mode and family; skipped when absent. */
    @Test
    void stories260kAtEveryModeAndFamily() {
        Path dir = Path.of(System.getProperty("privllm.shared", "../shared")).resolve("fixtures").resolve("stories260k");
        Assumptions.assumeTrue(Files.exists(dir.resolve("config.json")), "stories260k absent");
        DecoderModel m = DecoderModel.load(dir);
        List<int[]> prompts = List.of(new int[] {1, 403, 407, 261, 378}, new int[] {1, 68});
        Run want = run(m.plainForward(), prompts, 24, Sampling.GREEDY);
        for (ObfuscationMode mode : ObfuscationMode.values()) {
            for (String family : List.of("orthogonal", "gaussian", "block:16", "perm")) {
                Run got = seed(m, config(mode, family, MaskScope.PER_SESSION, 0, 11), Map.of(),
                        new VerifyingExecutor(new InProcessExecutor()), prompts, 24, Sampling.GREEDY);
                assertSameAnswer(want, got, "stories260k " + mode + " " + family);
            }
        }
        Run perCall = seed(m, config(ObfuscationMode.PAD, "orthogonal", MaskScope.PER_CALL, 0, 12), Map.of(),
                new InProcessExecutor(), prompts, 24, Sampling.GREEDY);
        assertSameAnswer(want, perCall, "stories260k pad per-call");
        Run pooled = seed(m, config(ObfuscationMode.PAD, "perm", MaskScope.PER_SESSION, 8, 13), Map.of(),
                new InProcessExecutor(), prompts, 24, Sampling.GREEDY);
        assertSameAnswer(want, pooled, "stories260k pad pool");
    }
}
