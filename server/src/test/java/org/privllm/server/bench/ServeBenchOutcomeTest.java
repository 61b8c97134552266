package org.privllm.server.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
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

    @Test
    void percentiles() {
        double[] v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        assertThat(ServeBench.pct(v, 0.5)).isEqualTo(5);
        assertThat(ServeBench.pct(v, 0.99)).isEqualTo(10);
        assertThat(ServeBench.pct(new double[0], 0.5)).isNaN();
    }
}
