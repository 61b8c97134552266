package org.privllm.lab.leakage;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.privllm.model.Gpt2Config;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.untrusted.Transcript;
import org.privllm.untrusted.Transcript.Entry;
import org.privllm.untrusted.Transcript.Kind;

/**
 * What the executor saw of one generation session, sorted into what the attacks use. Everything here
 * is taken from the executor's transcript (or, for the plaintext reference strategies, is exactly
 * what such an executor would receive): no mask, pad or plaintext of a masked run is in it.
 *
 * @param visibleTokens       the token ids, when the executor receives them (plain strategy), else null
 * @param prefillInputs       per layer, the attention input rows of the prefill call ({@code n×d})
 * @param prefillCompensation per layer, the pad compensation sent with it (null in mask mode)
 * @param qkv                 per layer, the fused c_attn weight the executor holds
 * @param head                the LM head weight the executor holds ({@code d×V})
 * @param headCalls           every LM head call's input and compensation, in order (one per generated token)
 */
public record ExecutorView(int[] visibleTokens, List<Matrix> prefillInputs, List<Matrix> prefillCompensation,
                           List<Weight> qkv, Weight head, List<Call> headCalls) {

    /** A stored linear layer: {@code W̃}, {@code b̃} and the masked adapter pair (null when absent). */
    public record Weight(Matrix weight, float[] bias, Matrix loraA, Matrix loraB) {
        /** What the executor computes from {@code x}: {@code x·W̃ + (x·Ã)·B̃ + b̃ + C}. */
        public Matrix apply(Matrix x, Matrix compensation) {
            Matrix y = Kernels.matmul(x, weight);
            if (bias != null) {
                for (int r = 0; r < y.rows; r++) {
                    Kernels.axpy(1f, bias, 0, y.data, r * y.cols, y.cols);
                }
            }
            if (loraA != null) {
                Kernels.addInPlace(y, Kernels.matmul(Kernels.matmul(x, loraA), loraB));
            }
            if (compensation != null) {
                Kernels.addInPlace(y, compensation);
            }
            return y;
        }
    }

    /** One linear call: masked input and (pad mode) compensation. */
    public record Call(Matrix x, Matrix compensation) {}

    /** Prompt length: public to the executor (rows of the prefill call). */
    public int promptLength() {
        return prefillInputs.get(0).rows;
    }

    /** Generated tokens: one LM head call per token. */
    public int rounds() {
        return headCalls.size();
    }

    /**
     * Sorts one generation's transcript (a batch of one): the session that holds the KV cache is the
     * generation; its first attention call per layer is the prefill; the head is the upload with
     * {@code V} columns.
     */
    public static ExecutorView fromTranscript(List<Entry> entries, Gpt2Config config) {
        List<ExecutorView> views = sequences(entries, config);
        if (views.size() != 1) {
            throw new IllegalArgumentException("the generation is a batch of " + views.size() + " sequences, not one");
        }
        return views.get(0);
    }

    /**
     * One view per sequence of a (possibly batched) generation's transcript: the sequence's prefill rows
     * after its left padding (public: the cache start says it) and its row of every head call.
     */
    public static List<ExecutorView> sequences(List<Entry> entries, Gpt2Config config) {
        Entry start = entries.stream().filter(e -> e.kind() == Kind.START_CACHE).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("transcript holds no generation (no cache started)"));
        String session = start.session().value();
        Map<Long, Weight> uploads = new HashMap<>();
        long headId = -1;
        Matrix[] x = new Matrix[config.layers()], comp = new Matrix[config.layers()];
        Weight[] qkv = new Weight[config.layers()];
        List<Call> head = new ArrayList<>();
        for (Entry e : entries) {
            if (!e.session().value().equals(session)) {
                continue; // per-call MLP sessions: not used by these attacks
            }
            switch (e.kind()) {
                case UPLOAD_LINEAR -> {
                    Matrix b = e.tensor("bias");
                    Weight w = new Weight(e.tensor("weight"), b == null ? null : b.data, e.tensor("loraA"), e.tensor("loraB"));
                    uploads.put(e.weight(), w);
                    if (w.weight().cols == config.vocab() && w.weight().rows == config.embd()) {
                        headId = e.weight();
                    }
                }
                case ATTENTION -> {
                    if (e.layer() >= 0 && e.layer() < x.length && x[e.layer()] == null) {
                        x[e.layer()] = e.tensor("x");
                        comp[e.layer()] = e.tensor("compensation");
                        qkv[e.layer()] = uploads.get(e.weight());
                    }
                }
                case LINEAR -> {
                    if (e.weight() == headId) {
                        head.add(new Call(e.tensor("x"), e.tensor("compensation")));
                    }
                }
                default -> { }
            }
        }
        if (headId < 0 || x[0] == null) {
            throw new IllegalArgumentException("transcript lacks the LM head or the prefill");
        }
        for (int l = 0; l < x.length; l++) {
            if (x[l] == null || qkv[l] == null) {
                throw new IllegalArgumentException("transcript lacks layer " + l + "'s prefill or its c_attn upload");
            }
        }
        // START_CACHE args: layers, capacity, width, then one left padding per sequence
        List<Number> args = start.args();
        int batch = args.size() - 3;
        if (batch < 1 || x[0].rows % batch != 0) {
            throw new IllegalArgumentException("cache start and prefill disagree on the batch");
        }
        int t = x[0].rows / batch;
        for (int l = 1; l < x.length; l++) {
            if (x[l].rows != x[0].rows) {
                throw new IllegalArgumentException("layer " + l + "'s prefill has " + x[l].rows + " rows, layer 0's " + x[0].rows);
            }
        }
        for (Call c : head) {
            if (c.x().rows != batch) {
                throw new IllegalArgumentException("an LM-head call has " + c.x().rows + " rows for a batch of " + batch);
            }
        }
        List<ExecutorView> views = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int pad = args.get(3 + b).intValue();
            if (pad < 0 || pad >= t) {
                throw new IllegalArgumentException("left padding " + pad + " outside the prefill of " + t + " tokens");
            }
            int from = b * t + pad, to = (b + 1) * t;
            List<Matrix> xs = new ArrayList<>(), cs = new ArrayList<>();
            for (int l = 0; l < x.length; l++) {
                xs.add(batch == 1 ? x[l] : x[l].rows(from, to));
                cs.add(comp[l] == null || batch == 1 ? comp[l] : comp[l].rows(from, to));
            }
            List<Call> calls = new ArrayList<>();
            for (Call c : head) {
                calls.add(batch == 1 ? c : new Call(c.x().rows(b, b + 1),
                        c.compensation() == null ? null : c.compensation().rows(b, b + 1)));
            }
            views.add(new ExecutorView(null, List.copyOf(xs), java.util.Collections.unmodifiableList(cs), List.of(qkv),
                    uploads.get(headId), calls));
        }
        return views;
    }
}
