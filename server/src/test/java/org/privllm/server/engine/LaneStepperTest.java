package org.privllm.server.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
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

/** The lane engine: sequences join at step boundaries, leave when done, and each gets generate's tokens. */
class LaneStepperTest {
    static final int EOS = 50256;

    static int[] run(LaneStepper st, Map<Integer, SequenceSpec> joinAtStep, Map<Long, List<Integer>> out, int maxSteps) {
        Map<Long, Integer> firstStep = new HashMap<>();
        int[] admittedAt = new int[joinAtStep.size()];
        for (int step = 0; step < maxSteps; step++) {
            SequenceSpec spec = joinAtStep.get(step);
            if (spec != null) {
                Sequence s = st.admit(spec);
                out.put(s.id(), new ArrayList<>());
                firstStep.put(s.id(), step);
            }
            for (StepEvent e : st.step()) {
                Token t = (Token) e;
                out.get(t.sequence().id()).add(t.token());
                if (t.finish() != null) {
                    st.release(t.sequence());
                }
            }
            if (st.active() == 0 && step > joinAtStep.keySet().stream().mapToInt(i -> i).max().orElse(0)) {
                break;
            }
        }
        return admittedAt;
    }

    @Test
    void sequencesJoiningMidBatchGetGeneratesTokens() {
        TestLanes.Factory f = new TestLanes.Factory(0, Set.of(), 0, true);
        List<int[]> prompts = List.of(new int[] {464, 2068, 7586}, new int[] {40, 716, 257, 3290, 11}, new int[] {15496});
        List<Sampling> samplings = List.of(Sampling.GREEDY, Sampling.sample(0.9f, 0, 1f, 5L), Sampling.sample(1.2f, 40, 0.9f, 9L));
        int[] maxNew = {12, 7, 20};
        Map<Integer, SequenceSpec> join = new HashMap<>();
        int[] at = {0, 3, 4};
        for (int i = 0; i < 3; i++) {
            join.put(at[i], new SequenceSpec(prompts.get(i), samplings.get(i), maxNew[i], new int[] {EOS}));
        }
        Map<Long, List<Integer>> out = new java.util.LinkedHashMap<>();
        try (LaneStepper st = new LaneStepper(f, 3)) {
            run(st, join, out, 200);
            assertThat(st.active()).isZero();
        }
        List<List<Integer>> got = new ArrayList<>(out.values());
        for (int i = 0; i < 3; i++) {
            int[] expected = Fixtures.generate(prompts.get(i), maxNew[i], samplings.get(i), null);
            assertThat(got.get(i)).as("sequence " + i).containsExactlyElementsOf(
                    java.util.Arrays.stream(expected).boxed().toList());
        }
        assertThat(f.opened.get()).isEqualTo(3); // reusable lanes: one per slot
    }

    @Test
    void retryableFailureIsReplayedOnAFreshLaneWithTheSameTokens() {
        int[] prompt = {464, 2068, 7586, 21831};
        Sampling s = Sampling.sample(1.0f, 0, 1f, 123L);
        int[] expected = Fixtures.generate(prompt, 10, s, null);
        TestLanes.Factory f = new TestLanes.Factory(0, Set.of(5, 9), 2, true); // fail the 5th and 9th forward steps
        List<Integer> got = new ArrayList<>();
        int retried = 0;
        try (LaneStepper st = new LaneStepper(f, 2)) {
            Sequence q = st.admit(new SequenceSpec(prompt, s, 10, new int[] {EOS}));
            while (true) {
                StepEvent e = st.step().get(0);
                Token t = (Token) e;
                got.add(t.token());
                retried += t.retried();
                if (t.finish() != null) {
                    st.release(q);
                    break;
                }
            }
        }
        assertThat(retried).isEqualTo(2);
        assertThat(got).containsExactlyElementsOf(java.util.Arrays.stream(expected).boxed().toList());
        assertThat(f.closed.get()).isGreaterThanOrEqualTo(2);
    }

    @Test
    void failureBeyondTheRetriesEndsOnlyThatSequence() {
        TestLanes.Factory f = new TestLanes.Factory(0, Set.of(2, 3), 1, true);
        try (LaneStepper st = new LaneStepper(f, 2)) {
            Sequence a = st.admit(new SequenceSpec(new int[] {464, 2068}, Sampling.GREEDY, 8, new int[] {EOS}));
            List<StepEvent> first = st.step();
            assertThat(first).hasSize(1);
            StepEvent second = st.step().get(0); // forward step 2 fails, the retry (its prefill, step 3) fails too
            assertThat(second).isInstanceOf(Failed.class);
            assertThat(((Failed) second).error()).isInstanceOf(TestLanes.Flaky.class);
            st.release(a);
            Sequence b = st.admit(new SequenceSpec(new int[] {464, 2068}, Sampling.GREEDY, 3, new int[] {EOS}));
            assertThat(st.step().get(0)).isInstanceOf(Token.class);
            st.release(b);
        }
    }

    /**
     * With no retries left the failed sequence ends with the error, and every slot's next lane opens on the next
     * listed executors: later requests, in this slot or another, do not meet the executor that failed.
     */
    @Test
    void afterAFailureWithoutRetriesEverySlotsNextLaneOpensOnTheNextExecutors() {
        TestLanes.Factory f = new TestLanes.Factory(0, Set.of(2), 0, false);
        try (LaneStepper st = new LaneStepper(f, 2)) {
            Sequence a = st.admit(new SequenceSpec(new int[] {464, 2068}, Sampling.GREEDY, 8, new int[] {EOS}));
            assertThat(st.step()).hasSize(1).first().isInstanceOf(Token.class);
            StepEvent second = st.step().get(0); // forward step 2 fails, no retry
            assertThat(second).isInstanceOf(Failed.class);
            assertThat(((Failed) second).retried()).isZero();
            st.release(a);
            Sequence b = st.admit(new SequenceSpec(new int[] {464, 2068}, Sampling.GREEDY, 2, new int[] {EOS}));
            Sequence c = st.admit(new SequenceSpec(new int[] {464}, Sampling.GREEDY, 2, new int[] {EOS}));
            assertThat(st.step()).hasSize(2).allMatch(e -> e instanceof Token);
            st.release(b);
            st.release(c);
        }
        assertThat(f.attempts).as("the first lane on attempt 0's executors, both later ones on attempt 1's")
                .containsExactly(0, 1, 1);
    }

    @Test
    void nonReusableLanesServeOneSequenceEach() {
        TestLanes.Factory f = new TestLanes.Factory(0, Set.of(), 0, false);
        try (LaneStepper st = new LaneStepper(f, 1)) {
            for (int r = 0; r < 3; r++) {
                Sequence q = st.admit(new SequenceSpec(new int[] {464}, Sampling.GREEDY, 2, new int[] {EOS}));
                while (((Token) st.step().get(0)).finish() == null) {
                    // decode
                }
                st.release(q);
            }
        }
        assertThat(f.opened.get()).isEqualTo(3);
        assertThat(f.closed.get()).isEqualTo(3);
    }
}
