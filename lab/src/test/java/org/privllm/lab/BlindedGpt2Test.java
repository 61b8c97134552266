package org.privllm.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.DecoderWeights;
import org.privllm.model.Gpt2Model;
import org.privllm.model.PlainDecoderOps;
import org.privllm.model.generate.Sampling;
import org.privllm.protocol.Executor;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.lora.LoraMerge;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.trusted.privacy.BlindingConfig;
import org.privllm.trusted.privacy.PrivacyLevel;
import org.privllm.trusted.privacy.TrustedAttentionDecoder;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;

/**
 * The strong and two-party levels give the plaintext answer (ids identical, logits within 1e-4), with a
 * private adapter kept trusted, and each executor receives only blinded rows against public weights: no
 * attention call, no cache, no token, nothing correlated with a plaintext row.
 */
class BlindedGpt2Test {
    static final Gpt2Model SMALL = ObfuscatedGpt2Test.SMALL;

    static ObfuscatedGpt2Test.Run blinded(Gpt2Model m, PrivacyLevel level, int pool, Map<String, LowRankAdapter> adapters,
                                          List<int[]> prompts, int steps, Sampling s, List<Transcript> views) {
        List<Executor> parties = new ArrayList<>();
        for (int p = 0; p < level.parties(); p++) {
            Transcript t = new Transcript();
            views.add(t);
            parties.add(new InProcessExecutor(t));
        }
        BlindingConfig c = BlindingConfig.of(level).withPadPool(pool).withSeed(7);
        DecoderModel d = m.decoder();
        try (TrustedAttentionDecoder ops = TrustedAttentionDecoder.blinded(d.config(), d.weights(), adapters, parties, c)) {
            return ObfuscatedGpt2Test.run(m, new DecoderForward(d.config(), d.weights(), ops), prompts, steps, s);
        }
    }

    static void assertSameAnswer(Gpt2Model m, PrivacyLevel level, int pool, Map<String, LowRankAdapter> adapters,
                                 List<int[]> prompts, int steps, Sampling s) {
        DecoderModel d = m.decoder();
        DecoderWeights merged = LoraMerge.merged(d.weights(), adapters);
        ObfuscatedGpt2Test.Run plain = ObfuscatedGpt2Test.run(m, new DecoderForward(d.config(), merged,
                new PlainDecoderOps(d.config(), merged)), prompts, steps, s);
        List<Transcript> views = new ArrayList<>();
        ObfuscatedGpt2Test.Run run = blinded(m, level, pool, adapters, prompts, steps, s, views);
        for (int b = 0; b < prompts.size(); b++) {
            assertThat(run.ids().get(b)).as("sequence %d at %s", b, level).isEqualTo(plain.ids().get(b));
        }
        assertThat(ObfuscatedGpt2Test.maxAbs(plain.logits(), run.logits())).as("max logit error at " + level).isLessThan(1e-4);
        for (Transcript t : views) {
            assertOnlyBlindedLinearCalls(t);
        }
    }

    /** An executor's whole view: sessions, bare public weights, and float64 linear inputs, nothing else. */
    static void assertOnlyBlindedLinearCalls(Transcript t) {
        assertThat(t.entries()).extracting(e -> e.kind().name()).containsOnly("OPEN_SESSION", "UPLOAD_LINEAR",
                "LINEAR64", "CLOSE_SESSION");
        for (Transcript.Entry e : t.entries()) {
            if (e.kind() == Transcript.Kind.UPLOAD_LINEAR) {
                assertThat(e.tensor("bias")).isNull();
                assertThat(e.tensor("loraA")).isNull();
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"strong,0", "strong,3", "two-party,0"})
    void greedyBatchMatchesPlaintext(String level, int pool) {
        List<int[]> prompts = List.of(new int[] {5, 17, 42, 7, 9}, new int[] {100, 3});
        assertSameAnswer(SMALL, PrivacyLevel.parse(level), pool, Map.of(), prompts, 12, Sampling.GREEDY);
    }

    @Test
    void seededSamplingAndAPrivateAdapterMatchPlaintext() {
        Map<String, LowRankAdapter> lora = adapters(SMALL, 4, new java.util.Random(11));
        for (PrivacyLevel level : List.of(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY)) {
            assertSameAnswer(SMALL, level, 0, lora, List.of(new int[] {1, 2, 3}), 16, Sampling.sample(1.0f, 40, 0.9f, 1234L));
        }
    }

    /**
     * No row an executor receives is close to a plaintext layer input: every received row is at least
     * 10⁵ times farther from the true first-layer input than that input's own norm, in either party's view.
     */
    @Test
    void receivedRowsAreNoiseAtThePadScale() {
        int[] prompt = {5, 17, 42, 7, 9};
        for (PrivacyLevel level : List.of(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY)) {
            List<Transcript> views = new ArrayList<>();
            blinded(SMALL, level, 0, Map.of(), List.of(prompt), 2, Sampling.GREEDY, views);
            org.privllm.lab.leakage.PublicModel pub = new org.privllm.lab.leakage.PublicModel(SMALL.config(), SMALL.weights());
            Matrix x = new Matrix(prompt.length, SMALL.config().embd());
            for (int i = 0; i < prompt.length; i++) {
                System.arraycopy(pub.layer0Rows(i, new int[] {prompt[i]}).data, 0, x.data, i * x.cols, x.cols);
            }
            for (Transcript t : views) {
                DoubleMatrix first = t.entries().stream().filter(e -> e.kind() == Transcript.Kind.LINEAR64)
                        .findFirst().orElseThrow().wide("x");
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

    /** A private adapter on every linear layer of every block, large enough to change the outputs. */
    static Map<String, LowRankAdapter> adapters(Gpt2Model m, int rank, java.util.Random rnd) {
        Map<String, LowRankAdapter> a = new java.util.HashMap<>();
        int d = m.config().embd(), in = m.config().inner();
        for (int i = 0; i < m.config().layers(); i++) {
            String p = "h." + i + ".";
            a.put(p + "attn.c_attn", adapter(d, 3 * d, rank, rnd));
            a.put(p + "attn.c_proj", adapter(d, d, rank, rnd));
            a.put(p + "mlp.c_fc", adapter(d, in, rank, rnd));
            a.put(p + "mlp.c_proj", adapter(in, d, rank, rnd));
        }
        return a;
    }

    private static LowRankAdapter adapter(int in, int out, int rank, java.util.Random rnd) {
        return new LowRankAdapter(org.privllm.trusted.linalg.Dense.gaussian(in, rank, 1 / Math.sqrt(in), rnd),
                org.privllm.trusted.linalg.Dense.gaussian(rank, out, 0.05, rnd), 1.0);
    }

    /** The pad scales (which the executors observe as row sizes) are the public model's: no private adapter moves them. */
    @Test
    void padScalesDoNotDependOnAPrivateAdapter() {
        DecoderModel d = SMALL.decoder();
        BlindingConfig c = BlindingConfig.of(PrivacyLevel.STRONG).withSeed(3);
        List<Double> without, with;
        try (TrustedAttentionDecoder plain = TrustedAttentionDecoder.blinded(d.config(), d.weights(), Map.of(),
                List.of(new InProcessExecutor()), c);
             TrustedAttentionDecoder adapted = TrustedAttentionDecoder.blinded(d.config(), d.weights(),
                     adapters(SMALL, 4, new java.util.Random(5)), List.of(new InProcessExecutor()), c)) {
            without = plain.linears().stream().map(l -> l.padStd()).toList();
            with = adapted.linears().stream().map(l -> l.padStd()).toList();
        }
        assertThat(with).isEqualTo(without).allSatisfy(s -> assertThat(s).isPositive());
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
            for (PrivacyLevel level : List.of(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY)) {
                assertSameAnswer(m, level, 0, Map.of(), List.of(new int[] {11, 22, 33, 44}), 32, Sampling.GREEDY);
            }
        }
    }
}
