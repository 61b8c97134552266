package org.privllm.trusted.obf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;
import org.privllm.tensor.Matrix;
import org.privllm.trusted.linalg.Dense;
import org.privllm.trusted.verify.ErrorStats;
import org.privllm.untrusted.InProcessExecutor;
import org.privllm.untrusted.Transcript;

class PadPoolTest {

    @Test
    void aPadCanBeClaimedOnlyOnce() {
        Random rnd = new Random(1);
        try (InProcessExecutor ex = new InProcessExecutor();
             TrustedSession s = new TrustedSession(Channel.float32(ex), ObfuscationConfig.defaults().withPadPool(3).withSeed(1))) {
            ObfuscatedLinear layer = s.register(Fixtures.layer(rnd, 6, 5, true, 0));
            PadPool pool = (PadPool) s.pads();
            Pad pad = pool.next(layer, 2);
            Pad.Claimed first = pad.claim();
            assertThat(first.pad().rows).isEqualTo(2);
            assertThat(pad.used()).isTrue();
            assertThatThrownBy(pad::claim).isInstanceOf(IllegalStateException.class)
                    .hasMessage("pad already used: a pad blinds exactly one input");
        }
    }

    @Test
    void everyCallGetsItsOwnPadAndThePoolRefillsAhead() throws Exception {
        Random rnd = new Random(2);
        Transcript transcript = new Transcript();
        try (InProcessExecutor ex = new InProcessExecutor(transcript);
             TrustedSession s = new TrustedSession(Channel.float32(ex), ObfuscationConfig.defaults().withPadPool(4).withSeed(2))) {
            PlainLinear plain = Fixtures.layer(rnd, 8, 6, true, 2);
            ObfuscatedLinear layer = s.register(plain);
            PadPool pool = (PadPool) s.pads();
            pool.prefill(layer, 3);
            assertThat(pool.ready(layer, 3)).isEqualTo(4);
            DMatrixRMaj x = Fixtures.input(rnd, 3, 8);
            int calls = 12;
            for (int i = 0; i < calls; i++) {
                assertThat(ErrorStats.compare(plain.forward(x), s.forward(layer, x)).within()).isTrue();
                Thread.sleep(20); // give the background filler a chance: it must keep up with this pace
            }
            assertThat(pool.issued()).isEqualTo(calls);
            assertThat(pool.misses()).isLessThan(calls); // refilled ahead of time, not on demand
            assertThat(pool.produced()).isGreaterThanOrEqualTo(calls);
            // the same plaintext went out 12 times: every blinded input and every compensation differ
            Set<List<Float>> inputs = new HashSet<>(), compensations = new HashSet<>();
            int linearCalls = 0;
            for (Transcript.Entry e : transcript.entries()) {
                if (e.kind() == Transcript.Kind.LINEAR) {
                    linearCalls++;
                    inputs.add(values(e.tensor("x")));
                    compensations.add(values(e.tensor("compensation")));
                }
            }
            assertThat(linearCalls).isEqualTo(calls);
            assertThat(inputs).hasSize(calls);
            assertThat(compensations).hasSize(calls);
        }
    }

    @Test
    void anEmptyPoolComputesAFreshPadInsteadOfReusing() {
        Random rnd = new Random(3);
        try (InProcessExecutor ex = new InProcessExecutor();
             TrustedSession s = new TrustedSession(Channel.float32(ex), ObfuscationConfig.defaults().withPadPool(1).withSeed(3))) {
            ObfuscatedLinear layer = s.register(Fixtures.layer(rnd, 5, 5, false, 0));
            PadPool pool = (PadPool) s.pads();
            List<Pad> pads = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                pads.add(pool.next(layer, 1));
            }
            assertThat(new HashSet<>(pads.stream().map(p -> values(p.claim().pad())).toList())).hasSize(6);
        }
    }

    @Test
    void withoutBackgroundRefillPadsAreMadeOnlyByReplenishUpToWhatEachKeyUsed() {
        Random rnd = new Random(5);
        try (InProcessExecutor ex = new InProcessExecutor();
             TrustedSession s = new TrustedSession(Channel.float32(ex), ObfuscationConfig.defaults().withPadPool(3).withSeed(5))) {
            PlainLinear plain = Fixtures.layer(rnd, 6, 4, true, 0);
            ObfuscatedLinear layer = s.register(plain);
            PadPool pool = (PadPool) s.pads();
            pool.backgroundRefill(false);
            DMatrixRMaj x = Fixtures.input(rnd, 2, 6), y = Fixtures.input(rnd, 5, 6);
            for (int i = 0; i < 4; i++) {
                assertThat(ErrorStats.compare(plain.forward(x), s.forward(layer, x)).within()).isTrue();
            }
            assertThat(ErrorStats.compare(plain.forward(y), s.forward(layer, y)).within()).isTrue();
            assertThat(pool.misses()).isEqualTo(5);
            assertThat(pool.produced()).isEqualTo(5); // nothing was made in the background
            assertThat(pool.replenish()).isEqualTo(3 + 1); // 2-row key: used 4, capped at 3; 5-row key: used 1
            assertThat(pool.ready(layer, 2)).isEqualTo(3);
            assertThat(pool.ready(layer, 5)).isEqualTo(1);
            for (int i = 0; i < 3; i++) {
                assertThat(ErrorStats.compare(plain.forward(x), s.forward(layer, x)).within()).isTrue();
            }
            assertThat(pool.misses()).isEqualTo(5);
            assertThat(pool.ready(layer, 2)).isZero();
        }
    }

    @Test
    void aPoolRefusesPerCallMasks() {
        assertThatThrownBy(() -> ObfuscationConfig.defaults().withScope(MaskScope.PER_CALL).withPadPool(2))
                .hasMessage("a pad pool needs per-session masks: compensations are bound to N_out");
        try (InProcessExecutor ex = new InProcessExecutor();
             TrustedSession s = new TrustedSession(Channel.float32(ex),
                     ObfuscationConfig.defaults().withScope(MaskScope.PER_CALL).withSeed(4));
             PadPool pool = new PadPool(2, 1, new Random(4))) {
            ObfuscatedLinear template = s.register(Fixtures.layer(new Random(4), 4, 4, false, 0));
            assertThatThrownBy(() -> pool.next(template, 1))
                    .hasMessage("a pad pool needs per-session masks: compensations are bound to N_out");
        }
    }

    private static List<Float> values(Matrix m) {
        List<Float> v = new ArrayList<>();
        for (float f : m.data) {
            v.add(f);
        }
        return v;
    }
}
