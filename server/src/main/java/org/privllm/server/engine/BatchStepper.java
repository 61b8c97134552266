package org.privllm.server.engine;

import java.util.List;
import org.privllm.model.generate.Sampling;

/**
 * The seam between the server's scheduler and an inference engine: sequences join and leave a running batch
 * at step boundaries. The scheduler calls {@link #admit} for new requests, then {@link #step()} repeatedly —
 * each step prefills every sequence admitted since the last one and runs one decode step for every other
 * running sequence, returning one event per sequence — and {@link #release} when a sequence is finished,
 * cancelled or failed (its slot and any per-sequence executor state are freed at once).
 *
 * <p>Every call comes from one scheduler thread; an implementation may run the sequences of a step on other
 * threads. A sequence's tokens must be exactly those {@code privllm generate} gives for the same prompt, sampling
 * (seed included) and limits, whoever else shares its steps.
 *
 * <p>Implementations: {@link RaggedStepper} (plaintext, strong, two-party: every active sequence's rows through one
 * ragged forward pass per step, each sequence with its own trusted KV cache) and {@link LaneStepper} (the seed level,
 * whose sessions cannot be shared between users: one independent forward pass — KV cache and executor session —
 * per slot, stepped side by side).
 */
public interface BatchStepper extends AutoCloseable {

    /** Sequences that can be active at once (the scheduler admits no more). */
    int capacity();

    /** The model's vocabulary size (token ids are {@code [0, vocab)}). */
    int vocab();

    /** The longest sequence (prompt plus new tokens) the model runs. */
    int positions();

    /**
     * Takes a new sequence into a free slot; it is prefilled at the next {@link #step()}. Throws
     * {@link IllegalStateException} when no slot is free and {@link IllegalArgumentException} for a spec the
     * model cannot run (checked before anything is computed).
     */
    Sequence admit(SequenceSpec spec);

    /**
     * One step boundary: prefill for every sequence admitted since the last step (its first token), one decode
     * step for every other active sequence. Returns one event per active sequence. A sequence whose event says
     * it finished or failed stays admitted until {@link #release}d.
     */
    List<StepEvent> step();

    /** Frees a sequence's slot and state (idempotent). */
    void release(Sequence sequence);

    /** Sequences currently admitted. */
    int active();

    /** Closes every slot's resources (executor sessions, connections). */
    @Override
    void close();

    /**
     * What to generate. {@code sampling} must carry a seed when it is not greedy, so that a retry replays the
     * same tokens; {@code stopIds} end the sequence (the stop token is reported, finish {@link Finish#STOP}).
     */
    record SequenceSpec(int[] prompt, Sampling sampling, int maxNewTokens, int[] stopIds) {
        public SequenceSpec {
            prompt = prompt.clone();
            stopIds = stopIds.clone();
            if (!sampling.greedy() && sampling.seed() == null) {
                throw new IllegalArgumentException("sampled sequences need a seed (the scheduler draws one)");
            }
            if (maxNewTokens < 1) {
                throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
            }
        }

        /**
         * The tokens this sequence may generate in a context of {@code positions} (at most {@code maxNewTokens}),
         * after checking its prompt: not empty, leaving room to generate, every id below {@code vocab}.
         */
        public int steps(int vocab, int positions) {
            int len = prompt.length;
            if (len == 0) {
                throw new IllegalArgumentException("empty prompt");
            }
            if (len >= positions) {
                throw new IllegalArgumentException("prompt of " + len + " tokens leaves no room to generate (context "
                        + positions + ")");
            }
            for (int id : prompt) {
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("token id " + id + " is out of range [0, " + vocab + ")");
                }
            }
            return Math.min(maxNewTokens, positions - len);
        }
    }

    /** A handle on an admitted sequence. */
    interface Sequence {
        long id();
    }

    /** Why a sequence ended. */
    enum Finish {
        /** A stop token was generated. */
        STOP,
        /** {@code maxNewTokens} (or the model's context) was reached. */
        LENGTH
    }

    /** What one step did for one sequence. */
    sealed interface StepEvent permits Token, Failed {
        Sequence sequence();
    }

    /**
     * A new token; {@code finish} is null while the sequence goes on. {@code retried} counts the times this
     * step had to redo the sequence on a fresh session (executor failures survived).
     */
    record Token(Sequence sequence, int token, Finish finish, int retried) implements StepEvent {}

    /** The sequence cannot go on (executor gone after all retries, integrity failure, …). */
    record Failed(Sequence sequence, RuntimeException error, int retried) implements StepEvent {}
}
