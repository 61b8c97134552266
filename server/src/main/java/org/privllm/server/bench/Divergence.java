package org.privllm.server.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.privllm.model.ForwardPass;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampler;
import org.privllm.model.generate.Sampling;
import org.privllm.tensor.Matrix;

/**
 * Whether a generated token sequence is one the model could have produced, checked against the plaintext model's
 * logits (public weights, in the client's own process): at every step, the smallest logit perturbation that would
 * make the model pick the token that was generated there. The protected levels reproduce plaintext's logits only to
 * about {@link #TIE_EPSILON} (fresh pads cancel to float64 rounding), so two runs of one request may part at a step
 * whose two best choices are closer than that — a near tie — and nowhere else. A sequence with a token the model
 * could not have picked within that bound (a token emitted twice or skipped, a stale cache, another request's token)
 * is a bug, whatever the other run did.
 *
 * <p>Greedy step: {@code ε = (max − logit[token]) / 2} (both logits moved by ε; a tie is a top-2 gap of at most
 * {@code 2·TIE_EPSILON = 1e-4}). Sampled step: the draw {@code u} of that step (replayed from the seed) must fall in the
 * token's interval of the cumulative distribution (ids in order); a logit perturbation of at most ε moves a boundary
 * at {@code c} by at most {@code (e^{2ε/T} − 1)·min(c, 1 − c)}, so a draw {@code d} outside it needs at least
 * {@code ε = T/2 · ln(1 + d / min(c, 1 − c))}. That worst case (every logit below the boundary up, every one above
 * down) is loose when the distribution is flat, so a sampled token also counts as a near tie only when its interval
 * borders the plaintext pick's: rounding noise moves a boundary by far less than an interval is wide (measured at the
 * 124M shape: 4e-9 against intervals of 2e-5), so it can swap neighbours and nothing else.
 */
final class Divergence {
    /**
     * Logit perturbation that counts as the levels' rounding: a greedy top-2 gap up to 1e-4 (RaggedBlindedTest's bound
     * on the levels' logits; measured at the 124M shape, strong's are within 5e-6 of plaintext's).
     */
    static final double TIE_EPSILON = 5e-5;

    private Divergence() {}

    /**
     * One step where the sequence's token is not plaintext's pick.
     *
     * @param epsilon the smallest logit perturbation that makes the model pick {@code token} (infinite: none does)
     */
    record Step(int index, int token, int plaintext, double epsilon) {}

    /**
     * A sequence checked against the plaintext model.
     *
     * @param offPlain   its steps whose token is not plaintext's pick
     * @param maxEpsilon the largest of their epsilons (0 when every token is plaintext's)
     * @param ending     null when it ends as the model's limits say (a stop id last and only there, or the length
     *                   limit), else what is wrong with its end
     */
    record Trajectory(List<Step> offPlain, double maxEpsilon, String ending) {
        /** Explained by the model within {@link #TIE_EPSILON} at every step, ending right. */
        boolean explained() {
            return ending == null && maxEpsilon <= TIE_EPSILON;
        }
    }

    /** What one request needs for the check. */
    record Request(int[] prompt, Sampling sampling, int maxTokens, int[] stopIds) {}

    /**
     * Checks {@code ids} (the tokens generated for {@code r}) step by step against the plaintext logits.
     *
     * @param complete whether the sequence ended on its own (else it was cut by an error: its end is not checked)
     */
    static Trajectory check(ForwardPass plain, Request r, int[] ids, boolean complete) {
        int limit = Math.min(r.maxTokens(), plain.positions() - r.prompt().length);
        if (ids.length == 0) {
            return new Trajectory(List.of(), 0, complete ? "no token" : null);
        }
        if (ids.length > limit) {
            return new Trajectory(List.of(), Double.POSITIVE_INFINITY, ids.length + " tokens, beyond the limit of " + limit);
        }
        Matrix logits = logits(plain, r.prompt(), ids);
        double[] u = r.sampling().greedy() ? null : Sampler.uniforms(r.sampling(), ids.length);
        List<Step> off = new ArrayList<>();
        double max = 0;
        int vocab = logits.cols;
        for (int j = 0; j < ids.length; j++) {
            int row = (r.prompt().length - 1 + j) * vocab;
            int pick;
            double eps;
            if (u == null) {
                pick = Sampler.argmax(logits.data, row, vocab);
                eps = (logits.data[row + pick] - (double) logits.data[row + ids[j]]) / 2;
            } else {
                double[] p = Sampler.probabilities(r.sampling(), logits.data, row, vocab);
                pick = Sampler.pick(p, u[j]);
                eps = sampledEpsilon(p, ids[j], u[j], r.sampling().temperature());
            }
            if (ids[j] != pick) {
                off.add(new Step(j, ids[j], pick, eps));
                max = Math.max(max, eps);
            }
        }
        String ending = null;
        for (int j = 0; j < ids.length - 1 && ending == null; j++) {
            if (contains(r.stopIds(), ids[j])) {
                ending = "a stop id at token " + j + " of " + ids.length + " and tokens after it";
            }
        }
        if (ending == null && complete && !contains(r.stopIds(), ids[ids.length - 1]) && ids.length != limit) {
            ending = "ends after " + ids.length + " tokens without a stop id, limit " + limit;
        }
        return new Trajectory(List.copyOf(off), max, ending);
    }

    /** The plaintext logits of every step: one pass over the prompt and every generated token but the last. */
    static Matrix logits(ForwardPass plain, int[] prompt, int[] ids) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + ids.length - 1);
        System.arraycopy(ids, 0, seq, prompt.length, ids.length - 1);
        return new Generator(plain).logits(seq);
    }

    /** The gap between the two largest logits of row {@code row}. */
    static double topTwoGap(Matrix logits, int row) {
        int vocab = logits.cols;
        int off = row * vocab;
        double first = Double.NEGATIVE_INFINITY, second = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            double v = logits.data[off + i];
            if (v > first) {
                second = first;
                first = v;
            } else if (v > second) {
                second = v;
            }
        }
        return first - second;
    }

    /**
     * The least logit perturbation that lets draw {@code u} pick {@code token} from {@code p} (summed in id order,
     * as {@link Sampler#pick}); 0 when it already does; infinite for a token outside the distribution or whose
     * interval does not border the one {@code u} falls in.
     */
    static double sampledEpsilon(double[] p, int token, double u, double temperature) {
        if (p[token] <= 0) {
            return Double.POSITIVE_INFINITY;
        }
        int pick = Sampler.pick(p, u);
        for (int i = Math.min(pick, token) + 1; i < Math.max(pick, token); i++) {
            if (p[i] > 0) {
                return Double.POSITIVE_INFINITY; // not a neighbour: more than a boundary's rounding
            }
        }
        double below = 0;
        for (int i = 0; i < token; i++) {
            below += p[i];
        }
        double above = below + p[token];
        double boundary;
        double d;
        if (u < below) {
            boundary = below;
            d = below - u;
        } else if (u >= above) {
            boundary = above;
            d = u - above;
        } else {
            return 0;
        }
        double room = Math.min(boundary, 1 - boundary);
        return room <= 0 ? Double.POSITIVE_INFINITY : temperature / 2 * Math.log1p(d / room);
    }

    private static boolean contains(int[] ids, int id) {
        for (int i : ids) {
            if (i == id) {
                return true;
            }
        }
        return false;
    }
}
