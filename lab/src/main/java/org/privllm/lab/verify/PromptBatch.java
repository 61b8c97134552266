package org.privllm.lab.verify;

import java.util.Random;
import org.privllm.model.DecoderConfig;
import org.privllm.model.Gpt2Config;

/**
 * A left-padded batch of prompts laid out as {@link org.privllm.model.generate.Generator} lays it out:
 * sequence {@code b} has {@code leftPad[b]} padding slots (filled with its first token at position 0),
 * then its tokens at positions 0, 1, ...
 *
 * @param ids       {@code batch·length} token ids, sequence-major
 * @param positions matching position ids
 * @param leftPad   padding slots per sequence
 * @param length    slots per sequence
 */
public record PromptBatch(int[] ids, int[] positions, int[] leftPad, int length) {

    public int batch() {
        return leftPad.length;
    }

    /**
     * Random prompts: sequence {@code b} has {@code length − min(b, length − 1)} real tokens, so a batch of
     * two or more exercises left padding.
     */
    public static PromptBatch random(Gpt2Config c, int batch, int length, Random rnd) {
        return random(c.vocab(), c.positions(), batch, length, rnd);
    }

    /** As {@link #random(Gpt2Config, int, int, Random)} for any decoder. */
    public static PromptBatch random(DecoderConfig c, int batch, int length, Random rnd) {
        return random(c.vocab(), c.positions(), batch, length, rnd);
    }

    private static PromptBatch random(int vocab, int positions, int batch, int length, Random rnd) {
        if (batch <= 0 || length <= 0 || length > positions) {
            throw new IllegalArgumentException("prompt batch " + batch + " x " + length + " does not fit n_positions "
                    + positions);
        }
        int[] ids = new int[batch * length], pos = new int[batch * length], pad = new int[batch];
        for (int b = 0; b < batch; b++) {
            pad[b] = Math.min(b, length - 1);
            int first = rnd.nextInt(vocab);
            for (int j = 0; j < length; j++) {
                ids[b * length + j] = j <= pad[b] ? first : rnd.nextInt(vocab);
                pos[b * length + j] = Math.max(0, j - pad[b]);
            }
        }
        return new PromptBatch(ids, pos, pad, length);
    }

    /** Position ids of decode step {@code s} (0-based) after this prompt, one per sequence. */
    public int[] decodePositions(int s) {
        int[] p = new int[batch()];
        for (int b = 0; b < p.length; b++) {
            p[b] = length + s - leftPad[b];
        }
        return p;
    }
}
