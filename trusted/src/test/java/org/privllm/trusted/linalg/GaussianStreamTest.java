package org.privllm.trusted.linalg;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.privllm.tensor.Matrix;

class GaussianStreamTest {

    @Test
    void aSeededStreamReplaysAndDifferentSeedsDiffer() {
        Matrix a = new GaussianStream(new Random(5)).gaussian(7, 13, 1);
        Matrix b = new GaussianStream(new Random(5)).gaussian(7, 13, 1);
        Matrix c = new GaussianStream(new Random(6)).gaussian(7, 13, 1);
        // Same words, same formula; LOG/SIN/COS may differ in the last ulp between interpreted and compiled code.
        for (int i = 0; i < a.data.length; i++) {
            assertThat(a.data[i]).isCloseTo(b.data[i], org.assertj.core.data.Offset.offset(1e-5f * (1 + Math.abs(a.data[i]))));
        }
        assertThat(Arrays.equals(a.data, c.data)).isFalse();
    }

    @Test
    void successiveDrawsNeverRepeatAndHaveTheRequestedSpread() {
        GaussianStream noise = new GaussianStream(new Random(9));
        Matrix first = noise.gaussian(3, 5, 0.5);   // odd size: one spare value is dropped, never reused
        Matrix second = noise.gaussian(3, 5, 0.5);
        assertThat(Arrays.equals(first.data, second.data)).isFalse();
        Matrix big = noise.gaussian(300, 1001, 0.5); // several keystream chunks
        double s2 = 0;
        for (float v : big.data) {
            s2 += v * v;
        }
        assertThat(s2 / big.data.length).isBetween(0.245, 0.255);
        assertThat(big.data[big.data.length - 1]).isNotZero();
    }
}
