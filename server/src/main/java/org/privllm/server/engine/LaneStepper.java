package org.privllm.server.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.privllm.model.ForwardPass;
import org.privllm.model.generate.Sampler;
import org.privllm.tensor.Matrix;

/**
 * {@link BatchStepper} for the seed level: {@code capacity} independent lanes, each a whole forward pass
 * ({@link org.privllm.model.DecoderForward} over the level's ops) with its own KV cache. A
 * sequence owns one lane from admission to release; a step advances every lane by one token (the prompt's
 * prefill for a new one), lanes side by side on their own threads. Each lane runs exactly the computation
 * {@link org.privllm.model.generate.Generator} runs for a batch of one — the same cache capacity, positions,
 * last-row LM head and one {@link Sampler} per sequence — so every sequence gets exactly the tokens
 * {@code privllm generate} prints for it alone, whoever shares its steps.
 *
 * <p><b>What this does not do, and what it would take.</b> Sequences share step boundaries but not forward
 * passes: a step costs the sum of the lanes' passes (each reads all the weights) instead of one pass over a
 * {@code batch × hidden} matrix, so throughput grows with overlap of executor round trips and idle cores only.
 * True continuous batching needs, below the server module:
 * <ol>
 *   <li>a KV cache with per-sequence rows that can join and leave: {@code KvCache.addRow(capacity) → row},
 *       {@code removeRow(row)}, per-row lengths (today one {@code length} for the whole batch and fixed
 *       {@code leftPad}s);</li>
 *   <li>a ragged step: {@code ForwardPass.step(int[] rows, int[][] ids, int[][] positions)} (or flattened with
 *       per-row token counts) so that one pass prefills joining rows and decodes running ones, attention
 *       masking each row to its own slots ({@code Attention.attend} over per-row lengths);</li>
 *   <li>{@code TransformerOps.startCache} split into {@code openRow/closeRow} on the ops (trusted cache for
 *       strong/two-party; for the seed level the executor's masked cache would need per-row sessions, which is
 *       why seed-level rows cannot share a pass — see below);</li>
 *   <li>an LM head over the rows that produced a token this step (already {@code lmHead(h)} on any rows).</li>
 * </ol>
 * A batched stepper built on those hooks implements this same interface; the scheduler does not change.
 *
 * <p><b>Sharing between users per privacy level.</b> Plaintext: nothing protected. Strong and two-party:
 * lanes are reused across requests — the executors hold only public weights, every linear input is blinded by
 * a pad (strong) or split into shares (two-party) drawn fresh per call and per row, and the KV cache is trusted
 * and restarted per sequence; rows of different users could share one call without either learning about the
 * other (a batched engine may mix them). Seed: masks are per session and the executor keeps the masked KV
 * cache, so a session must never serve two users — each request gets a fresh session (masks sampled, weights
 * obfuscated and uploaded) that is closed when it is released; rows of different users must not share a call.
 */
public final class LaneStepper implements BatchStepper {
    private final LaneFactory factory;
    private final Slot[] slots;
    private final ExecutorService pool;
    private final AtomicLong ids = new AtomicLong();
    /**
     * The lowest attempt any lane opens on: after a retryable failure every slot's next lane skips the executors
     * that failed (a slot's next request does not meet the dead executor first, even with no retries left).
     */
    private final AtomicInteger attemptFloor = new AtomicInteger();
    private final int vocab;
    private final int positions;

    private static final class Slot {
        Lane lane;
        int attempt;
        Seq seq;
    }

    private final class Seq implements Sequence {
        final long id = ids.incrementAndGet();
        final SequenceSpec spec;
        final int slot;
        final int steps;
        Sampler sampler;
        final List<Integer> produced = new ArrayList<>();
        boolean started;
        boolean ended;
        boolean released;
        int retries;

        Seq(SequenceSpec spec, int slot, int steps) {
            this.spec = spec;
            this.slot = slot;
            this.steps = steps;
            this.sampler = new Sampler(spec.sampling());
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

    public LaneStepper(LaneFactory factory, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("--max-batch must be >= 1, got " + capacity);
        }
        this.factory = factory;
        this.vocab = factory.vocab();
        this.positions = factory.positions();
        this.slots = new Slot[capacity];
        for (int i = 0; i < capacity; i++) {
            slots[i] = new Slot();
        }
        this.pool = capacity == 1 ? null : Executors.newFixedThreadPool(capacity, r -> {
            Thread t = new Thread(r, "privllm-lane");
            t.setDaemon(true);
            return t;
        });
    }

    /** Opens every reusable lane now (so that the first requests do not pay the session set-up). */
    public void warmUp() {
        if (!factory.reusable()) {
            return;
        }
        for (Slot s : slots) {
            if (s.lane == null) {
                s.lane = openWithRetries(s);
            }
        }
    }

    private Lane openWithRetries(Slot s) {
        for (int tries = 0; ; tries++) {
            try {
                return open(s);
            } catch (RuntimeException e) {
                if (!factory.retryable(e)) {
                    throw e;
                }
                failedOn(s);
                if (tries >= factory.retries()) {
                    throw e;
                }
            }
        }
    }

    @Override
    public int capacity() {
        return slots.length;
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
        int n = 0;
        for (Slot s : slots) {
            if (s.seq != null) {
                n++;
            }
        }
        return n;
    }

    @Override
    public Sequence admit(SequenceSpec spec) {
        int steps = spec.steps(vocab, positions);
        factory.checkContext(spec.prompt().length + steps);
        for (int i = 0; i < slots.length; i++) {
            if (slots[i].seq == null) {
                Seq q = new Seq(spec, i, steps);
                slots[i].seq = q;
                return q;
            }
        }
        throw new IllegalStateException("no free slot (" + slots.length + " in use)");
    }

    @Override
    public List<StepEvent> step() {
        List<Slot> running = new ArrayList<>();
        for (Slot s : slots) {
            if (s.seq != null && !s.seq.ended) {
                running.add(s);
            }
        }
        List<StepEvent> events = new ArrayList<>(running.size());
        if (pool == null || running.size() <= 1) {
            for (Slot s : running) {
                events.add(advance(s));
            }
            return events;
        }
        List<Future<StepEvent>> futures = new ArrayList<>(running.size());
        for (Slot s : running) {
            futures.add(pool.submit(() -> advance(s)));
        }
        for (int i = 0; i < futures.size(); i++) {
            try {
                events.add(futures.get(i).get());
            } catch (ExecutionException e) {
                Seq q = running.get(i).seq;
                q.ended = true;
                events.add(new Failed(q, e.getCause() instanceof RuntimeException r ? r
                        : new IllegalStateException(String.valueOf(e.getCause()), e.getCause()), q.retries));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while stepping", e);
            }
        }
        return events;
    }

    /** A lane for the slot on its attempt, or later if another slot has moved past failed executors. */
    private Lane open(Slot s) {
        s.attempt = Math.max(s.attempt, attemptFloor.get());
        return factory.open(s.attempt);
    }

    /** The slot's attempt failed: it and every slot's next lane move to the next listed executors. */
    private void failedOn(Slot s) {
        s.attempt++;
        attemptFloor.accumulateAndGet(s.attempt, Math::max);
    }

    /** One token for the slot's sequence, redoing the sequence on a fresh session after a retryable failure. */
    private StepEvent advance(Slot s) {
        Seq q = s.seq;
        int before = q.retries;
        while (true) {
            try {
                if (s.lane == null) {
                    s.lane = open(s);
                }
                if (!q.started && !q.produced.isEmpty()) {
                    replay(s, q);
                }
                int tok = next(s.lane.forward(), q, -1);
                Finish f = contains(q.spec.stopIds(), tok) ? Finish.STOP : q.produced.size() >= q.steps ? Finish.LENGTH : null;
                if (f != null) {
                    q.ended = true;
                }
                return new Token(q, tok, f, q.retries - before);
            } catch (RuntimeException e) {
                closeLane(s);
                boolean retryable = factory.retryable(e);
                if (retryable) {
                    failedOn(s);
                }
                if (!retryable || q.retries >= factory.retries()) {
                    q.ended = true;
                    return new Failed(q, e, q.retries - before);
                }
                q.retries++;
                q.started = false; // redo from the prompt on the fresh session (replay() feeds the tokens so far)
            }
        }
    }

    /**
     * Rebuilds a sequence's state on a fresh lane: prefill, then every token produced so far fed back exactly as
     * the first run fed it, the sampler drawing the same numbers (so later tokens are the ones the first run
     * would have drawn).
     */
    private void replay(Slot s, Seq q) {
        List<Integer> known = new ArrayList<>(q.produced);
        q.produced.clear();
        q.sampler = new Sampler(q.spec.sampling());
        try {
            for (int tok : known) {
                next(s.lane.forward(), q, tok);
            }
        } catch (RuntimeException e) {
            q.produced.clear(); // a failure during the replay: the next attempt replays everything again
            q.produced.addAll(known);
            throw e;
        }
    }

    /**
     * Runs the sequence's next forward step (the prefill if it has not started), samples and records the next
     * token ({@code forced} instead when {@code >= 0}, during a replay). Mirrors Generator for a batch of one.
     */
    private int next(ForwardPass forward, Seq q, int forced) {
        int[] prompt = q.spec.prompt();
        int len = prompt.length;
        Matrix last;
        if (!q.started) {
            int[] pos = new int[len];
            for (int i = 0; i < len; i++) {
                pos[i] = i;
            }
            forward.ops().startCache(new int[] {0}, len + q.steps);
            Matrix h = forward.step(prompt, pos, len);
            last = new Matrix(1, h.cols);
            System.arraycopy(h.data, (len - 1) * h.cols, last.data, 0, h.cols);
            q.started = true;
        } else {
            int prev = q.produced.get(q.produced.size() - 1);
            last = forward.step(new int[] {prev}, new int[] {len + q.produced.size() - 1}, 1);
        }
        Matrix logits = forward.ops().lmHead(last);
        int tok = q.sampler.next(logits.data, 0, vocab);
        if (forced >= 0) {
            tok = forced;
        }
        q.produced.add(tok);
        return tok;
    }

    private static boolean contains(int[] ids, int id) {
        for (int i : ids) {
            if (i == id) {
                return true;
            }
        }
        return false;
    }

    private void closeLane(Slot s) {
        if (s.lane != null) {
            s.lane.close();
            s.lane = null;
        }
    }

    @Override
    public void release(Sequence sequence) {
        if (!(sequence instanceof Seq q) || q.released) {
            return;
        }
        q.released = true;
        q.ended = true;
        Slot s = slots[q.slot];
        if (s.seq == q) {
            s.seq = null;
            if (!factory.reusable()) {
                closeLane(s); // seed level: the session (and its masks) served this request only
            }
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
        for (Slot s : slots) {
            closeLane(s);
            s.seq = null;
        }
        factory.close();
    }
}
