package org.privllm.tensor;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits index ranges over a fixed set of threads: the calling thread plus {@code threads() - 1}
 * daemon workers (one thread per core by default, {@code -Dprivllm.threads=N} to change).
 *
 * <p>Chunks are handed out from a shared counter and the caller works on them too, so a job never
 * waits for a worker to wake up: a late worker finds the chunks taken. Decode runs about sixty
 * parallel regions per token with only short serial gaps between them, and waking a parked thread
 * costs 10–20 µs here (more when the hypervisor has to wake the vCPU), so a worker spins for
 * {@code -Dprivllm.spinMicros=N} (default 300) after each job before it parks, and a caller waiting for
 * a worker's chunk spins as long. On the 2-vCPU Zen 5 VM, 300 µs made decode 7–9 % faster than parking at
 * once in four back-to-back pairs of `bench` runs, and in one JVM with decode steps interleaved 50 µs against 0
 * gave batch 1 83 vs 72 and batch 8 396 vs 324 tok/s (on the older AVX2 host spinning had measured slower:
 * the spinning vCPU was descheduled in favour of other guests' work; set 0 there). Spinning ends 300 µs
 * after the last job, so an idle server does not burn a core.
 */
public final class Parallel {
    private static final int THREADS = Math.max(1, Integer.getInteger("privllm.threads",
            Runtime.getRuntime().availableProcessors()));
    /** A claim takes {@code 1 / (GUIDED·threads)} of the indices left (see {@link Job}). */
    private static final int GUIDED = 2;
    private static final long SPIN_NANOS = 1000L * Math.max(0, Integer.getInteger("privllm.spinMicros", 300));
    private static final ConcurrentLinkedQueue<Job> QUEUE = new ConcurrentLinkedQueue<>();
    private static final Worker[] WORKERS = new Worker[THREADS - 1];

    static {
        for (int i = 0; i < WORKERS.length; i++) {
            WORKERS[i] = new Worker(i);
            WORKERS[i].start();
        }
    }

    private Parallel() {}

    /** Body over the half-open index range {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    public static int threads() {
        return THREADS;
    }

    /**
     * Runs {@code body} over {@code [0, n)} in contiguous chunks whose bounds are multiples of
     * {@code grain} (except the last), shrinking towards the end (guided, see {@link Job}). Ranges of
     * at most one grain run inline on the caller, as does any call from inside a worker (no nested fan-out). The first
     * exception thrown by any chunk is rethrown to the caller once all chunks are done.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int g = Math.max(1, grain);
        if (n <= g || WORKERS.length == 0 || Thread.currentThread() instanceof Worker) {
            body.run(0, n);
            return;
        }
        Job job = new Job(body, n, g, Thread.currentThread());
        for (int i = 0; i < WORKERS.length; i++) {
            QUEUE.add(job);
        }
        for (Worker w : WORKERS) {
            if (w.parked) {
                LockSupport.unpark(w);
            }
        }
        job.work();
        job.awaitAll();
    }

    /**
     * One {@link #forRange} call, scheduled guided: each claim takes a share {@code 1 / (GUIDED·threads)} of what is
     * left (whole grains), so chunks shrink towards the end and the threads finish within about one grain of each
     * other. With a fixed {@code 4·threads} chunks, the caller waited for the other thread's last chunk 15 µs per
     * parallel region at batch-8 decode and 220 µs at the LM head (a worker takes up a job ~5 µs late).
     */
    private static final class Job {
        final RangeBody body;
        final int n, grain;
        final Thread caller;
        /** The first index not yet claimed. */
        final AtomicInteger next = new AtomicInteger();
        /** Indices done. */
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(RangeBody body, int n, int grain, Thread caller) {
            this.body = body;
            this.n = n;
            this.grain = grain;
            this.caller = caller;
        }

        void work() {
            int from;
            while ((from = next.get()) < n) {
                int share = (n - from + GUIDED * THREADS - 1) / (GUIDED * THREADS);
                int to = (int) Math.min(n, from + ((long) share + grain - 1) / grain * grain);
                if (!next.compareAndSet(from, to)) {
                    continue;
                }
                try {
                    if (failure == null) {
                        body.run(from, to);
                    }
                } catch (Throwable t) {
                    if (failure == null) {
                        failure = t;
                    }
                } finally {
                    if (done.addAndGet(to - from) == n) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }

        /** Waits for chunks still running on workers: spins briefly (they are short), then parks. */
        void awaitAll() {
            long spinUntil = 0;
            while (done.get() < n) {
                if (spinUntil == 0) {
                    spinUntil = System.nanoTime() + SPIN_NANOS;
                }
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(this, 100_000L);
                }
            }
            Throwable t = failure;
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
            if (t != null) {
                throw new IllegalStateException(t);
            }
        }
    }

    /** A helper thread: takes jobs from the queue, spins a little when it runs dry, then parks. */
    private static final class Worker extends Thread {
        volatile boolean parked;

        Worker(int index) {
            super("privllm-parallel-" + index);
            setDaemon(true);
        }

        @Override
        public void run() {
            long idleSince = System.nanoTime();
            while (true) {
                Job job = QUEUE.poll();
                if (job != null) {
                    job.work();
                    idleSince = System.nanoTime();
                } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    parked = true;
                    if (QUEUE.isEmpty()) { // re-checked after announcing: no lost wake-up
                        LockSupport.park(this);
                    }
                    parked = false;
                    idleSince = System.nanoTime();
                }
            }
        }
    }
}
