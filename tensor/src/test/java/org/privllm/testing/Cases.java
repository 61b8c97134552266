package org.privllm.testing;

import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;

/**
 * Deterministic random cases for a {@code @ParameterizedTest} with a {@code @MethodSource}: case {@code i}
 * draws its parameters from {@code new SplittableRandom(baseSeed + i)}, so every run tests the same cases
 * and a failing one is named by its index and parameters. ({@code java.util.Random} is not used: its first
 * draws from adjacent seeds are nearly equal.) The other modules' tests get it through the tensor module's
 * test-jar.
 */
public final class Cases {
    private Cases() {}

    /** {@code tries} cases; case {@code i} (display index {@code i + 1}) is drawn from {@code new SplittableRandom(baseSeed + i)}. */
    public static Stream<Arguments> of(int tries, long baseSeed, Function<Draw, Object[]> draw) {
        return IntStream.range(0, tries).mapToObj(i -> Arguments.of(draw.apply(new Draw(i, new SplittableRandom(baseSeed + i)))));
    }

    /** The parameter draws of case {@code index}; range ends and special longs come up more often than uniformly. */
    public record Draw(int index, SplittableRandom rnd) {
        /** In {@code [min, max]}; each end with probability 1/8. */
        public int intIn(int min, int max) {
            int r = rnd.nextInt(8);
            return r == 0 ? min : r == 1 ? max : min + rnd.nextInt(max - min + 1);
        }

        public boolean bool() {
            return rnd.nextBoolean();
        }

        /** Any long; 0, ±1, MIN_VALUE or MAX_VALUE with probability 1/8. */
        public long anyLong() {
            long[] edges = {0, 1, -1, Long.MIN_VALUE, Long.MAX_VALUE};
            return rnd.nextInt(8) == 0 ? edges[rnd.nextInt(edges.length)] : rnd.nextLong();
        }

        @SafeVarargs
        public final <T> T oneOf(T... choices) {
            return choices[rnd.nextInt(choices.length)];
        }

        public <E extends Enum<E>> E oneOf(Class<E> type) {
            return oneOf(type.getEnumConstants());
        }
    }
}
