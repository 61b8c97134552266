package org.privllm.server.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.DecoderModel;
import org.privllm.model.Fixture;
import org.privllm.model.ForwardPass;
import org.privllm.model.Gpt2Config;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampler;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;

/**
 * The bench's check of a differing answer against the plaintext model: plaintext's own tokens are explained at
 * every step; a token emitted twice, a token skipped, another request's tokens, a missing stop or a runner-up far from
 * the best are not; a runner-up is explained exactly when its gap is within the tie bound.
 */
class DivergenceTest {
    private static ForwardPass model(Path dir) {
        Fixture.write(dir.resolve("m"), Gpt2Config.of(2, 24, 3, 90, 48), 7);
        return DecoderModel.load(dir.resolve("m")).plainForward();
    }

    private static int[] generate(ForwardPass f, Divergence.Request r) {
        int[] out = new Generator(f).generate(List.of(r.prompt()), r.maxTokens(), r.sampling(), r.stopIds(), null)
                .outputIds().get(0);
        return Arrays.copyOfRange(out, r.prompt().length, out.length);
    }

    @Test
    void plaintextsOwnTokensAreExplainedAndTamperedOnesAreNot(@TempDir Path dir) {
        ForwardPass f = model(dir);
        for (Sampling s : List.of(Sampling.GREEDY, Sampling.sample(0.8f, 0, 1f, 42L))) {
            Divergence.Request r = new Divergence.Request(new int[] {3, 14, 15, 9, 26}, s, 12, new int[0]);
            int[] ids = generate(f, r);
            assertThat(ids).hasSize(12);
            Divergence.Trajectory t = Divergence.check(f, r, ids, true);
            assertThat(t.offPlain()).as("%s", s).isEmpty();
            assertThat(t.explained()).isTrue();

            int j = 0;
            while (j + 1 < ids.length && ids[j] == ids[j + 1]) {
                j++;
            }
            assertThat(j + 1).as("not one token repeated: %s", Arrays.toString(ids)).isLessThan(ids.length);
            int[] twice = Arrays.copyOf(ids, ids.length);
            System.arraycopy(ids, j, twice, j + 1, ids.length - j - 1); // token j emitted twice, the last one lost
            assertThat(Divergence.check(f, r, twice, true).explained()).as("a token emitted twice (%s)", s).isFalse();

            int[] skipped = Arrays.copyOf(ids, ids.length);
            System.arraycopy(ids, j + 1, skipped, j, ids.length - j - 1); // token j skipped
            assertThat(Divergence.check(f, r, skipped, true).explained()).as("a token skipped (%s)", s).isFalse();

            Divergence.Request other = new Divergence.Request(new int[] {77, 1, 60}, s, 12, new int[0]);
            assertThat(Divergence.check(f, r, generate(f, other), true).explained()).as("another request's tokens (%s)", s)
                    .isFalse();

            Divergence.Trajectory shortOne = Divergence.check(f, r, Arrays.copyOf(ids, 7), true);
            assertThat(shortOne.ending()).as("ended early without a stop id").isNotNull();
            assertThat(Divergence.check(f, r, Arrays.copyOf(ids, 7), false).explained()).as("cut by an error").isTrue();
        }
    }

    @Test
    void aStopIdEndsTheSequenceAndNothingMayFollowIt(@TempDir Path dir) {
        ForwardPass f = model(dir);
        Divergence.Request r = new Divergence.Request(new int[] {3, 14, 15}, Sampling.GREEDY, 8, new int[0]);
        int[] ids = generate(f, r);
        // the same tokens with the 4th as a stop id: fine if it is the last, not if tokens follow
        Divergence.Request stopping = new Divergence.Request(r.prompt(), r.sampling(), 8, new int[] {ids[3]});
        if (Arrays.stream(ids, 0, 3).noneMatch(i -> i == ids[3])) {
            assertThat(Divergence.check(f, stopping, Arrays.copyOf(ids, 4), true).explained()).isTrue();
            assertThat(Divergence.check(f, stopping, ids, true).ending()).contains("stop id");
        }
    }

    @Test
    void aGreedyRunnerUpIsExplainedExactlyWhenItsGapIsWithinTheTieBound(@TempDir Path dir) {
        ForwardPass f = model(dir);
        Divergence.Request r = new Divergence.Request(new int[] {5, 6, 7, 8}, Sampling.GREEDY, 6, new int[0]);
        int[] ids = generate(f, r);
        Matrix logits = Divergence.logits(f, r.prompt(), ids);
        int row = r.prompt().length - 1 + 2;
        int best = Sampler.argmax(logits.data, row * logits.cols, logits.cols);
        int second = -1;
        for (int i = 0; i < logits.cols; i++) {
            if (i != best && (second < 0 || logits.data[row * logits.cols + i] > logits.data[row * logits.cols + second])) {
                second = i;
            }
        }
        int[] forked = Arrays.copyOf(ids, 3);
        forked[2] = second;
        Divergence.Trajectory t = Divergence.check(f, r, forked, false);
        double gap = Divergence.topTwoGap(logits, row);
        assertThat(t.offPlain()).singleElement().satisfies(s -> {
            assertThat(s.index()).isEqualTo(2);
            assertThat(s.plaintext()).isEqualTo(best);
            assertThat(s.epsilon()).isEqualTo(gap / 2, org.assertj.core.data.Offset.offset(1e-9));
        });
        assertThat(t.explained()).isEqualTo(gap / 2 <= Divergence.TIE_EPSILON);
    }

    @Test
    void aSampledDrawNeedsAPerturbationProportionalToItsDistanceFromTheBoundary() {
        double[] p = {0.25, 0.5, 0.25};
        assertThat(Divergence.sampledEpsilon(p, 1, 0.3, 0.8)).isZero();
        // u = 0.2499 picks token 0; token 1's lower boundary 0.25 is 1e-4 away: ε = T/2·ln(1 + 1e-4/0.25)
        assertThat(Divergence.sampledEpsilon(p, 1, 0.2499, 0.8)).isCloseTo(0.4 * Math.log1p(1e-4 / 0.25),
                org.assertj.core.data.Offset.offset(1e-12));
        assertThat(Divergence.sampledEpsilon(p, 2, 0.1, 0.8)).as("not a neighbour of the pick").isInfinite();
        assertThat(Divergence.sampledEpsilon(new double[] {0.25, 0, 0.75}, 2, 0.2, 0.8)).as("a neighbour past an empty id")
                .isCloseTo(0.4 * Math.log1p(0.05 / 0.25), org.assertj.core.data.Offset.offset(1e-12));
        assertThat(Divergence.sampledEpsilon(new double[] {1, 0}, 1, 0.5, 0.8)).isInfinite();
    }
}
