package org.privllm.trusted.privacy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
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
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.lora.LoraMerge;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;

/**
 * The strong and two-party levels on the Llama family: the trusted attention ({@link org.privllm.model.AttentionCore}:
 * RoPE, grouped key/value heads, q/k norms) and the blinded fused linears give the plaintext answer — ids
 * exact, logits within 1e-4 — on random llama/mistral/qwen2/qwen3 checkpoints of varied shapes, with and
 * without a private Llama-named adapter; each executor sees only float64 linear calls on bare public weights;
 * the trusted work is counted with the family's widths and nonlinear kinds.
 */
class TrustedAttentionDecoderTest {

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

    /** The plaintext engine with the adapter merged (the reference). */
    static DecoderForward plain(DecoderModel m, Map<String, LowRankAdapter> adapters) {
        DecoderWeights w = LoraMerge.merged(m.weights(), adapters);
        return new DecoderForward(m.config(), w, new PlainDecoderOps(m.config(), w));
    }

    /** Blinded generation on recording in-process executors; {@code views} gets each party's transcript. */
    static Run blinded(DecoderModel m, PrivacyLevel level, Map<String, LowRankAdapter> adapters, List<int[]> prompts,
                       int steps, Sampling s, List<Transcript> views) {
        List<Executor> parties = new ArrayList<>();
        for (int p = 0; p < level.parties(); p++) {
            Transcript t = new Transcript();
            views.add(t);
            parties.add(new InProcessExecutor(t));
        }
        try (TrustedAttentionDecoder ops = TrustedAttentionDecoder.blinded(m.config(), m.weights(), adapters, parties,
                BlindingConfig.of(level).withSeed(3))) {
            return run(new DecoderForward(m.config(), m.weights(), ops), prompts, steps, s);
        } finally {
            parties.forEach(Executor::close);
        }
    }

    static void assertOnlyBlindedLinearCalls(Transcript t) {
        assertThat(t.entries()).extracting(e -> e.kind().name()).containsOnly("OPEN_SESSION", "UPLOAD_LINEAR", "LINEAR64",
                "CLOSE_SESSION");
        for (Transcript.Entry e : t.entries()) {
            if (e.kind() == Transcript.Kind.UPLOAD_LINEAR) {
                assertThat(e.tensor("bias")).isNull();
                assertThat(e.tensor("loraA")).isNull();
            }
        }
    }

    static DecoderModel write(LlamaFixture.Spec spec, Path dir) {
        Fixture.write(dir, spec);
        return DecoderModel.load(dir);
    }

    static Stream<Arguments> blindedLlamaFamilyMatchesPlaintext() {
        return Cases.of(16, 41_000, d -> {
            Architecture arch = d.oneOf(Architecture.LLAMA, Architecture.MISTRAL, Architecture.QWEN2, Architecture.QWEN3);
            int kv = d.intIn(1, 2), heads = kv * d.intIn(1, 3);
            Llama3Scaling scaling = d.bool() ? new Llama3Scaling(d.oneOf(2.0, 8.0, 32.0), 1, 4, 32) : null;
            boolean bias = (arch == Architecture.LLAMA || arch == Architecture.QWEN3) && d.bool();
            LlamaFixture.Spec spec = new LlamaFixture.Spec(arch, d.intIn(1, 2), d.oneOf(16, 24), heads, kv,
                    d.oneOf(4, 8, 12), d.intIn(8, 40), d.intIn(20, 200), 48, d.bool(), d.oneOf(SafeTensors.DType.class),
                    1, d.anyLong(), d.oneOf(10000.0, 500000.0), scaling, bias);
            List<String> targets = new ArrayList<>();
            if (d.bool()) {
                for (String t : LoraAdapter.LLAMA_TARGETS) {
                    if (d.rnd().nextInt(3) == 0) {
                        targets.add(t);
                    }
                }
                if (targets.isEmpty()) {
                    targets.add(d.oneOf(LoraAdapter.LLAMA_TARGETS.toArray(String[]::new)));
                }
            }
            return new Object[] {spec, d.oneOf(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY), targets, d.intIn(1, 9)};
        });
    }

    @ParameterizedTest(name = "[{index}] {1} lora={2} prompt={3} {0}")
    @MethodSource
    void blindedLlamaFamilyMatchesPlaintext(LlamaFixture.Spec spec, PrivacyLevel level, List<String> targets, int len,
                                            @TempDir Path dir) {
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
        List<Transcript> views = new ArrayList<>();
        Run got = blinded(m, level, adapters, prompts, 6, Sampling.GREEDY, views);
        for (int b = 0; b < prompts.size(); b++) {
            assertThat(got.ids().get(b)).as("sequence %d", b).isEqualTo(want.ids().get(b));
        }
        assertThat(maxAbs(want.logits(), got.logits())).as("max logit error").isLessThan(1e-4);
        assertThat(views).hasSize(level.parties());
        views.forEach(TrustedAttentionDecoderTest::assertOnlyBlindedLinearCalls);
    }

    /** The adapter changes the answer, and both levels still give the merged plaintext's, with sampling too. */
    @Test
    void aPrivateLlamaAdapterStaysTrustedAndMatters(@TempDir Path dir) {
        DecoderModel m = write(new LlamaFixture.Spec(Architecture.QWEN3, 2, 24, 4, 2, 8, 32, 120, 48, false,
                SafeTensors.DType.F32, 1, 5, 1e6, null, true), dir.resolve("model"));
        LoraAdapter.writeRandom(dir.resolve("lora"), m.config(), 4, 8f, LoraAdapter.LLAMA_TARGETS, 6);
        Map<String, LowRankAdapter> lora = LoraAdapter.load(dir.resolve("lora"), m.config()).layers();
        List<int[]> prompts = List.of(new int[] {3, 14, 15, 92, 65}, new int[] {35, 89});
        Sampling s = Sampling.sample(1.0f, 20, 0.9f, 77L);
        Run base = run(plain(m, Map.of()), prompts, 10, Sampling.GREEDY);
        Run want = run(plain(m, lora), prompts, 10, Sampling.GREEDY);
        assertThat(maxAbs(base.logits(), want.logits())).isGreaterThan(1e-2);
        Run sampled = run(plain(m, lora), prompts, 10, s);
        for (PrivacyLevel level : List.of(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY)) {
            List<Transcript> views = new ArrayList<>();
            Run got = blinded(m, level, lora, prompts, 10, Sampling.GREEDY, views);
            assertThat(got.ids()).usingRecursiveComparison().isEqualTo(want.ids());
            assertThat(maxAbs(want.logits(), got.logits())).isLessThan(1e-4);
            Run gotSampled = blinded(m, level, lora, prompts, 10, s, new ArrayList<>());
            assertThat(gotSampled.ids()).usingRecursiveComparison().isEqualTo(sampled.ids());
            views.forEach(TrustedAttentionDecoderTest::assertOnlyBlindedLinearCalls);
        }
    }

    /**
     * Trusted work is counted with the config's widths: the KV cache holds {@code KV·hd} floats per slot and
     * layer, the attention core {@code 4·ctx·H·hd + 5·ctx·H} per token, RMSNorm, RoPE, q/k norm and SiLU gating
     * are their own kinds; the linear work is the fused widths' ({@code d × (H + 2·KV)·hd}, {@code d × 2·inner}).
     */
    @Test
    void trustedWorkUsesTheFamilysWidthsAndKinds(@TempDir Path dir) {
        DecoderModel m = write(new LlamaFixture.Spec(Architecture.QWEN3, 1, 16, 4, 2, 6, 20, 50, 32, true,
                SafeTensors.DType.F32, 1, 1, 1e4, null, false), dir);
        DecoderConfig c = m.config();
        List<Executor> parties = List.of(new InProcessExecutor(), new InProcessExecutor());
        try (TrustedAttentionDecoder ops = TrustedAttentionDecoder.blinded(c, m.weights(), Map.of(), parties,
                BlindingConfig.of(PrivacyLevel.TWO_PARTY).withSeed(1))) {
            int n = 5;
            int[] ids = {1, 2, 3, 4, 5}, pos = {0, 1, 2, 3, 4};
            ops.startCache(new int[] {0}, n);
            ops.lmHead(new DecoderForward(c, m.weights(), ops).step(ids, pos, n));
            assertThat(ops.cache().width()).isEqualTo(c.kvWidth()).isEqualTo(12);
            Map<String, Long> w = ops.trustedWork().byKind();
            assertThat(w).containsKeys("rms_norm", "rope", "qk_norm", "silu_gating", "attention_core", "residual",
                    "embedding", "sampling", "pads", "blinding", "recombine").doesNotContainKeys("layer_norm", "activation");
            long rotated = (long) n * (c.heads() + c.kvHeads()) * c.headDim();
            assertThat(w.get("rope")).isEqualTo(TrustedWork.PER_ROPE * rotated);
            assertThat(w.get("qk_norm")).isEqualTo(TrustedWork.PER_NORM * rotated);
            assertThat(w.get("silu_gating")).isEqualTo(TrustedWork.PER_GELU * n * c.inner());
            assertThat(w.get("attention_core")).isEqualTo(n * TrustedAttentionDecoder.attentionCoreFlops(c, n))
                    .isEqualTo(n * (4L * n * 4 * 6 + 5L * n * 4));
            assertThat(w.get("rms_norm")).isEqualTo(TrustedWork.PER_NORM * n * c.hidden() * 3);
            long linear = 2L * n * (16L * c.qkvWidth() + 24L * 16 + 16L * 40 + 20L * 16 + 16L * 50);
            assertThat(ops.plaintextWork().byKind().get("linear")).isEqualTo(linear);
        } finally {
            parties.forEach(Executor::close);
        }
    }

    /**
     * The TSLP-style baseline on a Llama model: the linears in plaintext on one executor, the attention core
     * trusted — the plaintext answer, and the executor holds no cache and gets no attention call.
     */
    @Test
    void plaintextLinearsOnTheLlamaFamily(@TempDir Path dir) {
        DecoderModel m = write(new LlamaFixture.Spec(Architecture.MISTRAL, 2, 24, 6, 2, 8, 32, 90, 48, false,
                SafeTensors.DType.F16, 2, 12, 1e4, null, false), dir);
        List<int[]> prompts = List.of(new int[] {4, 8, 15, 16, 23, 42}, new int[] {7, 7});
        Run want = run(m.plainForward(), prompts, 8, Sampling.GREEDY);
        Transcript t = new Transcript();
        try (InProcessExecutor ex = new InProcessExecutor(t);
             TrustedAttentionDecoder ops = TrustedAttentionDecoder.plaintextLinears(m.config(), m.weights(), ex)) {
            Run got = run(new DecoderForward(m.config(), m.weights(), ops), prompts, 8, Sampling.GREEDY);
            assertThat(got.ids()).usingRecursiveComparison().isEqualTo(want.ids());
            assertThat(maxAbs(want.logits(), got.logits())).isLessThan(1e-4);
            assertThat(ops.cache().width()).isEqualTo(m.config().kvWidth());
        }
        assertThat(t.entries()).extracting(e -> e.kind().name()).doesNotContain("ATTENTION", "START_CACHE", "ADVANCE_CACHE",
                "LINEAR64").contains("LINEAR", "UPLOAD_LINEAR");
    }

    /**
     * No row an executor receives is close to a plaintext layer input: the first call's rows (the q/k/v input,
     * {@code RMSNorm(embedding)}) are at least 10⁵ times farther from the true rows than those rows' own norm,
     * in either party's view.
     */
    @Test
    void receivedRowsAreNoiseAtThePadScale(@TempDir Path dir) {
        DecoderModel m = write(new LlamaFixture.Spec(Architecture.QWEN2, 1, 24, 4, 2, 6, 32, 80, 32, false,
                SafeTensors.DType.F32, 1, 14, 1e4, null, false), dir);
        int[] prompt = {5, 17, 42, 7, 9};
        int[] pos = {0, 1, 2, 3, 4};
        DecoderForward plain = m.plainForward();
        Matrix x = plain.norm(plain.embed(prompt, pos), m.weights().layers().get(0).attnNorm());
        for (PrivacyLevel level : List.of(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY)) {
            List<Transcript> views = new ArrayList<>();
            blinded(m, level, Map.of(), List.of(prompt), 2, Sampling.GREEDY, views);
            for (Transcript t : views) {
                var first = t.entries().stream().filter(e -> e.kind() == Transcript.Kind.LINEAR64).findFirst().orElseThrow()
                        .wide("x");
                assertThat(first.rows).isEqualTo(prompt.length);
                for (int i = 0; i < first.rows; i++) {
                    double dist = 0, norm = 0;
                    for (int j = 0; j < first.cols; j++) {
                        double d = first.get(i, j) - x.get(i, j);
                        dist += d * d;
                        norm += (double) x.get(i, j) * x.get(i, j);
                    }
                    assertThat(Math.sqrt(dist / norm)).isGreaterThan(1e5);
                }
            }
        }
    }

    /** {@code /work/shared/fixtures/stories260k} (a real llama2.c checkpoint), skipped when absent. */
    @Test
    void stories260kMatchesPlaintext() {
        Path dir = Path.of(System.getProperty("privllm.shared", "../shared")).resolve("fixtures").resolve("stories260k");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(dir.resolve("config.json")), "stories260k absent");
        DecoderModel m = DecoderModel.load(dir);
        List<int[]> prompts = List.of(new int[] {1, 403, 407, 261, 378}, new int[] {1, 68});
        Run want = run(m.plainForward(), prompts, 24, Sampling.GREEDY);
        for (PrivacyLevel level : List.of(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY)) {
            Run got = blinded(m, level, Map.of(), prompts, 24, Sampling.GREEDY, new ArrayList<>());
            assertThat(got.ids()).usingRecursiveComparison().isEqualTo(want.ids());
            assertThat(maxAbs(want.logits(), got.logits())).isLessThan(1e-4);
        }
    }
}
