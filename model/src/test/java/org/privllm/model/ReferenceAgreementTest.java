package org.privllm.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;

/** The engine against the independent float64 reference, on real and generated checkpoints. */
class ReferenceAgreementTest {

    static int[] randomIds(long seed, int n, int vocab) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = r.nextInt(vocab);
        }
        return ids;
    }

    static double maxAbs(Matrix a, double[][] b) {
        double m = 0;
        for (int i = 0; i < a.rows; i++) {
            for (int j = 0; j < a.cols; j++) {
                m = Math.max(m, Math.abs(a.get(i, j) - b[i][j]));
            }
        }
        return m;
    }

    static void checkAgainstReference(Gpt2Model m, int[] ids, double tol, int greedySteps) {
        ReferenceGpt2 ref = new ReferenceGpt2(m.config(), m.weights());
        Matrix logits = new Generator(m.plainForward()).logits(ids);
        assertThat(maxAbs(logits, ref.logits(ids))).as("max |logit - ref| on " + m.dir()).isLessThan(tol);
        var res = new Generator(m.plainForward()).generate(List.of(ids), greedySteps, Sampling.GREEDY, -1, null);
        assertThat(res.outputIds().get(0)).isEqualTo(ref.greedy(ids, greedySteps));
    }

    @Test
    void realFixturesMatchFloat64Reference() {
        List<Path> dirs = Fixtures.checkpoints();
        assumeTrue(!dirs.isEmpty(), "shared fixtures absent");
        for (Path d : dirs) {
            Gpt2Model m = Gpt2Model.load(d);
            checkAgainstReference(m, randomIds(1, 12, m.config().vocab()), 1e-4, 6);
        }
    }

    @Test
    void generatedCheckpointMatchesFloat64Reference(@TempDir Path dir) {
        Fixture.write(dir, new Gpt2Config(3, 48, 4, 4 * 48, 300, 64, 1e-5f, Activation.GELU_NEW, true, true, 299), 5);
        Gpt2Model m = Gpt2Model.load(dir);
        checkAgainstReference(m, randomIds(2, 9, 300), 1e-4, 8);
    }
}
