package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Profile}: off by default and then free of side effects; on, it times regions by kind, a nested one once. */
class ProfileTest {
    @AfterEach
    void off() {
        Profile.enable(false);
        Profile.reset();
    }

    @Test
    void offTimesNothing() {
        Profile.reset();
        assertThat(Profile.start()).isZero();
        Kernels.matmul(Naive.random(new Random(1), 3, 8), PackedWeight.pack(Naive.random(new Random(2), 8, 5)), null);
        assertThat(Profile.snapshot()).isEmpty();
    }

    @Test
    void onTimesEachKindAndANestedRegionOnlyAsTheOuterOne() {
        Profile.reset();
        Profile.enable(true);
        Random rnd = new Random(3);
        Kernels.matmul(Naive.random(rnd, 1, 64), PackedWeight.pack(Naive.random(rnd, 64, 40)), null);
        Kernels.matmul(Naive.random(rnd, 9, 64), PackedWeight.pack(Naive.random(rnd, 64, 40)), null);
        assertThat(Profile.calls(Profile.Kind.GEMV)).isEqualTo(1);
        assertThat(Profile.calls(Profile.Kind.GEMM)).isEqualTo(1);
        long outer = Profile.start();
        Norms.rmsNorm(Naive.random(rnd, 2, 16), new float[16], 1e-5f); // inside the outer region: not its own
        Profile.stop(Profile.Kind.ATTENTION, outer);
        assertThat(Profile.calls(Profile.Kind.NORM)).isZero();
        assertThat(Profile.calls(Profile.Kind.ATTENTION)).isEqualTo(1);
        Norms.rmsNorm(Naive.random(rnd, 2, 16), new float[16], 1e-5f);
        assertThat(Profile.calls(Profile.Kind.NORM)).isEqualTo(1);
        assertThat(Profile.snapshot()).containsKeys("gemv", "gemm", "attention", "norm");
    }
}
