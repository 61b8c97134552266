package org.privllm.server.engine;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.privllm.server.engine.BatchStepper.Failed;
import org.privllm.server.engine.BatchStepper.Finish;
import org.privllm.server.engine.BatchStepper.Sequence;
import org.privllm.server.engine.BatchStepper.SequenceSpec;
import org.privllm.server.engine.BatchStepper.StepEvent;
import org.privllm.server.engine.BatchStepper.Token;

/**
 * Continuous batching on top of a {@link BatchStepper}: one thread admits waiting requests into free slots at
 * every step boundary, steps the active set, hands each token to its request and releases a sequence as soon
 * as it is finished, cancelled (client gone, stop string matched) or past its deadline — its slot is free for
 * the next step. Waiting requests are bounded: {@link #submit} refuses beyond {@code capacity + maxQueue}
 * requests in the system ({@link Overloaded}, the server's 429).
 *
 * <p>Listeners run on the scheduler thread and must not block (the HTTP layer queues the events).
 */
public final class Scheduler implements AutoCloseable {
    /** Receives one request's events, on the scheduler thread. */
    public interface Listener {
        void onToken(int token);

        void onFinish(Finish finish);

        void onError(RuntimeException error);
    }

    /** What the scheduler reports for metrics (all optional no-ops by default). */
    public interface Observer {
        default void queueDepth(int waiting) {}

        default void batchSize(int active) {}

        default void firstToken(long nanosSinceSubmit) {}

        default void interToken(long nanos) {}

        default void executorError(RuntimeException e) {}

        default void retries(int n) {}
    }

    /** The system is full: come back later. */
    public static final class Overloaded extends RuntimeException {
        public Overloaded(String message) {
            super(message);
        }
    }

    /** The server is shutting down and takes no new work. */
    public static final class ShuttingDown extends RuntimeException {
        public ShuttingDown(String message) {
            super(message);
        }
    }

    /** A request ran past its deadline. */
    public static final class DeadlineExceeded extends RuntimeException {
        public DeadlineExceeded(String message) {
            super(message);
        }
    }

    /** A submitted request; {@link #cancel()} frees its slot at the next step boundary. */
    public final class Ticket {
        final SequenceSpec spec;
        final Listener listener;
        final long deadline;
        final long submitted = System.nanoTime();
        volatile boolean cancelled;
        Sequence sequence;
        long lastToken;
        boolean done;

        Ticket(SequenceSpec spec, Listener listener, long deadline) {
            this.spec = spec;
            this.listener = listener;
            this.deadline = deadline;
        }

        public void cancel() {
            cancelled = true;
            lock.lock();
            try {
                wake.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    private final BatchStepper stepper;
    private final int maxQueue;
    private final Observer observer;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final ArrayDeque<Ticket> waiting = new ArrayDeque<>();
    private final Map<Long, Ticket> active = new HashMap<>();
    private final Thread loop;
    private volatile boolean closing;
    private volatile boolean abort;
    private volatile int activeCount;

    public Scheduler(BatchStepper stepper, int maxQueue, Observer observer) {
        if (maxQueue < 0) {
            throw new IllegalArgumentException("--max-queue must be >= 0, got " + maxQueue);
        }
        this.stepper = stepper;
        this.maxQueue = maxQueue;
        this.observer = observer == null ? new Observer() {} : observer;
        this.loop = new Thread(this::run, "privllm-scheduler");
        this.loop.setDaemon(true);
        this.loop.start();
    }

    public int capacity() {
        return stepper.capacity();
    }

    /** Requests waiting for a slot. */
    public int waiting() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    /** Requests holding a slot. */
    public int running() {
        return activeCount;
    }

    /**
     * Queues a request; it joins the batch at the next step boundary with a free slot. Throws {@link Overloaded}
     * when {@code capacity + maxQueue} requests are already in the system, {@link ShuttingDown} after {@link #close}.
     */
    public Ticket submit(SequenceSpec spec, Listener listener, Duration deadline) {
        Ticket t = new Ticket(spec, listener, System.nanoTime() + deadline.toNanos());
        lock.lock();
        try {
            if (closing) {
                throw new ShuttingDown("the server is shutting down");
            }
            if (waiting.size() + activeCount >= stepper.capacity() + maxQueue) {
                throw new Overloaded("the server is at capacity (" + stepper.capacity() + " running, " + maxQueue
                        + " waiting): retry later");
            }
            waiting.add(t);
            observer.queueDepth(waiting.size());
            wake.signalAll();
        } finally {
            lock.unlock();
        }
        return t;
    }

    private void run() {
        while (true) {
            lock.lock();
            try {
                dropCancelledWaiting();
                while (!abort && !waiting.isEmpty() && stepper.active() < stepper.capacity()) {
                    Ticket t = waiting.poll();
                    try {
                        t.sequence = stepper.admit(t.spec);
                        active.put(t.sequence.id(), t);
                    } catch (RuntimeException e) {
                        finish(t, null, e);
                    }
                }
                activeCount = active.size();
                observer.queueDepth(waiting.size());
                observer.batchSize(active.size());
                if (abort) {
                    failAll(new ShuttingDown("the server shut down before this request finished"));
                    return;
                }
                if (active.isEmpty()) {
                    if (closing && waiting.isEmpty()) {
                        return;
                    }
                    wake.await(200, TimeUnit.MILLISECONDS);
                    continue;
                }
            } catch (InterruptedException e) {
                abort = true;
                continue;
            } finally {
                lock.unlock();
            }
            releaseCancelledAndExpired();
            if (activeCount == 0) {
                continue;
            }
            List<StepEvent> events;
            try {
                events = stepper.step();
            } catch (RuntimeException e) {
                lock.lock();
                try {
                    failAll(e);
                } finally {
                    lock.unlock();
                }
                continue;
            }
            long now = System.nanoTime();
            lock.lock();
            try {
                for (StepEvent ev : events) {
                    Ticket t = active.get(ev.sequence().id());
                    if (t == null) {
                        continue;
                    }
                    if (ev instanceof Token tok) {
                        if (tok.retried() > 0) {
                            observer.retries(tok.retried());
                        }
                        if (t.lastToken == 0) {
                            observer.firstToken(now - t.submitted);
                        } else {
                            observer.interToken(now - t.lastToken);
                        }
                        t.lastToken = now;
                        if (!t.cancelled) {
                            t.listener.onToken(tok.token());
                        }
                        if (tok.finish() != null) {
                            finish(t, tok.finish(), null);
                        }
                    } else if (ev instanceof Failed f) {
                        if (f.retried() > 0) {
                            observer.retries(f.retried());
                        }
                        observer.executorError(f.error());
                        finish(t, null, f.error());
                    }
                }
                activeCount = active.size();
            } finally {
                lock.unlock();
            }
        }
    }

    private void dropCancelledWaiting() {
        long now = System.nanoTime();
        for (Iterator<Ticket> it = waiting.iterator(); it.hasNext(); ) {
            Ticket t = it.next();
            if (t.cancelled) {
                it.remove();
                t.done = true;
            } else if (now - t.deadline > 0) {
                it.remove();
                t.done = true;
                t.listener.onError(new DeadlineExceeded("the request waited past its deadline"));
            }
        }
    }

    private void releaseCancelledAndExpired() {
        long now = System.nanoTime();
        lock.lock();
        try {
            for (Ticket t : List.copyOf(active.values())) {
                if (t.cancelled) {
                    finish(t, null, null);
                } else if (now - t.deadline > 0) {
                    finish(t, null, new DeadlineExceeded("the request ran past its deadline"));
                }
            }
            activeCount = active.size();
        } finally {
            lock.unlock();
        }
    }

    /** Ends a ticket: releases its sequence and tells its listener (nothing for a cancelled one). */
    private void finish(Ticket t, Finish finish, RuntimeException error) {
        if (t.done) {
            return;
        }
        t.done = true;
        if (t.sequence != null) {
            active.remove(t.sequence.id());
            stepper.release(t.sequence);
        }
        if (t.cancelled && error == null) {
            return;
        }
        if (error != null) {
            t.listener.onError(error);
        } else if (finish != null) {
            t.listener.onFinish(finish);
        }
    }

    private void failAll(RuntimeException e) {
        for (Ticket t : List.copyOf(active.values())) {
            finish(t, null, e);
        }
        for (Ticket t : waiting) {
            t.done = true;
            t.listener.onError(e);
        }
        waiting.clear();
        activeCount = 0;
    }

    /**
     * Stops taking requests, lets those in the system finish for up to {@code grace}, fails the rest with a
     * {@link ShuttingDown} error and closes the stepper (executor sessions and connections).
     */
    public void close(Duration grace) {
        lock.lock();
        try {
            closing = true;
            wake.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            loop.join(Math.max(1, grace.toMillis()));
            if (loop.isAlive()) {
                abort = true;
                lock.lock();
                try {
                    wake.signalAll();
                } finally {
                    lock.unlock();
                }
                loop.join(60_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stepper.close();
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }
}
