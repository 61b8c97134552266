package org.privllm.trusted.privacy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
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
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;
import org.privllm.testing.Cases;
import org.privllm.trusted.integrity.IntegrityException;
import org.privllm.trusted.integrity.TestExecutors;

/**
 * Every blinded linear call against the plaintext product, on random shapes, levels, pad ratios, pools,
 * biases and adapters; and what each executor receives: never the input, only noise of the pad's size.
 */
class BlindedSessionTest {

    /**
     * Records every linear64 input an executor receives (what it could keep) and the thread that made the call;
     * says it is {@linkplain Executor#remote remote} when told to.
     */
    static final class Spy implements Executor {
        final Executor inner;
        final boolean remote;
        final List<DoubleMatrix> received = Collections.synchronizedList(new ArrayList<>());
        final List<LinearWeights> uploads = Collections.synchronizedList(new ArrayList<>());
        final List<Thread> callers = Collections.synchronizedList(new ArrayList<>());

        Spy(Executor inner) {
            this(inner, false);
        }

        Spy(Executor inner, boolean remote) {
            this.inner = inner;
            this.remote = remote;
        }

        @Override
        public boolean remote() { return remote; }

        public SessionId openSession() { return inner.openSession(); }
        public void closeSession(SessionId s) { inner.closeSession(s); }
        public WeightId uploadLinear(SessionId s, LinearWeights w) { uploads.add(w); return inner.uploadLinear(s, w); }
        public Matrix linear(SessionId s, WeightId w, Matrix x, Matrix c) { return inner.linear(s, w, x, c); }
        public DoubleMatrix linear64(SessionId s, WeightId w, DoubleMatrix x) {
            received.add(x.copy());
            callers.add(Thread.currentThread());
            return inner.linear64(s, w, x);
        }
        public void startCache(SessionId s, int l, int c, int w, int[] p) { inner.startCache(s, l, c, w, p); }
        public Matrix attention(SessionId s, AttentionCall c) { return inner.attention(s, c); }
        public void advanceCache(SessionId s, int t) { inner.advanceCache(s, t); }
        public void close() { inner.close(); }
    }

    static Matrix random(Random r, int rows, int cols, double std) {
        Matrix m = new Matrix(rows, cols);
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] = (float) (r.nextGaussian() * std);
        }
        return m;
    }

    static PlacedLinear layer(Random r, int in, int out, boolean bias, int rank) {
        PackedWeight w = PackedWeight.pack(random(r, in, out, 1 / Math.sqrt(in)));
        float[] b = bias ? random(r, 1, out, 0.5).data : null;
        PackedWeight a = rank == 0 ? null : PackedWeight.pack(random(r, in, rank, 1 / Math.sqrt(in)));
        PackedWeight bb = rank == 0 ? null : PackedWeight.pack(random(r, rank, out, 1 / Math.sqrt(rank)));
        return new PlacedLinear("test", w, b, a, bb, null, 0);
    }

    static Stream<Arguments> blindedProductEqualsPlaintext() {
        return Cases.of(40, 7_100, d -> new Object[] {d.oneOf(PrivacyLevel.STRONG, PrivacyLevel.TWO_PARTY),
                d.intIn(1, 9), d.intIn(1, 80), d.intIn(1, 80), d.bool(), d.oneOf(0, 0, 3), d.oneOf(1.0, 1024.0, 0x1p20, 0x1p26),
                d.oneOf(0, 2), d.bool(), d.oneOf(1, 1, 4, 16), d.anyLong()});
    }

    @ParameterizedTest(name = "[{index}] {0} n={1} in={2} out={3} bias={4} rank={5} rho={6} pool={7} remote={8} bucket={9}")
    @MethodSource
    void blindedProductEqualsPlaintext(PrivacyLevel level, int n, int in, int out, boolean bias, int rank, double rho,
                                       int pool, boolean remote, int bucket, long seed) {
        if (level == PrivacyLevel.TWO_PARTY) {
            pool = 0;
        }
        Random r = new Random(seed);
        PlacedLinear local = layer(r, in, out, bias, rank);
        List<Spy> parties = new ArrayList<>();
        for (int p = 0; p < level.parties(); p++) {
            parties.add(new Spy(TestExecutors.honest(), remote));
        }
        BlindingConfig c = BlindingConfig.of(level).withRho(rho).withPadPool(pool).withRowBucket(bucket).withSeed(seed);
        TrustedWork work = new TrustedWork();
        try (BlindedSession s = new BlindedSession(List.copyOf(parties), c, work)) {
            PlacedLinear l = s.bind(local, 1.0);
            assertThat(l.padStd()).isEqualTo(rho);
            for (int call = 0; call < 3; call++) {
                Matrix x = random(r, n, in, 1.0);
                Matrix y = s.forward(l, x), ref = local.local(x);
                for (int i = 0; i < y.data.length; i++) {
                    // float32 rounding of the result plus float64 cancellation of the pad (~ρ·2⁻⁵³·√in)
                    double tol = 2e-6 * (1 + Math.abs(ref.data[i])) + 1e-15 * rho * Math.sqrt(in);
                    assertThat((double) y.data[i]).as("element %d of call %d", i, call).isCloseTo(ref.data[i],
                            org.assertj.core.data.Offset.offset(tol));
                }
                // what the executors saw: blinded rows, never the input
                for (Spy spy : parties) {
                    DoubleMatrix seen = spy.received.get(spy.received.size() - 1);
                    assertThat(seen.rows).as("rows in buckets of " + bucket).isEqualTo((n + bucket - 1) / bucket * bucket);
                    if (rho >= 1024 && in >= 16) { // as uncorrelated with the input as independent noise (6σ)
                        assertThat(maxCorrelation(seen, x)).isLessThan(6 / Math.sqrt(in));
                    }
                }
            }
        }
        if (level == PrivacyLevel.STRONG) { // a remote executor's call overlaps T·W on another thread, without a pool
            boolean overlapped = remote && pool == 0;
            assertThat(parties.get(0).callers).allSatisfy(t -> assertThat(t == Thread.currentThread()).isNotEqualTo(overlapped));
        }
        for (Spy spy : parties) {
            assertThat(spy.uploads).allSatisfy(w -> {
                assertThat(w.bias()).as("bias stays trusted").isNull();
                assertThat(w.loraA()).as("adapter stays trusted").isNull();
            });
        }
        assertThat(work.total()).isPositive();
    }

    /** Largest |cosine| between a received row and the matching input row (minus its pad scale). */
    static double maxCorrelation(DoubleMatrix seen, Matrix x) {
        double worst = 0;
        for (int i = 0; i < x.rows; i++) {
            double dot = 0, a = 0, b = 0;
            for (int j = 0; j < x.cols; j++) {
                double s = seen.get(i, j), v = x.get(i, j);
                dot += s * v;
                a += s * s;
                b += v * v;
            }
            worst = Math.max(worst, Math.abs(dot) / Math.sqrt(a * b + 1e-300));
        }
        return worst;
    }

    /** The pads have the calibrated size and are fresh every call (the same input is never blinded alike). */
    @Test
    void padsAreFreshAndOfTheStatedSize() {
        Random r = new Random(3);
        int n = 16, in = 256;
        PlacedLinear local = layer(r, in, 32, false, 0);
        Spy spy = new Spy(TestExecutors.honest());
        try (BlindedSession s = new BlindedSession(List.of(spy), BlindingConfig.of(PrivacyLevel.STRONG).withRho(1e6), new TrustedWork())) {
            PlacedLinear l = s.bind(local, 0.5);
            Matrix x = random(r, n, in, 0.5);
            s.forward(l, x);
            s.forward(l, x);
        }
        DoubleMatrix a = spy.received.get(0), b = spy.received.get(1);
        double sq = 0, diff = 0;
        for (int i = 0; i < a.data.length; i++) {
            sq += a.data[i] * a.data[i];
            diff += Math.abs(a.data[i] - b.data[i]);
        }
        double std = Math.sqrt(sq / a.data.length);
        assertThat(std / 5e5).isBetween(0.95, 1.05); // ρ · calibrated RMS
        assertThat(diff / a.data.length).isGreaterThan(1e5); // two blindings of one input share nothing
    }

    /** Two-party: the second party's share is independent of the input (it is −R), and A + B = X. */
    @Test
    void twoPartySharesSumToTheInput() {
        Random r = new Random(4);
        PlacedLinear local = layer(r, 40, 24, true, 0);
        Spy a = new Spy(TestExecutors.honest()), b = new Spy(TestExecutors.honest());
        Matrix x = random(r, 5, 40, 1.0);
        try (BlindedSession s = new BlindedSession(List.of(a, b), BlindingConfig.of(PrivacyLevel.TWO_PARTY).withSeed(8), new TrustedWork())) {
            s.forward(s.bind(local, 1.0), x);
        }
        DoubleMatrix sa = a.received.get(0), sb = b.received.get(0);
        for (int i = 0; i < x.data.length; i++) {
            assertThat(sa.data[i] + sb.data[i]).isCloseTo(x.data[i], org.assertj.core.data.Offset.offset(1e-9 * Math.abs(sb.data[i]) + 1e-9));
        }
    }

    @Test
    void aLyingExecutorIsCaughtAtTheSignalsScale() {
        Random r = new Random(5);
        PlacedLinear local = layer(r, 64, 48, true, 0);
        // the tamperer shifts one element by a millionth of its padded value: about the signal's own size
        Executor liar = new org.privllm.trusted.integrity.VerifyingExecutor(TestExecutors.tampering(1.0, 5));
        try (BlindedSession s = new BlindedSession(List.of(liar), BlindingConfig.of(PrivacyLevel.STRONG), new TrustedWork())) {
            PlacedLinear l = s.bind(local, 1.0);
            assertThatThrownBy(() -> s.forward(l, random(r, 3, 64, 1.0))).isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("linear64").hasMessageNotContaining("e-");
        }
    }

    /**
     * Strong with a remote executor: {@code T·W} computed while the call is in flight gives the same bits as
     * computed before it (same seed: same pads, same messages, same results).
     */
    @Test
    void overlappingTheCallWithThePadProductChangesNothing() {
        Random r = new Random(6);
        PlacedLinear local = layer(r, 96, 40, true, 2);
        Matrix x = random(r, 7, 96, 1.0);
        List<Matrix> outputs = new ArrayList<>();
        List<Spy> spies = new ArrayList<>();
        for (boolean remote : new boolean[] {false, true}) {
            Spy spy = new Spy(TestExecutors.honest(), remote);
            try (BlindedSession s = new BlindedSession(List.of(spy), BlindingConfig.of(PrivacyLevel.STRONG).withSeed(11),
                    new TrustedWork())) {
                PlacedLinear l = s.bind(local, 1.0);
                outputs.add(s.forward(l, x));
                outputs.add(s.forward(l, x));
            }
            spies.add(spy);
        }
        assertThat(outputs.get(2).data).containsExactly(outputs.get(0).data);
        assertThat(outputs.get(3).data).containsExactly(outputs.get(1).data);
        for (int i = 0; i < 2; i++) {
            assertThat(spies.get(1).received.get(i).data).containsExactly(spies.get(0).received.get(i).data);
        }
        assertThat(spies.get(1).callers).doesNotContain(Thread.currentThread());
    }

    /** A lie from a remote executor, whose call ran on the helper thread, still ends the call with the check's error. */
    @Test
    void aLyingRemoteExecutorIsCaughtToo() {
        Random r = new Random(5);
        PlacedLinear local = layer(r, 64, 48, true, 0);
        Executor liar = new org.privllm.trusted.integrity.VerifyingExecutor(new Spy(TestExecutors.tampering(1.0, 5), true));
        assertThat(liar.remote()).isTrue();
        try (BlindedSession s = new BlindedSession(List.of(liar), BlindingConfig.of(PrivacyLevel.STRONG), new TrustedWork())) {
            PlacedLinear l = s.bind(local, 1.0);
            assertThatThrownBy(() -> s.forward(l, random(r, 3, 64, 1.0))).isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("linear64");
        }
    }

    @Test
    void theLevelsPartyCountIsEnforced() {
        assertThatThrownBy(() -> new BlindedSession(List.of(TestExecutors.honest()), BlindingConfig.of(PrivacyLevel.TWO_PARTY),
                new TrustedWork())).hasMessageContaining("needs 2 executor");
        assertThatThrownBy(() -> BlindingConfig.of(PrivacyLevel.TWO_PARTY).withPadPool(4)).hasMessageContaining("strong only");
        assertThatThrownBy(() -> BlindingConfig.of(PrivacyLevel.STRONG).withRho(0)).hasMessageContaining("positive");
    }
}
