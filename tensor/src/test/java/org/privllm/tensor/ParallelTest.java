package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.testing.Cases;

class ParallelTest {

    static Stream<Arguments> everyIndexRunsExactlyOnceInGrainAlignedChunks() {
        return Cases.of(50, 1_000, d -> new Object[] {d.intIn(0, 500), d.intIn(0, 40)});
    }

    @ParameterizedTest(name = "[{index}] n={0}, grain={1}")
    @MethodSource
    void everyIndexRunsExactlyOnceInGrainAlignedChunks(int n, int grain) {
        AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(1, n));
        Parallel.forRange(n, grain, (from, to) -> {
            assertThat(from % Math.max(1, grain)).isZero();
            for (int i = from; i < to; i++) {
                seen.incrementAndGet(i);
            }
        });
        for (int i = 0; i < n; i++) {
            assertThat(seen.get(i)).as("index %d", i).isEqualTo(1);
        }
    }

    /**
     * Guided chunks: the first takes a share of the range, every later one a share of what was left, so the range
     * ends in chunks of one grain and no thread waits long for another's last chunk.
     */
    @Test
    void chunksShrinkToOneGrainAtTheEnd() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Parallel.threads() > 1, "one thread runs every range inline");
        java.util.List<int[]> chunks = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        Parallel.forRange(1000, 3, (from, to) -> chunks.add(new int[] {from, to}));
        chunks.sort(java.util.Comparator.comparingInt(c -> c[0]));
        assertThat(chunks.getFirst()[1]).isLessThan(1000).isGreaterThanOrEqualTo(1000 / (2 * Parallel.threads()));
        for (int i = 1; i < chunks.size(); i++) {
            assertThat(chunks.get(i)[1] - chunks.get(i)[0]).as("chunk %d", i)
                    .isLessThanOrEqualTo(chunks.get(i - 1)[1] - chunks.get(i - 1)[0]);
        }
        assertThat(chunks.getLast()[1] - chunks.getLast()[0]).isLessThanOrEqualTo(3);
    }

    @Test
    void failuresInAnyChunkReachTheCaller() {
        assertThatThrownBy(() -> Parallel.forRange(1000, 1, (from, to) -> {
            if (to == 1000) {
                throw new IllegalStateException("boom in last chunk");
            }
        })).isInstanceOf(IllegalStateException.class).hasMessage("boom in last chunk");
        // the pool still works afterwards
        int[] sum = new int[1];
        Parallel.forRange(10, 100, (from, to) -> sum[0] += to - from);
        assertThat(sum[0]).isEqualTo(10);
    }

    @Test
    void nestedCallsComplete() {
        AtomicIntegerArray seen = new AtomicIntegerArray(64 * 64);
        Parallel.forRange(64, 1, (from, to) -> {
            for (int i = from; i < to; i++) {
                int row = i;
                Parallel.forRange(64, 1, (f, t) -> {
                    for (int j = f; j < t; j++) {
                        seen.incrementAndGet(row * 64 + j);
                    }
                });
            }
        });
        for (int i = 0; i < 64 * 64; i++) {
            assertThat(seen.get(i)).isEqualTo(1);
        }
    }

    @Test
    void memoryBandwidthIsPositiveAndFinite() {
        double gbps = MemoryBandwidth.measureReadGbps(1 << 20, 1_000_000L);
        assertThat(gbps).isPositive().isLessThan(1e5);
    }
}
