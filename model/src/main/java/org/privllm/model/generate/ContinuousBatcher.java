package org.privllm.model.generate;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.privllm.model.ForwardPass;
import org.privllm.model.RaggedBatch;
import org.privllm.model.SequenceCache;
import org.privllm.tensor.Matrix;

/**
 * Continuous batching over a ragged {@link ForwardPass} ({@link org.privllm.model.TransformerOps#ragged()}):
 * sequences {@link #join} at any step boundary and leave when their owner stops stepping them, each with its own
 * KV cache ({@link SequenceCache}) and its own {@link Sampler}. One {@link #step} runs the given members in one
 * ragged forward pass — a new member's whole prompt and one row for every running one, every linear product one
 * call over all their rows — then one LM head call over each member's last row, and samples each member's next
 * token.
 *
 * <p>Each member gets exactly the tokens {@link Generator} gives its prompt alone (a batch of one, same
 * sampling, same stop ids and limits): the rows of a step are computed row by row wherever the placement's
 * products are (bit for bit in plaintext: the kernels' rows do not depend on each other), the attention core
 * runs per sequence over that sequence's cache only, positions are each cache's own length, and a sampler
 * draws once per token of its own sequence.
 *
 * <p>A failed step changes nothing a retry would see: the forward pass advances the caches only after every
 * layer ran, and if the LM head fails after that, its input rows are kept and the next {@link #step} of the same
 * members (or some of them) only redoes the head. So after an executor failure the caller swaps in a fresh
 * placement ({@link #forward(ForwardPass)}) and steps again: no replay, the caches are the trusted domain's.
 *
 * <p>Not thread-safe: one caller steps it.
 */
public final class ContinuousBatcher {
    private ForwardPass forward;
    private final int vocab;
    private final int positions;
    private LogitsObserver observer;
    /** Final hidden rows of the last forward pass whose LM head has not succeeded yet, per member. */
    private final Map<Member, float[]> pending = new IdentityHashMap<>();

    public ContinuousBatcher(ForwardPass forward) {
        this.vocab = forward.vocab();
        this.positions = forward.positions();
        forward(forward);
    }

    /**
     * Swaps the placement (a fresh session after an executor failure). The members' caches are kept: they are
     * in this process, and any ragged placement of the same model runs them.
     */
    public void forward(ForwardPass f) {
        if (f.vocab() != vocab || f.positions() != positions) {
            throw new IllegalArgumentException("a forward pass of another model");
        }
        if (!f.ops().ragged()) {
            throw new IllegalArgumentException(f.ops().getClass().getSimpleName()
                    + " does not run ragged batches (its KV cache is not in this process)");
        }
        this.forward = f;
    }

    public ForwardPass forward() {
        return forward;
    }

    /** Receives every step's logits before sampling: row {@code i} is {@code members.get(i)}'s. */
    @FunctionalInterface
    public interface LogitsObserver {
        void accept(List<Member> members, Matrix logits);
    }

    /** Hands every step's logits to {@code o} (null: none), for checks against another run. */
    public void observeLogits(LogitsObserver o) {
        this.observer = o;
    }

    public int vocab() {
        return vocab;
    }

    public int positions() {
        return positions;
    }

    /** Why a member's generation ended. */
    public enum Finish {
        /** One of its stop ids was generated (and is its last token). */
        STOP,
        /** Its new-token limit, or the model's context, was reached. */
        LENGTH
    }

    /** One sequence of the batch: its prompt, limits, sampler, cache and tokens so far. */
    public static final class Member {
        private final int[] prompt;
        private final int steps;
        private final int[] stopIds;
        private final Sampler sampler;
        private final List<Integer> produced = new ArrayList<>();
        private SequenceCache cache;
        private Finish finish;
        private boolean left;

        private Member(int[] prompt, Sampling sampling, int steps, int[] stopIds) {
            this.prompt = prompt.clone();
            this.steps = steps;
            this.stopIds = stopIds.clone();
            this.sampler = new Sampler(sampling);
        }

        /** Prompt tokens. */
        public int promptLength() {
            return prompt.length;
        }

        /** New tokens it may produce at most (its limit, or what the context leaves). */
        public int steps() {
            return steps;
        }

        /** Whether its prompt has been run (its first token produced). */
        public boolean started() {
            return !produced.isEmpty();
        }

        /** Rows it runs in its next step: the whole prompt, then one. */
        public int nextRows() {
            return started() ? 1 : prompt.length;
        }

        /** Tokens produced so far (the last may be a stop id). */
        public int[] produced() {
            return produced.stream().mapToInt(Integer::intValue).toArray();
        }

        /** Null while it goes on. */
        public Finish finish() {
            return finish;
        }

        @Override
        public String toString() {
            return "Member[" + prompt.length + " prompt tokens, " + produced.size() + " produced]"; // never the ids
        }
    }

    /**
     * A new member; its prompt runs at its first {@link #step}. Checks it as {@link Generator} does (one-line
     * {@link IllegalArgumentException}s): a non-empty prompt of ids in the vocabulary leaving room for at least
     * one new token, a context the engine computes exactly.
     *
     * @param maxNewTokens at least 1; the model's context may allow fewer
     * @param stopIds      ids that end it (may be empty)
     */
    public Member join(int[] prompt, Sampling sampling, int maxNewTokens, int[] stopIds) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        if (prompt.length >= positions) {
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens leaves no room to generate (context "
                    + positions + ")");
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        }
        for (int id : prompt) {
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " is out of range [0, " + vocab + ")");
            }
        }
        int steps = Math.min(maxNewTokens, positions - prompt.length);
        forward.checkContext(prompt.length + steps);
        return new Member(prompt, sampling, steps, stopIds);
    }

    /**
     * One step for {@code members} (distinct, none finished): one ragged forward pass — each unstarted member's
     * prompt, one row (its last token) for each started one — then the LM head over each member's last row and
     * one token sampled per member, which is recorded and returned in member order. A member whose token is a stop
     * id or its last gets its {@link Member#finish()}.
     *
     * <p>On an exception no member has a new token and a retry of the same members (or of some of them, e.g. when
     * others gave up) computes exactly what this call would have.
     */
    public int[] step(List<Member> members) {
        if (members.isEmpty()) {
            return new int[0];
        }
        for (Member m : members) {
            if (m.finish != null || m.left) {
                throw new IllegalArgumentException("a finished member, or one that left, cannot step");
            }
        }
        float[][] last = pendingRows(members);
        if (last == null) {
            last = run(members);
        }
        Matrix h = new Matrix(members.size(), last[0].length);
        for (int i = 0; i < last.length; i++) {
            System.arraycopy(last[i], 0, h.data, i * h.cols, h.cols);
        }
        Matrix logits = forward.ops().lmHead(h);
        pending.clear();
        if (observer != null) {
            observer.accept(List.copyOf(members), logits);
        }
        int[] tokens = new int[members.size()];
        for (int i = 0; i < tokens.length; i++) {
            Member m = members.get(i);
            int tok = m.sampler.next(logits.data, i * vocab, vocab);
            m.produced.add(tok);
            tokens[i] = tok;
            if (contains(m.stopIds, tok)) {
                m.finish = Finish.STOP;
            } else if (m.produced.size() >= m.steps) {
                m.finish = Finish.LENGTH;
            }
            if (m.finish != null) {
                m.cache = null; // its rows leave the batch
            }
        }
        return tokens;
    }

    /**
     * A member leaves the batch: its cache is dropped (its slots are freed) and any kept row of a failed step is
     * forgotten. Stepping it again is an error.
     */
    public void leave(Member m) {
        pending.remove(m);
        m.cache = null;
        m.left = true;
    }

    /** The kept hidden rows when every member has some (a retry after the LM head failed), else null. */
    private float[][] pendingRows(List<Member> members) {
        if (pending.isEmpty() || members.stream().noneMatch(pending::containsKey)) {
            pending.clear(); // nothing kept, or kept for members the caller has given up on
            return null;
        }
        float[][] rows = new float[members.size()][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = pending.get(members.get(i));
            if (rows[i] == null) {
                throw new IllegalStateException("the last step's LM head has not run yet: step its members first");
            }
        }
        return rows;
    }

    /** The ragged forward pass; keeps each member's last hidden row until its token is sampled. */
    private float[][] run(List<Member> members) {
        List<SequenceCache> caches = new ArrayList<>(members.size());
        int[] counts = new int[members.size()];
        int rows = 0;
        for (int i = 0; i < counts.length; i++) {
            Member m = members.get(i);
            if (m.cache == null) {
                m.cache = forward.ops().openSequence(m.prompt.length + m.steps);
            }
            caches.add(m.cache);
            counts[i] = m.nextRows();
            rows += counts[i];
        }
        int[] ids = new int[rows];
        for (int i = 0, r = 0; i < counts.length; i++) {
            Member m = members.get(i);
            if (m.started()) {
                ids[r++] = m.produced.get(m.produced.size() - 1);
            } else {
                System.arraycopy(m.prompt, 0, ids, r, m.prompt.length);
                r += m.prompt.length;
            }
        }
        RaggedBatch batch = new RaggedBatch(caches, counts);
        Matrix h = forward.step(batch, ids);
        int[] lastRows = batch.lastRows();
        float[][] last = new float[counts.length][];
        for (int i = 0; i < counts.length; i++) {
            last[i] = java.util.Arrays.copyOfRange(h.data, lastRows[i] * h.cols, (lastRows[i] + 1) * h.cols);
            pending.put(members.get(i), last[i]);
        }
        return last;
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
