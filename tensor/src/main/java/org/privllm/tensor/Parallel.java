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
    /** Chunks per thread: a few, so a thread slowed down by another process does not hold everyone up. */
    private static final int CHUNKS_PER_THREAD = 4;
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
     * {@code grain} (except the last), at most a few per thread. Ranges of at most one grain run
     * inline on the caller, as does any call from inside a worker (no nested fan-out). The first
     * exception thrown by any chunk is rethrown to the caller once all chunks are done.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int g = Math.max(1, grain);
        int chunks = (int) Math.min((long) THREADS * CHUNKS_PER_THREAD, ((long) n + g - 1) / g);
        if (chunks <= 1 || WORKERS.length == 0 || Thread.currentThread() instanceof Worker) {
            body.run(0, n);
            return;
        }
        int per = (int) (((long) n + chunks - 1) / chunks);
        per = (int) Math.min(n, ((long) per + g - 1) / g * g);
        Job job = new Job(body, n, per, (n + per - 1) / per, Thread.currentThread());
        int helpers = Math.min(WORKERS.length, job.chunks - 1);
        for (int i = 0; i < helpers; i++) {
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

    /** One {@link #forRange} call: chunks claimed from {@code next}, completion counted in {@code done}. */
    private static final class Job {
        final RangeBody body;
        final int n, per, chunks;
        final Thread caller;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable failure;

        Job(RangeBody body, int n, int per, int chunks, Thread caller) {
            this.body = body;
            this.n = n;
            this.per = per;
            this.chunks = chunks;
            this.caller = caller;
        }

        void work() {
            int c;
            while ((c = next.getAndIncrement()) < chunks) {
                try {
                    if (failure == null) {
                        body.run(c * per, Math.min(n, (c + 1) * per));
                    }
                } catch (Throwable t) {
                    if (failure == null) {
                        failure = t;
                    }
                } finally {
                    if (done.incrementAndGet() == chunks) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }

        /** Waits for chunks still running on workers: spins briefly (they are short), then parks. */
        void awaitAll() {
            long spinUntil = 0;
            while (done.get() < chunks) {
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
