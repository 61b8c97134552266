package org.privllm.server.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.privllm.model.generate.Sampling;
import org.privllm.server.Fixtures;
import org.privllm.server.engine.BatchStepper.Failed;
import org.privllm.server.engine.BatchStepper.Sequence;
import org.privllm.server.engine.BatchStepper.SequenceSpec;
import org.privllm.server.engine.BatchStepper.StepEvent;
import org.privllm.server.engine.BatchStepper.Token;
import org.privllm.trusted.privacy.PrivacyLevel;

/**
 * The batched engine: one forward pass per step for every running sequence, sequences join at step boundaries
 * and leave when done, each gets generate's tokens alone; a failed step is redone on a fresh lane.
 */
class RaggedStepperTest {
    static final int EOS = 50256;

    static List<Integer> tokens(int[] a) {
        return Arrays.stream(a).boxed().toList();
    }

    @Test
    void sequencesJoiningMidBatchShareOnePassAndGetGeneratesTokens() {
        TestLanes.Factory f = new TestLanes.Factory(0, Set.of(), 0, true);
        List<int[]> prompts = List.of(new int[] {464, 2068, 7586}, new int[] {40, 716, 257, 3290, 11}, new int[] {15496},
                new int[] {1212, 318, 257, 1332, 286, 262, 6334, 1080});
        List<Sampling> samplings = List.of(Sampling.GREEDY, Sampling.sample(0.9f, 0, 1f, 5L), Sampling.sample(1.2f, 40, 0.9f, 9L),
                Sampling.GREEDY);
        int[] maxNew = {12, 7, 20, 9};
        int[] joinAt = {0, 3, 3, 6};
        Map<Long, List<Integer>> out = new LinkedHashMap<>();
        int steps = 0;
        try (RaggedStepper st = new RaggedStepper(f, 4)) {
            st.warmUp();
            for (int step = 0; step < 200; step++) {
                for (int i = 0; i < prompts.size(); i++) {
                    if (joinAt[i] == step) {
                        Sequence s = st.admit(new SequenceSpec(prompts.get(i), samplings.get(i), maxNew[i], new int[] {EOS}));
                        out.put(s.id(), new ArrayList<>());
                    }
                }
                List<StepEvent> events = st.step();
                if (!events.isEmpty()) {
                    steps++;
                }
                for (StepEvent e : events) {
                    Token t = (Token) e;
                    out.get(t.sequence().id()).add(t.token());
                    if (t.finish() != null) {
                        st.release(t.sequence());
                    }
                }
                if (st.active() == 0 && step > 6) {
                    break;
                }
            }
        }
        List<List<Integer>> got = new ArrayList<>(out.values());
        for (int i = 0; i < prompts.size(); i++) {
            assertThat(got.get(i)).as("sequence " + i)
                    .isEqualTo(tokens(Fixtures.generate(prompts.get(i), maxNew[i], samplings.get(i), null)));
        }
        assertThat(f.opened.get()).isEqualTo(1); // one lane for everyone
        assertThat(f.steps.get()).as("one forward pass per step").isEqualTo(steps);
    }

    /** At the strong level through the real lanes: each sequence gets `generate --privacy strong`'s tokens. */
    @Test
    void strongLevelBatchesAndGivesGeneratesTokens() {
        LaneFactory lanes = Lanes.create(org.privllm.model.DecoderModel.load(Fixtures.model()),
                Lanes.Settings.inProcess(PrivacyLevel.STRONG));
        List<int[]> prompts = List.of(new int[] {464, 2068, 7586, 21831}, new int[] {15496, 11}, new int[] {40});
        List<Sampling> samplings = List.of(Sampling.GREEDY, Sampling.sample(0.8f, 0, 1f, 3L), Sampling.GREEDY);
        Map<Long, List<Integer>> out = new HashMap<>();
        List<Long> order = new ArrayList<>();
        try (RaggedStepper st = new RaggedStepper(lanes, 3)) {
            for (int i = 0; i < 2; i++) {
                Sequence s = st.admit(new SequenceSpec(prompts.get(i), samplings.get(i), 10, new int[] {EOS}));
                out.put(s.id(), new ArrayList<>());
                order.add(s.id());
            }
            for (int step = 0; st.active() > 0; step++) {
                if (step == 2) {
                    Sequence s = st.admit(new SequenceSpec(prompts.get(2), samplings.get(2), 10, new int[] {EOS}));
                    out.put(s.id(), new ArrayList<>());
                    order.add(s.id());
                }
                for (StepEvent e : st.step()) {
                    Token t = (Token) e;
                    out.get(t.sequence().id()).add(t.token());
                    if (t.finish() != null) {
                        st.release(t.sequence());
                    }
                }
            }
        }
        for (int i = 0; i < 3; i++) {
            assertThat(out.get(order.get(i))).as("sequence " + i)
                    .isEqualTo(tokens(Fixtures.generate(prompts.get(i), 10, samplings.get(i), PrivacyLevel.STRONG)));
        }
    }

    @Test
    void aFailedStepIsRedoneOnAFreshLaneWithTheSameTokensAndNoReplay() {
        int[] a = {464, 2068, 7586, 21831};
        int[] b = {15496, 11, 616};
        Sampling s = Sampling.sample(1.0f, 0, 1f, 123L);
        TestLanes.Factory f = new TestLanes.Factory(0, Set.of(3, 6, 7), 3, true); // the 3rd forward pass, and 6th and 7th
        Map<Long, List<Integer>> out = new LinkedHashMap<>();
        int retried = 0;
        try (RaggedStepper st = new RaggedStepper(f, 2)) {
            Sequence qa = st.admit(new SequenceSpec(a, s, 10, new int[] {EOS}));
            Sequence qb = st.admit(new SequenceSpec(b, Sampling.GREEDY, 10, new int[] {EOS}));
            out.put(qa.id(), new ArrayList<>());
            out.put(qb.id(), new ArrayList<>());
            while (st.active() > 0) {
                for (StepEvent e : st.step()) {
                    Token t = (Token) e;
                    out.get(t.sequence().id()).add(t.token());
                    retried += t.retried();
                    if (t.finish() != null) {
                        st.release(t.sequence());
                    }
                }
            }
        }
        List<List<Integer>> got = new ArrayList<>(out.values());
        assertThat(got.get(0)).isEqualTo(tokens(Fixtures.generate(a, 10, s, null)));
        assertThat(got.get(1)).isEqualTo(tokens(Fixtures.generate(b, 10, Sampling.GREEDY, null)));
        assertThat(retried).as("both sequences, three failed passes").isEqualTo(6);
        assertThat(f.opened.get()).isEqualTo(4);
        assertThat(f.closed.get()).isGreaterThanOrEqualTo(3);
        assertThat(f.steps.get()).as("10 passes and the 3 failed ones: nothing replayed").isEqualTo(13);
    }

    @Test
    void failureBeyondTheRetriesEndsTheSequencesOfThatStepOnly() {
        TestLanes.Factory f = new TestLanes.Factory(0, Set.of(2, 3), 1, true);
        try (RaggedStepper st = new RaggedStepper(f, 2)) {
            Sequence a = st.admit(new SequenceSpec(new int[] {464, 2068}, Sampling.GREEDY, 8, new int[] {EOS}));
            assertThat(st.step()).hasSize(1);
            List<StepEvent> second = st.step(); // pass 2 fails, its retry (pass 3) fails too: beyond one retry
            assertThat(second).hasSize(1).first().isInstanceOf(Failed.class);
            assertThat(((Failed) second.get(0)).error()).isInstanceOf(TestLanes.Flaky.class);
            assertThat(((Failed) second.get(0)).retried()).isEqualTo(1);
            st.release(a);
            Sequence b = st.admit(new SequenceSpec(new int[] {464, 2068}, Sampling.GREEDY, 3, new int[] {EOS}));
            assertThat(st.step().get(0)).isInstanceOf(Token.class);
            st.release(b);
        }
    }

    /** New prompts beyond the step's token budget wait for the next boundary (whole prompts, at least one). */
    @Test
    void promptsBeyondTheStepBudgetWaitForTheNextStep() {
        TestLanes.Factory f = new TestLanes.Factory(0, Set.of(), 0, true);
        try (RaggedStepper st = new RaggedStepper(f, 4, 6)) {
            Sequence a = st.admit(new SequenceSpec(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, Sampling.GREEDY, 4, new int[0]));
            Sequence b = st.admit(new SequenceSpec(new int[] {9, 10, 11}, Sampling.GREEDY, 4, new int[0]));
            Sequence c = st.admit(new SequenceSpec(new int[] {12, 13}, Sampling.GREEDY, 4, new int[0]));
            assertThat(st.step()).extracting(StepEvent::sequence).containsExactly(a); // 8 > 6: alone, but it runs
            assertThat(st.step()).extracting(StepEvent::sequence).containsExactly(a, b, c); // 3 + 2 <= 6
            for (Sequence q : List.of(a, b, c)) {
                assertThat(q.id()).isPositive();
            }
        }
    }

    @Test
    void refusesTheSeedLevelsOneRequestLanes() {
        assertThatThrownBy(() -> new RaggedStepper(new TestLanes.Factory(0, Set.of(), 0, false), 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("seed level");
    }

    @Test
    void admissionChecksBeforeAnythingRuns() {
        TestLanes.Factory f = new TestLanes.Factory(0, Set.of(), 0, true);
        try (RaggedStepper st = new RaggedStepper(f, 1)) {
            assertThatThrownBy(() -> st.admit(new SequenceSpec(new int[] {50257}, Sampling.GREEDY, 2, new int[0])))
                    .hasMessageContaining("out of range");
            assertThatThrownBy(() -> st.admit(new SequenceSpec(new int[128], Sampling.GREEDY, 2, new int[0])))
                    .hasMessageContaining("no room");
            st.admit(new SequenceSpec(new int[] {1}, Sampling.GREEDY, 2, new int[0]));
            assertThatThrownBy(() -> st.admit(new SequenceSpec(new int[] {1}, Sampling.GREEDY, 2, new int[0])))
                    .isInstanceOf(IllegalStateException.class);
        }
        assertThat(f.opened.get()).isZero();
    }
}
