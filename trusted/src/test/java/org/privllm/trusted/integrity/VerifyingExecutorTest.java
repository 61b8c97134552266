package org.privllm.trusted.integrity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.Matrix;
import org.privllm.testing.Cases;

class VerifyingExecutorTest {
    static Matrix random(Random r, int rows, int cols, double scale) {
        Matrix m = new Matrix(rows, cols);
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] = (float) (r.nextGaussian() * scale);
        }
        return m;
    }

    /**
     * One small transformer-shaped session: per layer c_attn (qkv), c_proj (role ATTENTION_PROJECTION)
     * and an MLP weight with a LoRA adapter; prefill then decode; compensation on some calls.
     * Returns every result, in order.
     */
    static java.util.List<Matrix> session(Executor ex, Random r, int width, int heads, int in, int steps) {
        java.util.List<Matrix> results = new java.util.ArrayList<>();
        SessionId s = ex.openSession();
        int layers = 2, batch = 2, prompt = 3;
        WeightId[] qkv = new WeightId[layers], proj = new WeightId[layers], mlp = new WeightId[layers];
        for (int l = 0; l < layers; l++) {
            qkv[l] = ex.uploadLinear(s, new LinearWeights(random(r, width, 3 * width, 1 / Math.sqrt(width)),
                    random(r, 1, 3 * width, 1).data));
            LinearWeights p = new LinearWeights(random(r, width, width, 1 / Math.sqrt(width)), random(r, 1, width, 1).data);
            proj[l] = ex.uploadLinear(s, p); // the verifier infers the role: not out = 3·in → checksum columns
            mlp[l] = ex.uploadLinear(s, new LinearWeights(random(r, in, width, 1 / Math.sqrt(in)), random(r, 1, width, 1).data,
                    random(r, in, 2, 0.1), random(r, 2, width, 1)));
        }
        ex.startCache(s, layers, prompt + steps, width, new int[] {0, 1});
        for (int step = 0; step <= steps; step++) {
            int t = step == 0 ? prompt : 1;
            for (int l = 0; l < layers; l++) {
                Matrix c = step % 2 == 1 ? random(r, batch * t, 3 * width, 1) : null;
                results.add(ex.attention(s, new AttentionCall(l, qkv[l], proj[l], random(r, batch * t, width, 1), c, t,
                        heads, (float) (1 / Math.sqrt(width / (double) heads)))));
                results.add(ex.linear(s, mlp[l], random(r, batch * t, in, 1),
                        step % 2 == 0 ? random(r, batch * t, width, 1) : null));
            }
            ex.advanceCache(s, t);
        }
        ex.closeSession(s);
        return results;
    }

    static Stream<Arguments> anHonestExecutorNeverFailsTheChecks() {
        return Cases.of(12, 9_000, d -> new Object[] {d.intIn(1, 24), d.intIn(1, 4), d.intIn(1, 300), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] headDim={0}, heads={1}, in={2}, seed={3}")
    @MethodSource
    void anHonestExecutorNeverFailsTheChecks(int headDim, int heads, int in, long seed) {
        try (VerifyingExecutor v = new VerifyingExecutor(new ReferenceExecutor(0, seed))) {
            assertThat(session(v, new Random(seed), headDim * heads, heads, in, 2)).isNotEmpty();
        }
    }

    @Test
    void anHonestExecutorPassesAtGpt2Width() {
        try (VerifyingExecutor v = new VerifyingExecutor(new ReferenceExecutor(0, 1))) {
            session(v, new Random(2), 768, 12, 3072, 1);
        }
    }

    @Test
    void verifiedResultsEqualTheUnverifiedOnes() {
        Random r = new Random(4);
        Matrix w = random(r, 40, 30, 0.2), x = random(r, 5, 40, 1), c = random(r, 5, 30, 1);
        float[] b = random(r, 1, 30, 1).data;
        try (ReferenceExecutor plain = new ReferenceExecutor(0, 1);
             VerifyingExecutor v = new VerifyingExecutor(new ReferenceExecutor(0, 1))) {
            SessionId ps = plain.openSession(), vs = v.openSession();
            WeightId pw = plain.uploadLinear(ps, new LinearWeights(w, b));
            WeightId vw = v.uploadLinear(vs, new LinearWeights(w, b), VerifyingExecutor.Role.ATTENTION_PROJECTION);
            assertThat(v.linear(vs, vw, x, c).data).containsExactly(plain.linear(ps, pw, x, c).data);
        }
    }

    /** Every corrupted result is caught, and no honest one is flagged, over many sessions. */
    @Test
    void everyTamperedStepIsDetected() {
        int detected = 0, honest = 0, runs = 300;
        Random r = new Random(11);
        for (int run = 0; run < runs; run++) {
            ReferenceExecutor bad = new ReferenceExecutor(0.3, run);
            VerifyingExecutor v = new VerifyingExecutor(bad);
            try {
                session(v, r, 32, 4, 48, 3);
                honest++;
                assertThat(bad.tampered()).as("run %d passed with tampering", run).isZero();
            } catch (IntegrityException e) {
                detected++;
                assertThat(e.getMessage()).startsWith("integrity check failed: ").doesNotContain("\n");
                // the first corruption aborts the session: exactly one tampered result was delivered
                assertThat(bad.tampered()).as("run %d flagged an honest result", run).isEqualTo(1);
            }
        }
        assertThat(detected).isGreaterThan(runs / 2);
        assertThat(honest).isPositive();
    }

    @Test
    void anAbortedSessionRefusesFurtherCallsAndIsClosedOnTheExecutor() {
        ReferenceExecutor bad = new ReferenceExecutor(1.0, 3);
        VerifyingExecutor v = new VerifyingExecutor(bad);
        Random r = new Random(5);
        SessionId s = v.openSession();
        WeightId w = v.uploadLinear(s, new LinearWeights(random(r, 8, 8, 1), null), VerifyingExecutor.Role.GENERAL);
        assertThatThrownBy(() -> v.linear(s, w, random(r, 2, 8, 1), null)).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("Freivalds");
        assertThatThrownBy(() -> v.linear(s, w, random(r, 2, 8, 1), null)).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("aborted");
    }

    @Test
    void attentionNeedsACheckableProjection() {
        VerifyingExecutor v = new VerifyingExecutor(new ReferenceExecutor(0, 3));
        Random r = new Random(5);
        SessionId s = v.openSession();
        WeightId qkv = v.uploadLinear(s, new LinearWeights(random(r, 8, 24, 1), null));
        WeightId proj = v.uploadLinear(s, new LinearWeights(random(r, 8, 8, 1), null), VerifyingExecutor.Role.GENERAL);
        v.startCache(s, 1, 4, 8, new int[] {0});
        assertThatThrownBy(() -> v.attention(s, new AttentionCall(0, qkv, proj, random(r, 1, 8, 1), null, 1, 2, 0.5f)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("ATTENTION_PROJECTION");
    }
}
