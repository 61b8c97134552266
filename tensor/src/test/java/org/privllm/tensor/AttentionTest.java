package org.privllm.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.privllm.testing.Cases;

class AttentionTest {

    /**
     * Prefill of a left-padded batch, then single-token decode steps, on two layers: each real query row
     * equals a naive double-precision causal softmax attention over the real slots seen so far.
     */
    @ParameterizedTest(name = "[{index}] batch={0}, prompt={1}, steps={2}, heads={3}, dh={4}, seed={5}")
    @MethodSource
    void prefillThenDecodeMatchesNaiveAttention(int batch, int prompt, int steps, int heads, int dh, long seed) {
        Random rnd = new Random(seed);
        int width = heads * dh, layers = 2;
        int[] pad = new int[batch];
        for (int b = 0; b < batch; b++) {
            pad[b] = rnd.nextInt(prompt); // at least one real prompt token per sequence
        }
        KvCache cache = new KvCache(layers, batch, prompt + steps, width, pad);
        float scale = (float) (1 / Math.sqrt(dh));
        // history[layer][b]: every qkv row appended so far, slot by slot
        List<List<List<float[]>>> history = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            history.add(new ArrayList<>());
            for (int b = 0; b < batch; b++) {
                history.get(l).add(new ArrayList<>());
            }
        }
        int t = prompt;
        for (int step = 0; step <= steps; step++, t = 1) {
            int past = cache.length();
            for (int l = 0; l < layers; l++) {
                Matrix qkv = Naive.random(rnd, batch * t, 3 * width);
                Matrix out = Attention.attend(cache, l, qkv, t, heads, scale);
                for (int b = 0; b < batch; b++) {
                    for (int i = 0; i < t; i++) {
                        history.get(l).get(b).add(qkv.row(b * t + i));
                    }
                }
                for (int b = 0; b < batch; b++) {
                    for (int i = 0; i < t; i++) {
                        int slot = past + i;
                        if (slot < pad[b]) {
                            continue; // a padding query: its output is never used
                        }
                        double[] ref = naive(history.get(l).get(b), slot, pad[b], heads, dh, scale);
                        for (int c = 0; c < width; c++) {
                            assertThat((double) out.get(b * t + i, c)).as("layer %d seq %d slot %d col %d", l, b, slot, c)
                                    .isCloseTo(ref[c], org.assertj.core.data.Offset.offset(1e-4));
                        }
                    }
                }
                for (int b = 0; b < batch; b++) {
                    for (int i = 0; i < t; i++) {
                        assertThat(cache.key(l, b, past + i)).containsExactly(qkv.cols(width, 2 * width).row(b * t + i));
                        assertThat(cache.value(l, b, past + i)).containsExactly(qkv.cols(2 * width, 3 * width).row(b * t + i));
                    }
                }
            }
            cache.advance(t);
        }
        assertThat(cache.length()).isEqualTo(prompt + steps);
    }

    static Stream<Arguments> raggedAttentionEqualsEachSequenceAlone() {
        return Cases.of(40, 5_500, d -> new Object[] {d.intIn(1, 6), d.intIn(1, 4), d.intIn(1, 3), d.intIn(1, 9),
                d.anyLong()});
    }

    /**
     * Sequences with their own caches join a ragged call at random steps (their whole prompt as rows, from 1 to 9
     * of them), decode one row per step, and leave at random: every output row, and every cache slot, is bit for
     * bit what the same sequence gets from {@link Attention#attend} on its own cache.
     */
    @ParameterizedTest(name = "[{index}] sequences={0}, kvHeads={1}, group={2}, dh={3}, seed={4}")
    @MethodSource
    void raggedAttentionEqualsEachSequenceAlone(int sequences, int kvHeads, int group, int dh, long seed) {
        Random rnd = new Random(seed);
        int heads = kvHeads * group, layers = 2, cols = (heads + 2 * kvHeads) * dh, kvWidth = kvHeads * dh;
        float scale = (float) (1 / Math.sqrt(dh));
        int[] join = new int[sequences], prompt = new int[sequences], steps = new int[sequences];
        KvCache[] ragged = new KvCache[sequences], alone = new KvCache[sequences];
        for (int s = 0; s < sequences; s++) {
            join[s] = rnd.nextInt(5);
            prompt[s] = 1 + rnd.nextInt(9);
            steps[s] = rnd.nextInt(6);
            ragged[s] = new KvCache(layers, 1, prompt[s] + steps[s], kvWidth, new int[] {0});
            alone[s] = new KvCache(layers, 1, prompt[s] + steps[s], kvWidth, new int[] {0});
        }
        for (int step = 0; step < 12; step++) {
            List<Integer> active = new ArrayList<>();
            for (int s = 0; s < sequences; s++) {
                if (step >= join[s] && step <= join[s] + steps[s]) {
                    active.add(s);
                }
            }
            if (active.isEmpty()) {
                continue;
            }
            KvCache[] caches = new KvCache[active.size()];
            int[] counts = new int[active.size()];
            int rows = 0;
            for (int i = 0; i < active.size(); i++) {
                int s = active.get(i);
                caches[i] = ragged[s];
                counts[i] = step == join[s] ? prompt[s] : 1;
                rows += counts[i];
            }
            for (int l = 0; l < layers; l++) {
                Matrix qkv = Naive.random(rnd, rows, cols);
                Matrix out = Attention.attendRagged(caches, counts, l, qkv, heads, kvHeads, dh, scale);
                for (int i = 0, off = 0; i < active.size(); off += counts[i], i++) {
                    int s = active.get(i);
                    Matrix own = Attention.attend(alone[s], l, qkv.rows(off, off + counts[i]), counts[i], heads, kvHeads,
                            dh, scale);
                    assertThat(out.rows(off, off + counts[i]).data).as("step %d layer %d sequence %d", step, l, s)
                            .isEqualTo(own.data);
                }
            }
            for (int i = 0; i < active.size(); i++) {
                caches[i].advance(counts[i]);
                alone[active.get(i)].advance(counts[i]);
            }
        }
        for (int s = 0; s < sequences; s++) {
            assertThat(ragged[s].length()).isEqualTo(alone[s].length()).isEqualTo(prompt[s] + steps[s]);
            for (int l = 0; l < layers; l++) {
                for (int j = 0; j < ragged[s].length(); j++) {
                    assertThat(ragged[s].key(l, 0, j)).isEqualTo(alone[s].key(l, 0, j));
                    assertThat(ragged[s].value(l, 0, j)).isEqualTo(alone[s].value(l, 0, j));
                }
            }
        }
    }

    @Test
    void raggedAttentionRefusesBatchedCachesAndMiscountedRows() {
        KvCache batched = new KvCache(1, 2, 4, 8, new int[] {0, 0});
        assertThatThrownBy(() -> Attention.attendRagged(new KvCache[] {batched}, new int[] {1}, 0, new Matrix(1, 24), 1, 1,
                8, 1f)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("one-sequence");
        KvCache one = new KvCache(1, 1, 4, 8, new int[] {0});
        assertThatThrownBy(() -> Attention.attendRagged(new KvCache[] {one}, new int[] {2}, 0, new Matrix(3, 24), 1, 1,
                8, 1f)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 ragged rows".replace("3", "2"));
    }

    static Stream<Arguments> prefillThenDecodeMatchesNaiveAttention() {
        return Cases.of(25, 5_000, d -> new Object[] {d.intIn(1, 3), d.intIn(1, 6), d.intIn(0, 4), d.intIn(1, 3),
                d.intIn(1, 11), d.anyLong()});
    }

    /** softmax(scale·q·kᵀ) over slots {@code [pad, slot]}, per head, then times V, in double. */
    private static double[] naive(List<float[]> rows, int slot, int pad, int heads, int dh, float scale) {
        int width = heads * dh;
        double[] out = new double[width];
        float[] q = rows.get(slot);
        for (int h = 0; h < heads; h++) {
            double[] s = new double[slot + 1];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = pad; j <= slot; j++) {
                double d = 0;
                for (int c = 0; c < dh; c++) {
                    d += (double) q[h * dh + c] * rows.get(j)[width + h * dh + c];
                }
                s[j] = d * scale;
                max = Math.max(max, s[j]);
            }
            double sum = 0;
            for (int j = pad; j <= slot; j++) {
                s[j] = Math.exp(s[j] - max);
                sum += s[j];
            }
            for (int j = pad; j <= slot; j++) {
                for (int c = 0; c < dh; c++) {
                    out[h * dh + c] += s[j] / sum * rows.get(j)[2 * width + h * dh + c];
                }
            }
        }
        return out;
    }

    /**
     * Grouped-query attention with a head width unrelated to the model width: prefill of a left-padded
     * batch, then decode steps; every real query row equals a naive double-precision attention in which
     * query head h reads key/value head h / (heads / kvHeads), and the cache holds kvHeads·dh per slot.
     */
    @ParameterizedTest(name = "[{index}] batch={0}, prompt={1}, steps={2}, kvHeads={3}, group={4}, dh={5}, seed={6}")
    @MethodSource
    void groupedQueryAttentionMatchesNaive(int batch, int prompt, int steps, int kvHeads, int group, int dh, long seed) {
        Random rnd = new Random(seed);
        int heads = kvHeads * group, qWidth = heads * dh, kvWidth = kvHeads * dh;
        int[] pad = new int[batch];
        for (int b = 0; b < batch; b++) {
            pad[b] = rnd.nextInt(prompt);
        }
        KvCache cache = new KvCache(1, batch, prompt + steps, kvWidth, pad);
        float scale = (float) (1 / Math.sqrt(dh));
        List<List<float[]>> history = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            history.add(new ArrayList<>());
        }
        int t = prompt;
        for (int step = 0; step <= steps; step++, t = 1) {
            int past = cache.length();
            Matrix qkv = Naive.random(rnd, batch * t, qWidth + 2 * kvWidth);
            Matrix out = Attention.attend(cache, 0, qkv, t, heads, kvHeads, dh, scale);
            assertThat(out.cols).isEqualTo(qWidth);
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < t; i++) {
                    history.get(b).add(qkv.row(b * t + i));
                    assertThat(cache.key(0, b, past + i)).containsExactly(qkv.cols(qWidth, qWidth + kvWidth).row(b * t + i));
                }
            }
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < t; i++) {
                    int slot = past + i;
                    if (slot < pad[b]) {
                        continue;
                    }
                    List<float[]> rows = history.get(b);
                    for (int h = 0; h < heads; h++) {
                        int kv = h / group, kCol = qWidth + kv * dh, vCol = qWidth + kvWidth + kv * dh;
                        double[] s = new double[slot + 1];
                        double max = Double.NEGATIVE_INFINITY, sum = 0;
                        for (int j = pad[b]; j <= slot; j++) {
                            double d = 0;
                            for (int c = 0; c < dh; c++) {
                                d += (double) rows.get(slot)[h * dh + c] * rows.get(j)[kCol + c];
                            }
                            s[j] = d * scale;
                            max = Math.max(max, s[j]);
                        }
                        for (int j = pad[b]; j <= slot; j++) {
                            s[j] = Math.exp(s[j] - max);
                            sum += s[j];
                        }
                        for (int c = 0; c < dh; c++) {
                            double ref = 0;
                            for (int j = pad[b]; j <= slot; j++) {
                                ref += s[j] / sum * rows.get(j)[vCol + c];
                            }
                            assertThat((double) out.get(b * t + i, h * dh + c)).as("seq %d slot %d head %d col %d", b, slot, h, c)
                                    .isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-4));
                        }
                    }
                }
            }
            cache.advance(t);
        }
    }

    static Stream<Arguments> groupedQueryAttentionMatchesNaive() {
        return Cases.of(25, 5_500, d -> new Object[] {d.intIn(1, 3), d.intIn(1, 9), d.intIn(0, 4), d.intIn(1, 3),
                d.intIn(1, 4), d.oneOf(2, 5, 8, 16, 24, 64), d.anyLong()});
    }

    @Test
    void groupedShapesAreChecked() {
        KvCache cache = new KvCache(1, 1, 4, 8, new int[] {0});
        assertThatThrownBy(() -> Attention.attend(cache, 0, new Matrix(1, 32), 1, 3, 2, 4, 1f)).hasMessageContaining("cannot share");
        assertThatThrownBy(() -> Attention.attend(cache, 0, new Matrix(1, 64), 1, 4, 2, 8, 1f)).hasMessageContaining("KV cache width");
        assertThatThrownBy(() -> Attention.attend(cache, 0, new Matrix(1, 31), 1, 4, 2, 4, 1f)).hasMessageContaining("attention input");
        assertThat(Attention.attend(cache, 0, new Matrix(1, 32), 1, 4, 2, 4, 1f).cols).isEqualTo(16);
    }

    @Test
    void paddingNeverLeaksIntoRealRows() {
        // the same real tokens give the same outputs whatever sits in the padding slots
        Random rnd = new Random(7);
        Matrix real = Naive.random(rnd, 3, 12);
        Matrix[] outs = new Matrix[2];
        for (int trial = 0; trial < 2; trial++) {
            KvCache cache = new KvCache(1, 1, 5, 4, new int[] {2});
            Matrix qkv = new Matrix(5, 12);
            Matrix junk = Naive.random(rnd, 2, 12);
            System.arraycopy(junk.data, 0, qkv.data, 0, 24);
            System.arraycopy(real.data, 0, qkv.data, 24, 36);
            outs[trial] = Attention.attend(cache, 0, qkv, 5, 2, 0.5f).rows(2, 5);
        }
        assertThat(outs[0].data).containsExactly(outs[1].data);
    }

    @Test
    void badShapesAndFullCacheAreRejected() {
        KvCache cache = new KvCache(1, 2, 3, 4, new int[] {0, 1});
        assertThatThrownBy(() -> Attention.attend(cache, 0, new Matrix(2, 11), 1, 2, 1f)).hasMessageContaining("attention input");
        assertThatThrownBy(() -> Attention.attend(cache, 0, new Matrix(2, 12), 1, 3, 1f)).hasMessageContaining("not divisible");
        assertThatThrownBy(() -> new KvCache(1, 2, 3, 4, new int[] {0})).hasMessageContaining("leftPad");
        Attention.attend(cache, 0, new Matrix(6, 12), 3, 2, 1f);
        cache.advance(3);
        assertThatThrownBy(() -> Attention.attend(cache, 0, new Matrix(2, 12), 1, 2, 1f)).hasMessageContaining("KV cache full");
    }
}
