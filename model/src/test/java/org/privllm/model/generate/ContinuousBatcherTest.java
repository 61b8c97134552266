package org.privllm.model.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderConfig.Llama3Scaling;
import org.privllm.model.DecoderForward;
import org.privllm.model.DecoderModel;
import org.privllm.model.Fixture;
import org.privllm.model.ForwardPass;
import org.privllm.model.Gpt2Config;
import org.privllm.model.LlamaFixture;
import org.privllm.model.RaggedBatch;
import org.privllm.model.SafeTensors;
import org.privllm.model.SequenceCache;
import org.privllm.model.TransformerOps;
import org.privllm.tensor.Matrix;
import org.privllm.testing.Cases;

/**
 * Continuous batching in plaintext on every family: sequences join a running batch at random step boundaries
 * (their whole prompt riding in the same ragged step as the others' decode rows), leave when done or at random
 * (cancelled), and each gets bit for bit the logits and exactly the tokens {@link Generator} gives it alone.
 */
class ContinuousBatcherTest {
    /**
     * GPT-2 at widths off the vector length (the activation's and the kernels' tails), a GQA Llama with llama3 rope
     * scaling and head_dim ≠ hidden/heads, a Qwen3 (one KV head, q/k norms, biases, BF16, tied), a Qwen2 (q/k/v
     * biases) and a Mistral.
     */
    static final List<DecoderModel> MODELS = List.of(
            gpt2(Gpt2Config.of(2, 30, 3, 97, 64)),
            llama(new LlamaFixture.Spec(Architecture.LLAMA, 2, 32, 6, 2, 12, 48, 120, 96, false, SafeTensors.DType.F32,
                    1, 21, 10000.0, new Llama3Scaling(8, 1, 4, 32), false)),
            llama(new LlamaFixture.Spec(Architecture.QWEN3, 2, 24, 4, 1, 16, 40, 100, 96, true, SafeTensors.DType.BF16,
                    1, 22, 1e6, null, true)),
            llama(LlamaFixture.Spec.of(Architecture.QWEN2, 2, 40, 4, 2, 10, 56, 90, 80)),
            llama(LlamaFixture.Spec.of(Architecture.MISTRAL, 1, 16, 2, 1, 8, 24, 60, 64)));

    static DecoderModel gpt2(Gpt2Config c) {
        try {
            Path dir = Files.createTempDirectory("privllm-ragged-gpt2");
            Fixture.write(dir, c, 5);
            return DecoderModel.load(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static DecoderModel llama(LlamaFixture.Spec spec) {
        try {
            Path dir = Files.createTempDirectory("privllm-ragged-llama");
            Fixture.write(dir, spec);
            return DecoderModel.load(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One sequence of a schedule: when it joins, its request, and when it is cancelled (-1: never). */
    record Plan(int joinStep, int[] prompt, Sampling sampling, int maxNew, int[] stopIds, int cancelAfter) {}

    /** What one sequence got: its tokens and each step's logits row. */
    record Got(List<Integer> tokens, List<float[]> logits) {}

    static List<Plan> plans(SplittableRandom r, int sequences, int vocab, int positions) {
        List<Plan> plans = new ArrayList<>();
        for (int s = 0; s < sequences; s++) {
            int len = 1 + r.nextInt(Math.min(14, positions - 2));
            int[] prompt = r.ints(len, 0, vocab).toArray();
            Sampling sampling = r.nextBoolean() ? Sampling.GREEDY
                    : Sampling.sample(0.5f + r.nextFloat(), r.nextInt(3) == 0 ? 5 : 0, r.nextBoolean() ? 0.9f : 1f,
                    r.nextLong());
            int[] stops = r.nextInt(3) == 0 ? new int[] {r.nextInt(vocab), r.nextInt(vocab)} : new int[0];
            int maxNew = 1 + r.nextInt(12);
            plans.add(new Plan(r.nextInt(8), prompt, sampling, maxNew, stops, r.nextInt(5) == 0 ? r.nextInt(maxNew) : -1));
        }
        return plans;
    }

    /**
     * Drives a batcher through {@code plans}: each joins at its step, all active members step together, a member
     * leaves when it finishes or is cancelled. {@code limit} caps the members of one step (a full batch: the
     * others wait for a free slot, as the server's scheduler makes them).
     */
    static List<Got> runBatched(ContinuousBatcher b, List<Plan> plans, int limit) {
        return runBatched(b, plans, limit, b::step);
    }

    static List<Got> runBatched(ContinuousBatcher b, List<Plan> plans, int limit,
                                java.util.function.Function<List<ContinuousBatcher.Member>, int[]> stepper) {
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
            int[] tokens = stepper.apply(active);
            for (int i = 0; i < tokens.length; i++) {
                got.get(index.get(active.get(i))).tokens().add(tokens[i]);
            }
            for (ContinuousBatcher.Member m : List.copyOf(active)) {
                Plan p = plans.get(index.get(m));
                if (m.finish() != null || m.produced().length - 1 == p.cancelAfter()) {
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

    /** The same request alone: {@link Generator} on a batch of one. */
    static Got alone(ForwardPass forward, Plan p) {
        List<Matrix> logits = new ArrayList<>();
        int[] out = new Generator(forward).generate(List.of(p.prompt()), p.maxNew(), p.sampling(), p.stopIds(), null,
                logits::add).outputIds().get(0);
        List<Integer> tokens = Arrays.stream(Arrays.copyOfRange(out, p.prompt().length, out.length)).boxed().toList();
        return new Got(tokens, logits.stream().map(m -> m.data.clone()).toList());
    }

    /** Tokens exactly; logits bit for bit ({@code tolerance} 0) or within {@code tolerance}; a cancelled one a prefix. */
    static void assertSame(List<Plan> plans, List<Got> batched, Supplier<ForwardPass> reference, double tolerance) {
        for (int s = 0; s < plans.size(); s++) {
            Plan p = plans.get(s);
            Got a = alone(reference.get(), p), g = batched.get(s);
            List<Integer> expected = p.cancelAfter() >= 0 && p.cancelAfter() < a.tokens().size()
                    ? a.tokens().subList(0, p.cancelAfter() + 1) : a.tokens();
            assertThat(g.tokens()).as("sequence %d's tokens", s).isEqualTo(expected);
            for (int k = 0; k < g.logits().size(); k++) {
                if (tolerance == 0) {
                    assertThat(g.logits().get(k)).as("sequence %d step %d logits", s, k).isEqualTo(a.logits().get(k));
                } else {
                    float[] x = g.logits().get(k), y = a.logits().get(k);
                    for (int v = 0; v < x.length; v++) {
                        assertThat((double) x[v]).as("sequence %d step %d token %d", s, k, v)
                                .isCloseTo(y[v], org.assertj.core.data.Offset.offset(tolerance));
                    }
                }
            }
        }
    }

    static Stream<Arguments> joinsAndLeavesAtRandomStepsGiveEachSequenceItsTokensAlone() {
        return Cases.of(30, 31_000, d -> new Object[] {d.intIn(0, MODELS.size() - 1), d.intIn(1, 7), d.intIn(1, 8),
                d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] model={0}, sequences={1}, batch limit={2}, seed={3}")
    @MethodSource
    void joinsAndLeavesAtRandomStepsGiveEachSequenceItsTokensAlone(int model, int sequences, int limit, long seed) {
        DecoderModel m = MODELS.get(model);
        List<Plan> plans = plans(new SplittableRandom(seed), sequences, m.config().vocab(), m.config().positions());
        List<Got> got = runBatched(new ContinuousBatcher(m.plainForward()), plans, limit);
        assertSame(plans, got, m::plainForward, 0);
    }

    /** A ragged step's hidden rows equal each sequence's rows run alone (prefill and decode rows mixed), bit for bit. */
    @Test
    void aRaggedStepEqualsEachSequenceItsOwnStep() {
        for (DecoderModel m : MODELS) {
            SplittableRandom r = new SplittableRandom(77);
            DecoderForward batched = m.plainForward();
            int[][] prompts = {r.ints(5, 0, m.config().vocab()).toArray(), r.ints(1, 0, m.config().vocab()).toArray(),
                    r.ints(9, 0, m.config().vocab()).toArray()};
            List<SequenceCache> caches = new ArrayList<>();
            for (int[] p : prompts) {
                caches.add(batched.ops().openSequence(p.length + 2));
            }
            // step 1: the first two prefill; step 2: they decode one row each while the third prefills
            Matrix h1 = batched.step(new RaggedBatch(caches.subList(0, 2), new int[] {5, 1}), concat(prompts[0], prompts[1]));
            Matrix h2 = batched.step(new RaggedBatch(caches, new int[] {1, 1, 9}), concat(new int[] {3, 4}, prompts[2]));
            assertThat(caches.stream().mapToInt(SequenceCache::length)).containsExactly(6, 2, 9);
            int[][] next = {{3}, {4}, null};
            int[] firstRow = {0, 5}, secondRow = {0, 1, 2};
            for (int s = 0; s < 3; s++) {
                DecoderForward alone = m.plainForward();
                alone.ops().startCache(new int[] {0}, prompts[s].length + 2);
                Matrix a1 = alone.step(prompts[s], range(0, prompts[s].length), prompts[s].length);
                if (s < 2) {
                    assertThat(h1.rows(firstRow[s], firstRow[s] + prompts[s].length).data).isEqualTo(a1.data);
                    Matrix a2 = alone.step(next[s], new int[] {prompts[s].length}, 1);
                    assertThat(h2.rows(secondRow[s], secondRow[s] + 1).data).isEqualTo(a2.data);
                } else {
                    assertThat(h2.rows(2, 11).data).isEqualTo(a1.data);
                }
            }
        }
    }

    @Test
    void refusesWhatGenerateRefusesAndPlacementsWithoutRaggedSteps() {
        DecoderModel m = MODELS.get(0);
        ContinuousBatcher b = new ContinuousBatcher(m.plainForward());
        assertThatThrownBy(() -> b.join(new int[0], Sampling.GREEDY, 4, new int[0])).hasMessage("empty prompt");
        assertThatThrownBy(() -> b.join(new int[] {m.config().vocab()}, Sampling.GREEDY, 4, new int[0]))
                .hasMessageContaining("out of range");
        assertThatThrownBy(() -> b.join(new int[m.config().positions()], Sampling.GREEDY, 4, new int[0]))
                .hasMessageContaining("leaves no room");
        assertThatThrownBy(() -> b.join(new int[] {1}, Sampling.GREEDY, 0, new int[0])).hasMessageContaining(">= 1");
        TransformerOps plain = m.plainForward().ops();
        TransformerOps notRagged = new TransformerOps() {
            public void startCache(int[] leftPad, int capacity) { plain.startCache(leftPad, capacity); }
            public Matrix attention(int layer, Matrix x, int t) { return plain.attention(layer, x, t); }
            public Matrix mlpUp(int layer, Matrix x) { return plain.mlpUp(layer, x); }
            public Matrix mlpDown(int layer, Matrix x) { return plain.mlpDown(layer, x); }
            public void advance(int t) { plain.advance(t); }
            public Matrix lmHead(Matrix h) { return plain.lmHead(h); }
        };
        assertThatThrownBy(() -> new ContinuousBatcher(new DecoderForward(m.config(), m.weights(), notRagged)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not run ragged batches");
        // a sequence at its limit may not take more rows
        SequenceCache c = plain.openSequence(2);
        assertThatThrownBy(() -> new RaggedBatch(List.of(c), new int[] {3})).hasMessageContaining("full");
        assertThatThrownBy(() -> new RaggedBatch(List.of(c, c), new int[] {1, 1})).hasMessageContaining("twice");
    }

    /**
     * A failing LM head (after the forward pass advanced the caches) keeps the hidden rows: the retry — on a fresh
     * placement — only redoes the head, and the tokens are those of a run that never failed.
     */
    @Test
    void aFailedStepIsRedoneOnAFreshPlacementWithTheSameTokens() {
        DecoderModel m = MODELS.get(1);
        List<Plan> plans = plans(new SplittableRandom(5), 4, m.config().vocab(), m.config().positions());
        int[] calls = {0};
        Supplier<ForwardPass> flaky = () -> new DecoderForward(m.config(), m.weights(), new FailingOps(m.plainForward().ops(), calls));
        ContinuousBatcher b = new ContinuousBatcher(flaky.get());
        List<Plan> whole = plans.stream().map(p -> new Plan(p.joinStep(), p.prompt(), p.sampling(), p.maxNew(),
                p.stopIds(), -1)).toList();
        List<Got> got = runBatchedWithRetries(b, whole, flaky);
        assertSame(whole, got, m::plainForward, 0);
        assertThat(calls[0]).isGreaterThan(20);
    }

    /** Fails every 7th attention call and every 5th LM head (counted together). */
    static final class FailingOps implements TransformerOps {
        final TransformerOps ops;
        final int[] calls;

        FailingOps(TransformerOps ops, int[] calls) {
            this.ops = ops;
            this.calls = calls;
        }

        void maybeFail(int every) {
            if (++calls[0] % every == 0) {
                throw new IllegalStateException("executor gone");
            }
        }

        public void startCache(int[] leftPad, int capacity) { ops.startCache(leftPad, capacity); }
        public Matrix attention(int layer, Matrix x, int t) { return ops.attention(layer, x, t); }
        public Matrix mlpUp(int layer, Matrix x) { return ops.mlpUp(layer, x); }
        public Matrix mlpDown(int layer, Matrix x) { return ops.mlpDown(layer, x); }
        public void advance(int t) { ops.advance(t); }
        public boolean ragged() { return true; }
        public SequenceCache openSequence(int capacity) { return ops.openSequence(capacity); }
        public void advance(RaggedBatch batch) { ops.advance(batch); }

        public Matrix attention(int layer, Matrix x, RaggedBatch batch) {
            maybeFail(7);
            return ops.attention(layer, x, batch);
        }

        public Matrix lmHead(Matrix h) {
            maybeFail(5);
            return ops.lmHead(h);
        }
    }

    static List<Got> runBatchedWithRetries(ContinuousBatcher b, List<Plan> plans, Supplier<ForwardPass> fresh) {
        return runBatched(b, plans, 8, members -> {
            for (int tries = 0; ; tries++) {
                try {
                    return b.step(members);
                } catch (IllegalStateException e) {
                    assertThat(tries).isLessThan(10);
                    b.forward(fresh.get());
                }
            }
        });
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }
}
