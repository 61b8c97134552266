package org.privllm.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits index ranges over a fixed set of threads: the calling thread plus {@code threads() - 1}
 * pool workers (one per core by default, {@code -Dprivllm.threads=N} to change).
 *
 * <p>Chunks are handed out from a shared counter, and the caller works on them too: when a worker
 * is slow to wake (decode runs ~60 parallel regions per token) the caller simply takes its chunks,
 * so a hand-off never costs more than the work it was meant to share.
 */
public final class Parallel {
    private static final int THREADS = Math.max(1, Integer.getInteger("privllm.threads",
            Runtime.getRuntime().availableProcessors()));
    /** Chunks per thread: a few, so a thread slowed down by another process does not hold everyone up. */
    private static final int CHUNKS_PER_THREAD = 4;
    /** Spin iterations before the caller parks while the last chunks finish (a few microseconds). */
    private static final int SPINS = 1 << 12;
    private static final ForkJoinPool POOL = THREADS == 1 ? null : new ForkJoinPool(THREADS - 1);

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
     * inline on the caller, as does any call from inside a worker (no nested fan-out).
     */
    public static void forRange(int n, int grain, RangeBody body) {
        int g = Math.max(1, grain);
        int chunks = (int) Math.min((long) THREADS * CHUNKS_PER_THREAD, Math.max(1, ((long) n + g - 1) / g));
        if (n <= 0) {
            return;
        }
        if (chunks <= 1 || POOL == null || Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == POOL) {
            body.run(0, n);
            return;
        }
        int per = (int) (((long) n + chunks - 1) / chunks);
        per = (int) Math.min(n, ((long) per + g - 1) / g * g);
        Job job = new Job(body, n, per, (n + per - 1) / per, Thread.currentThread());
        for (int i = 1; i < Math.min(THREADS, job.chunks); i++) {
            POOL.execute(job::work);
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
                    failure = t;
                } finally {
                    if (done.incrementAndGet() == chunks) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }

        void awaitAll() {
            for (int spin = 0; done.get() < chunks; spin++) {
                if (spin < SPINS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
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
}
