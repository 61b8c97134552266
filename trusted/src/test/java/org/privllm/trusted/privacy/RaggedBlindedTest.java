package org.privllm.trusted.privacy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.Fixture;
import org.privllm.model.ForwardPass;
import org.privllm.model.Gpt2Config;
import org.privllm.model.LlamaFixture;
import org.privllm.model.SafeTensors;
import org.privllm.model.generate.ContinuousBatcher;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.protocol.Executor;
import org.privllm.tensor.Matrix;
import org.privllm.testing.Cases;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.lora.LowRankAdapter;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;

/**
 * Continuous batching at the strong and two-party levels ({@link TrustedAttentionDecoder}'s ragged steps):
 * sequences join at random step boundaries, leave when done or cancelled, and each gets exactly the tokens it gets
 * alone — at the same level and in plaintext — with logits within the levels' 1e-4; every linear layer of a step
 * is one blinded call over the rows of every sequence in it, and each executor sees nothing but those calls.
 */
class RaggedBlindedTest {

    record Plan(int joinStep, int[] prompt, Sampling sampling, int maxNew, int[] stopIds, int cancelAfter) {}

    record Got(List<Integer> tokens, List<float[]> logits) {}

    static Stream<Arguments> joinsAndLeavesAtRandomStepsGiveEachSequenceItsTokensAlone() {
        return Cases.of(12, 52_000, d -> new Object[] {d.oneOf(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY),
                d.oneOf("gpt2", "llama", "qwen3", "qwen3+lora"), d.intIn(2, 6), d.intIn(2, 6), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] {0} {1} sequences={2} limit={3} seed={4}")
    @MethodSource
    void joinsAndLeavesAtRandomStepsGiveEachSequenceItsTokensAlone(PrivacyLevel level, String family, int sequences,
                                                                   int limit, long seed, @TempDir Path dir) {
        DecoderModel m = switch (family) {
            case "gpt2" -> {
                Fixture.write(dir.resolve("m"), Gpt2Config.of(2, 24, 3, 90, 48), seed ^ 1);
                yield DecoderModel.load(dir.resolve("m"));
            }
            case "llama" -> TrustedAttentionDecoderTest.write(new LlamaFixture.Spec(Architecture.LLAMA, 2, 24, 6, 2, 8, 40,
                    110, 48, false, SafeTensors.DType.F32, 1, seed, 10000.0, null, false), dir.resolve("m"));
            default -> TrustedAttentionDecoderTest.write(new LlamaFixture.Spec(Architecture.QWEN3, 2, 16, 4, 1, 8, 24, 80,
                    48, true, SafeTensors.DType.BF16, 1, seed, 1e6, null, true), dir.resolve("m"));
        };
        Map<String, LowRankAdapter> lora = Map.of();
        if (family.endsWith("+lora")) {
            LoraAdapter.writeRandom(dir.resolve("lora"), m.config(), 2, 4f, LoraAdapter.LLAMA_TARGETS, seed ^ 3);
            lora = LoraAdapter.load(dir.resolve("lora"), m.config()).layers();
        }
        SplittableRandom r = new SplittableRandom(seed);
        List<Plan> plans = new ArrayList<>();
        for (int s = 0; s < sequences; s++) {
            int[] prompt = r.ints(1 + r.nextInt(10), 0, m.config().vocab()).toArray();
            Sampling sampling = r.nextBoolean() ? Sampling.GREEDY : Sampling.sample(0.8f, 0, 1f, r.nextLong());
            int maxNew = 1 + r.nextInt(8);
            plans.add(new Plan(r.nextInt(6), prompt, sampling, maxNew,
                    r.nextInt(3) == 0 ? new int[] {r.nextInt(m.config().vocab())} : new int[0],
                    r.nextInt(4) == 0 ? r.nextInt(maxNew) : -1));
        }
        List<Transcript> views = new ArrayList<>();
        List<Executor> parties = new ArrayList<>();
        for (int p = 0; p < level.parties(); p++) {
            Transcript t = new Transcript();
            views.add(t);
            parties.add(new InProcessExecutor(t));
        }
        List<Got> got;
        int[] steps = {0};
        List<Integer> rowsPerStep = new ArrayList<>();
        try (TrustedAttentionDecoder ops = TrustedAttentionDecoder.blinded(m.config(), m.weights(), lora, parties,
                BlindingConfig.of(level))) {
            views.forEach(Transcript::clear); // from here on: the ragged steps' calls only
            got = runBatched(new ContinuousBatcher(new DecoderForward(m.config(), m.weights(), ops)), plans, limit,
                    steps, rowsPerStep);
        } finally {
            parties.forEach(Executor::close);
        }
        DecoderForward plain = TrustedAttentionDecoderTest.plain(m, lora);
        Map<String, LowRankAdapter> adapters = lora;
        for (int s = 0; s < plans.size(); s++) {
            Plan p = plans.get(s);
            Got want = alone(plain, p);
            List<Integer> expected = p.cancelAfter() >= 0 && p.cancelAfter() < want.tokens().size()
                    ? want.tokens().subList(0, p.cancelAfter() + 1) : want.tokens();
            assertThat(got.get(s).tokens()).as("sequence %d vs plaintext alone", s).isEqualTo(expected);
            assertThat(maxAbs(got.get(s).logits(), want.logits())).as("sequence %d's logits", s).isLessThan(1e-4);
        }
        // and the same requests alone at this level (what `privllm generate --privacy …` runs)
        List<Executor> fresh = new ArrayList<>();
        for (int p = 0; p < level.parties(); p++) {
            fresh.add(new InProcessExecutor());
        }
        try (TrustedAttentionDecoder ops = TrustedAttentionDecoder.blinded(m.config(), m.weights(), adapters, fresh,
                BlindingConfig.of(level))) {
            for (int s = 0; s < plans.size(); s++) {
                Got alone = alone(new DecoderForward(m.config(), m.weights(), ops), plans.get(s));
                assertThat(got.get(s).tokens()).as("sequence %d vs %s alone", s, level)
                        .isEqualTo(alone.tokens().subList(0, got.get(s).tokens().size()));
            }
        } finally {
            fresh.forEach(Executor::close);
        }
        // one blinded call per linear layer and step, over the rows of every sequence in the step
        int linears = 4 * m.config().layers();
        for (Transcript t : views) {
            List<Transcript.Entry> calls = t.entries().stream().filter(e -> e.kind() == Transcript.Kind.LINEAR64).toList();
            assertThat(t.entries()).allMatch(e -> e.kind() == Transcript.Kind.LINEAR64
                    || e.kind() == Transcript.Kind.CLOSE_SESSION);
            assertThat(calls).hasSize(steps[0] * (linears + 1));
            for (int k = 0; k < steps[0]; k++) {
                for (int l = 0; l < linears; l++) {
                    assertThat(calls.get(k * (linears + 1) + l).wide("x").rows).isEqualTo(rowsPerStep.get(k));
                }
            }
        }
    }

    static Stream<Arguments> anExecutorDyingMidStepIsSurvivedWithTheSameTokens() {
        return Cases.of(10, 53_000, d -> new Object[] {d.oneOf(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY),
                d.intIn(1, 120), d.anyLong()});
    }

    /**
     * An executor that dies in the middle of a step — after some layers' calls of it went through, so the trusted
     * caches already hold that step's keys and values for those layers — and the step redone on a fresh placement
     * (new executors, as the server fails over): every sequence still gets plaintext's tokens alone, logits within
     * 1e-4. The server's kill runs are this at scale.
     */
    @ParameterizedTest(name = "[{index}] {0} dies at call {1}, seed={2}")
    @MethodSource
    void anExecutorDyingMidStepIsSurvivedWithTheSameTokens(PrivacyLevel level, int dieAt, long seed, @TempDir Path dir) {
        Fixture.write(dir.resolve("m"), Gpt2Config.of(2, 24, 3, 90, 48), seed ^ 1);
        DecoderModel m = DecoderModel.load(dir.resolve("m"));
        SplittableRandom r = new SplittableRandom(seed);
        List<Plan> plans = new ArrayList<>();
        for (int s = 0; s < 4; s++) {
            int[] prompt = r.ints(1 + r.nextInt(10), 0, m.config().vocab()).toArray();
            Sampling sampling = r.nextBoolean() ? Sampling.GREEDY : Sampling.sample(0.8f, 0, 1f, r.nextLong());
            plans.add(new Plan(r.nextInt(4), prompt, sampling, 2 + r.nextInt(8), new int[0], -1));
        }
        int[] linear64 = {0};
        boolean[] armed = {false};
        Executor healthy = new InProcessExecutor();
        Executor dying = (Executor) java.lang.reflect.Proxy.newProxyInstance(Executor.class.getClassLoader(),
                new Class<?>[] {Executor.class}, (proxy, method, args) -> {
                    if (armed[0] && method.getName().equals("linear64") && ++linear64[0] == dieAt) {
                        throw new IllegalStateException("executor died");
                    }
                    try {
                        return method.invoke(healthy, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        List<Executor> parties = new ArrayList<>(List.of(dying));
        for (int p = 1; p < level.parties(); p++) {
            parties.add(new InProcessExecutor());
        }
        List<Executor> fresh = new ArrayList<>();
        List<TrustedAttentionDecoder> opened = new ArrayList<>();
        List<Got> got;
        try {
            TrustedAttentionDecoder first = TrustedAttentionDecoder.blinded(m.config(), m.weights(), Map.of(), parties,
                    BlindingConfig.of(level));
            opened.add(first);
            armed[0] = true;
            got = runBatched(new ContinuousBatcher(new DecoderForward(m.config(), m.weights(), first)), plans, 3,
                    new int[1], new ArrayList<>(), () -> {
                        for (int p = 0; p < level.parties(); p++) {
                            fresh.add(new InProcessExecutor());
                        }
                        TrustedAttentionDecoder next = TrustedAttentionDecoder.blinded(m.config(), m.weights(), Map.of(),
                                fresh.subList(fresh.size() - level.parties(), fresh.size()), BlindingConfig.of(level));
                        opened.add(next);
                        return new DecoderForward(m.config(), m.weights(), next);
                    });
        } finally {
            opened.forEach(TrustedAttentionDecoder::close);
            parties.forEach(Executor::close);
            fresh.forEach(Executor::close);
        }
        DecoderForward plain = TrustedAttentionDecoderTest.plain(m, Map.of());
        for (int s = 0; s < plans.size(); s++) {
            Got want = alone(plain, plans.get(s));
            assertThat(got.get(s).tokens()).as("sequence %d vs plaintext alone", s).isEqualTo(want.tokens());
            assertThat(maxAbs(got.get(s).logits(), want.logits())).as("sequence %d's logits", s).isLessThan(1e-4);
        }
    }

    static List<Got> runBatched(ContinuousBatcher b, List<Plan> plans, int limit, int[] steps, List<Integer> rowsPerStep) {
        return runBatched(b, plans, limit, steps, rowsPerStep, null);
    }

    /** With {@code failover}: a step that throws is redone once on the placement it supplies (as the server does). */
    static List<Got> runBatched(ContinuousBatcher b, List<Plan> plans, int limit, int[] steps, List<Integer> rowsPerStep,
                                java.util.function.Supplier<ForwardPass> failover) {
        Map<ContinuousBatcher.Member, Integer> index = new IdentityHashMap<>();
        Map<Integer, Got> got = new HashMap<>();
        List<ContinuousBatcher.Member> active = new ArrayList<>();
        List<Integer> waiting = new ArrayList<>();
        b.observeLogits((members, logits) -> {
            for (int i = 0; i < members.size(); i++) {
                got.get(index.get(members.get(i))).logits()
                        .add(Arrays.copyOfRange(logits.data, i * logits.cols, (i + 1) * logits.cols));
            }
        });
        for (int step = 0; got.size() < plans.size() || !active.isEmpty() || !waiting.isEmpty(); step++) {
            for (int s = 0; s < plans.size(); s++) {
                if (plans.get(s).joinStep() == step) {
                    waiting.add(s);
                }
            }
            while (!waiting.isEmpty() && active.size() < limit) {
                int s = waiting.remove(0);
                Plan p = plans.get(s);
                ContinuousBatcher.Member m = b.join(p.prompt(), p.sampling(), p.maxNew(), p.stopIds());
                index.put(m, s);
                got.put(s, new Got(new ArrayList<>(), new ArrayList<>()));
                active.add(m);
            }
            if (active.isEmpty()) {
                continue;
            }
            rowsPerStep.add(active.stream().mapToInt(ContinuousBatcher.Member::nextRows).sum());
            int[] tokens;
            try {
                tokens = b.step(active);
            } catch (RuntimeException e) {
                if (failover == null) {
                    throw e;
                }
                b.forward(failover.get());
                tokens = b.step(active);
            }
            steps[0]++;
            for (int i = 0; i < tokens.length; i++) {
                got.get(index.get(active.get(i))).tokens().add(tokens[i]);
            }
            for (ContinuousBatcher.Member m : List.copyOf(active)) {
                if (m.finish() != null || m.produced().length - 1 == plans.get(index.get(m)).cancelAfter()) {
                    b.leave(m);
                    active.remove(m);
                }
            }
        }
        List<Got> out = new ArrayList<>();
        for (int s = 0; s < plans.size(); s++) {
            out.add(got.get(s));
        }
        return out;
    }

    static Got alone(ForwardPass forward, Plan p) {
        List<Matrix> logits = new ArrayList<>();
        int[] out = new Generator(forward).generate(List.of(p.prompt()), p.maxNew(), p.sampling(), p.stopIds(), null,
                logits::add).outputIds().get(0);
        return new Got(Arrays.stream(Arrays.copyOfRange(out, p.prompt().length, out.length)).boxed().toList(),
                logits.stream().map(x -> x.data.clone()).toList());
    }

    static double maxAbs(List<float[]> a, List<float[]> b) {
        double m = 0;
        for (int i = 0; i < a.size(); i++) {
            for (int j = 0; j < a.get(i).length; j++) {
                m = Math.max(m, Math.abs(a.get(i)[j] - b.get(i)[j]));
            }
        }
        return m;
    }
}
