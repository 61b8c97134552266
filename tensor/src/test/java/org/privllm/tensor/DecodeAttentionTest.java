package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.testing.Cases;

/**
 * Batched decode's attention: a sequence gets bit for bit the same rows in a batch (its heads' work split over
 * threads at other places) as alone, at contexts long enough to be split.
 */
class DecodeAttentionTest {

    static Stream<Arguments> batchedDecodeEqualsEachSequenceAlone() {
        return Cases.of(20, 22_000, d -> new Object[] {d.intIn(2, 6), d.intIn(1, 4), d.intIn(1, 4), d.oneOf(16, 33, 64),
                d.intIn(40, 260), d.anyLong()});
    }

    /**
     * A left-padded batch decoding one row per sequence at contexts long enough to split the (sequence, head)
     * items over threads at other places than one sequence alone does: bit for bit the same rows.
     */
    @ParameterizedTest(name = "[{index}] batch={0}, kvHeads={1}, group={2}, dh={3}, prompt={4}, seed={5}")
    @MethodSource
    void batchedDecodeEqualsEachSequenceAlone(int batch, int kvHeads, int group, int dh, int prompt, long seed) {
        Random rnd = new Random(seed);
        int heads = kvHeads * group, kvWidth = kvHeads * dh, cols = (heads + 2 * kvHeads) * dh;
        float scale = (float) (1 / Math.sqrt(dh));
        int[] pad = new int[batch];
        KvCache[] alone = new KvCache[batch];
        for (int b = 0; b < batch; b++) {
            pad[b] = rnd.nextInt(prompt / 2);
            alone[b] = new KvCache(1, 1, prompt + 3, kvWidth, new int[] {pad[b]});
        }
        KvCache all = new KvCache(1, batch, prompt + 3, kvWidth, pad);
        for (int step = 0; step < 3; step++) {
            int t = step == 0 ? prompt : 1;
            Matrix qkv = Naive.random(rnd, batch * t, cols);
            Matrix out = Attention.attend(all, 0, qkv, t, heads, kvHeads, dh, scale);
            for (int b = 0; b < batch; b++) {
                Matrix own = Attention.attend(alone[b], 0, qkv.rows(b * t, (b + 1) * t), t, heads, kvHeads, dh, scale);
                for (int i = step == 0 ? pad[b] : 0; i < t; i++) { // real rows (padding rows' outputs are never used)
                    assertThat(out.row(b * t + i)).as("step %d seq %d row %d", step, b, i).isEqualTo(own.row(i));
                }
                alone[b].advance(t);
            }
            all.advance(t);
        }
    }
}
