package org.privllm.server.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.privllm.model.generate.ContinuousBatcher;
import org.privllm.model.generate.ContinuousBatcher.Member;

/**
 * True continuous batching ({@link BatchStepper}) for the levels whose KV cache is in this process — plaintext,
 * {@code --privacy strong} and {@code two-party}: one forward pass (one lane) for every sequence, and per step
 * one ragged pass ({@link ContinuousBatcher}) in which every linear layer is one product over the rows of all
 * running sequences — a newly admitted sequence's whole prompt and one row for each running one — while the
 * attention core runs per sequence over that sequence's own cache. Throughput grows with concurrency as far as
 * the products become compute-bound instead of reading every weight once per sequence.
 *
 * <p><b>Prefill in the same step.</b> A new sequence's prompt rides in the next step with the others' decode rows
 * rather than in a pass of its own: the prefill's products are compute-bound, the decode rows ride on the same
 * weight reads almost free, and a separate pass would read every weight once more. To keep a long prompt from
 * stalling everyone's next token for too long, a step takes new prompts (whole, in admission order) only up to
 * {@code maxStepTokens} prompt rows — at least one prompt per step — and the rest wait for the next boundary.
 * Prompts are never split: a prompt run in one piece computes exactly what {@code privllm generate} computes.
 *
 * <p><b>Exactness.</b> Every sequence gets exactly {@code generate}'s tokens for its request alone, whoever
 * shares its steps: see {@link ContinuousBatcher} (bit for bit in plaintext; at strong and two-party each row
 * carries its own fresh pad or share, and the answer is the level's answer, the plaintext tokens).
 *
 * <p><b>Faults.</b> A retryable executor failure (dead, stalled or lying executor) fails the whole step; the lane
 * is closed, a fresh one opened on the next listed executors and the same step redone — nothing to replay: the
 * caches are trusted and a failed step advanced none of them. A sequence is redone at most {@code --retries}
 * times over its life (as with lanes); those beyond end with the error, the others go on. The next lane opens on
 * the next executors even when no sequence goes on (later requests do not meet the failed executor first).
 *
 * <p><b>Between users.</b> Rows of different requests share each linear call. At plaintext nothing is protected;
 * at strong and two-party every row is blinded by its own pad (or split into its own shares), fresh per call, and
 * the executors hold only the public weights: a call's rows are as unlinkable as calls are. The seed level keeps
 * its masks and masked cache per session, so it never batches users together ({@link LaneStepper}); this class
 * refuses a factory whose lanes may not be shared.
 */
public final class RaggedStepper implements BatchStepper {
    /** Default prompt rows per step (new prompts beyond it wait for the next step boundary). */
    public static final int DEFAULT_MAX_STEP_TOKENS = 256;

    private final LaneFactory factory;
    private final int capacity;
    private final int maxStepTokens;
    private final int vocab;
    private final int positions;
    private final AtomicLong ids = new AtomicLong();
    private final List<Seq> admitted = new ArrayList<>();
    private Lane lane;
    private int attempt;
    private ContinuousBatcher batcher;

    private final class Seq implements Sequence {
        final long id = ids.incrementAndGet();
        final SequenceSpec spec;
        Member member;
        int retries;
        boolean ended;
        boolean released;

        Seq(SequenceSpec spec) {
            this.spec = spec;
        }

        int promptRows() {
            return member == null || !member.started() ? spec.prompt().length : 1;
        }

        boolean started() {
            return member != null && member.started();
        }

        @Override
        public long id() {
            return id;
        }

        @Override
        public String toString() {
            return "sequence " + id; // never the prompt or tokens
        }
    }

    /**
     * @param capacity      sequences running at once ({@code --max-batch})
     * @param maxStepTokens new prompt rows one step takes at most (at least one whole prompt per step)
     */
    public RaggedStepper(LaneFactory factory, int capacity, int maxStepTokens) {
        if (capacity < 1) {
            throw new IllegalArgumentException("--max-batch must be >= 1, got " + capacity);
        }
        if (maxStepTokens < 1) {
            throw new IllegalArgumentException("--max-step-tokens must be >= 1, got " + maxStepTokens);
        }
        if (!factory.reusable()) {
            throw new IllegalArgumentException("a lane that may serve one request only (the seed level) cannot batch "
                    + "requests together: use LaneStepper");
        }
        this.factory = factory;
        this.capacity = capacity;
        this.maxStepTokens = maxStepTokens;
        this.vocab = factory.vocab();
        this.positions = factory.positions();
    }

    public RaggedStepper(LaneFactory factory, int capacity) {
        this(factory, capacity, DEFAULT_MAX_STEP_TOKENS);
    }

    /** Opens the lane now (weights uploaded, pads calibrated), so that the first request does not pay for it. */
    public void warmUp() {
        for (int tries = 0; lane == null; tries++) {
            try {
                openLane();
            } catch (RuntimeException e) {
                if (!factory.retryable(e) || tries >= factory.retries()) {
                    throw e;
                }
                attempt++;
            }
        }
    }

    private void openLane() {
        Lane l = factory.open(attempt);
        if (!l.forward().ops().ragged()) {
            l.close();
            throw new IllegalStateException("this engine's lanes do not run ragged steps");
        }
        try {
            if (batcher == null) {
                batcher = new ContinuousBatcher(l.forward());
            } else {
                batcher.forward(l.forward());
            }
        } catch (RuntimeException e) {
            l.close();
            throw e;
        }
        lane = l;
    }

    private void closeLane() {
        if (lane != null) {
            lane.close();
            lane = null;
        }
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public int vocab() {
        return vocab;
    }

    @Override
    public int positions() {
        return positions;
    }

    @Override
    public int active() {
        return admitted.size();
    }

    @Override
    public Sequence admit(SequenceSpec spec) {
        factory.checkContext(spec.prompt().length + spec.steps(vocab, positions));
        if (admitted.size() >= capacity) {
            throw new IllegalStateException("no free slot (" + capacity + " in use)");
        }
        Seq q = new Seq(spec);
        admitted.add(q);
        return q;
    }

    /**
     * The sequences of the next step: every started one, and unstarted ones in admission order while their
     * prompts fit {@code maxStepTokens} (the first always).
     */
    private List<Seq> schedule() {
        List<Seq> run = new ArrayList<>();
        int prompts = 0;
        boolean anyNew = false;
        for (Seq q : admitted) {
            if (q.ended) {
                continue;
            }
            if (q.started()) {
                run.add(q);
            } else if (!anyNew || prompts + q.spec.prompt().length <= maxStepTokens) {
                run.add(q);
                prompts += q.spec.prompt().length;
                anyNew = true;
            }
        }
        return run;
    }

    @Override
    public List<StepEvent> step() {
        List<Seq> run = schedule();
        List<StepEvent> events = new ArrayList<>(run.size());
        if (run.isEmpty()) {
            return events;
        }
        int[] before = run.stream().mapToInt(q -> q.retries).toArray();
        List<Seq> original = List.copyOf(run);
        while (!run.isEmpty()) {
            try {
                if (lane == null) {
                    openLane();
                }
            } catch (RuntimeException e) {
                run = failed(run, e, events, original, before);
                continue;
            }
            List<Member> members = new ArrayList<>(run.size());
            for (Seq q : List.copyOf(run)) {
                if (q.member == null) {
                    try {
                        q.member = batcher.join(q.spec.prompt(), q.spec.sampling(), q.spec.maxNewTokens(), q.spec.stopIds());
                    } catch (RuntimeException e) { // checked at admission already: only this sequence is concerned
                        q.ended = true;
                        run.remove(q);
                        events.add(new Failed(q, e, 0));
                        continue;
                    }
                }
                members.add(q.member);
            }
            if (run.isEmpty()) {
                break;
            }
            try {
                int[] tokens = batcher.step(members);
                for (int i = 0; i < tokens.length; i++) {
                    Seq q = run.get(i);
                    ContinuousBatcher.Finish f = q.member.finish();
                    Finish finish = f == null ? null : f == ContinuousBatcher.Finish.STOP ? Finish.STOP : Finish.LENGTH;
                    if (finish != null) {
                        q.ended = true;
                    }
                    events.add(new Token(q, tokens[i], finish, q.retries - before[original.indexOf(q)]));
                }
                return events;
            } catch (RuntimeException e) {
                run = failed(run, e, events, original, before);
            }
        }
        return events;
    }

    /**
     * A failed step: the lane is closed; sequences past their retries (all of them for a failure no fresh session
     * can cure) end with the error, the others are redone on the next listed executors.
     */
    private List<Seq> failed(List<Seq> run, RuntimeException e, List<StepEvent> events, List<Seq> original, int[] before) {
        closeLane();
        boolean retryable = factory.retryable(e);
        List<Seq> goOn = new ArrayList<>();
        for (Seq q : run) {
            if (!retryable || q.retries >= factory.retries()) {
                q.ended = true;
                if (q.member != null) {
                    batcher.leave(q.member);
                }
                events.add(new Failed(q, e, q.retries - before[original.indexOf(q)]));
            } else {
                q.retries++;
                goOn.add(q);
            }
        }
        if (retryable) {
            // the next lane on the next listed executors, whether or not a sequence of this step goes on: with no
            // retries left the requests after it must not be sent to the executor that just failed
            attempt++;
        }
        return goOn;
    }

    @Override
    public void release(Sequence sequence) {
        if (!(sequence instanceof Seq q) || q.released) {
            return;
        }
        q.released = true;
        q.ended = true;
        if (q.member != null && batcher != null) {
            batcher.leave(q.member); // its cache leaves the batch: the slots are free at once
        }
        admitted.remove(q);
    }

    @Override
    public void close() {
        closeLane();
        admitted.clear();
        factory.close();
    }
}
