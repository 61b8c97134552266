package org.privllm.server.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.privllm.model.generate.Sampling;
import org.privllm.server.Fixtures;
import org.privllm.server.bench.ServeBench.Answer;
import org.privllm.server.bench.ServeBench.Outcome;

/** How the bench judges a concurrent answer against the same request alone. */
class ServeBenchOutcomeTest {
    private static Answer text(String t) {
        return new Answer(t, null, 0.01, List.of(), 3, 0.1, 3, false);
    }

    private static Answer error(String partial, boolean clean) {
        return new Answer(partial, "executor failed", 0.01, List.of(), 0, 0.1, 1, clean);
    }

    @Test
    void judged() {
        Answer alone = text(" the quick brown fox");
        assertThat(ServeBench.outcome(text(" the quick brown fox"), alone)).isEqualTo(Outcome.OK);
        assertThat(ServeBench.outcome(text(" the quick brown cat"), alone)).isEqualTo(Outcome.WRONG);
        assertThat(ServeBench.outcome(text(" the quick"), alone)).as("a short answer without an error").isEqualTo(Outcome.WRONG);
        assertThat(ServeBench.outcome(error("", true), alone)).isEqualTo(Outcome.CLEAN_ERROR);
        assertThat(ServeBench.outcome(error(" the quick", true), alone)).as("a right prefix, then the error object")
                .isEqualTo(Outcome.CLEAN_ERROR);
        assertThat(ServeBench.outcome(error(" a slow", true), alone)).as("wrong text before the error object")
                .isEqualTo(Outcome.WRONG);
        assertThat(ServeBench.outcome(error(" the quick", false), alone)).as("cut without an error object")
                .isEqualTo(Outcome.BROKEN);
        assertThat(ServeBench.outcome(Answer.failed("I/O: connection refused"), alone)).isEqualTo(Outcome.BROKEN);
    }

    private static Answer ids(int[] ids) {
        return new Answer(Fixtures.text(ids), null, 0.01, List.of(), ids.length, 0.1, ids.length, false,
                Arrays.stream(ids).boxed().toList());
    }

    /**
     * A differing answer described for --diff-out and checked against the plaintext model: a token emitted twice is
     * no near tie, and the report's part of the check holds token indices and epsilons, never ids or text.
     */
    @Test
    void aTokenEmittedTwiceIsNoNearTie() {
        int[] prompt = {464, 2068, 7586, 21831};
        ServeBench.Req q = new ServeBench.Req(5, prompt, 10, 77L);
        int[] right = Fixtures.generate(prompt, 10, ServeBench.sampling(q), null);
        assertThat(right[2]).isNotEqualTo(right[3]);
        int[] twice = Arrays.copyOf(right, right.length);
        System.arraycopy(right, 2, twice, 3, right.length - 3); // token 2 twice
        Map<String, Object> d = new ServeBench.Differences(Fixtures.model()).describe(q, ids(twice), ids(right));
        assertThat(d).containsEntry("request", 5).containsEntry("first_differing_token", 3).containsEntry("near_tie", false)
                .containsKeys("prompt_ids", "served", "alone", "first_differing_char", "steps_off_plaintext");
        @SuppressWarnings("unchecked")
        Map<String, Object> check = (Map<String, Object>) d.get("check");
        assertThat(check).containsEntry("texts_match_ids", true).containsEntry("first_differing_token", 3);
        @SuppressWarnings("unchecked")
        Map<String, Object> served = (Map<String, Object>) check.get("served");
        assertThat(served.get("tokens_off_plaintext")).asList().contains(3);
        assertThat((Double) served.get("max_epsilon")).isGreaterThan(Divergence.TIE_EPSILON);
        @SuppressWarnings("unchecked")
        Map<String, Object> alone = (Map<String, Object>) check.get("alone");
        assertThat(alone).containsEntry("tokens_off_plaintext", List.of()).containsEntry("ends_right", true);
        assertThat(check.toString()).doesNotContain(Fixtures.text(right));
    }

    @Test
    void percentiles() {
        double[] v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        assertThat(ServeBench.pct(v, 0.5)).isEqualTo(5);
        assertThat(ServeBench.pct(v, 0.99)).isEqualTo(10);
        assertThat(ServeBench.pct(new double[0], 0.5)).isNaN();
    }
}
