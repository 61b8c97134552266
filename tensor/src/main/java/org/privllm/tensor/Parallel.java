package org.privllm.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/** Splits index ranges over a fixed pool of worker threads (one per core by default). */
public final class Parallel {
    private static final int THREADS = Integer.getInteger("privllm.threads",
            Runtime.getRuntime().availableProcessors());
    private static final ForkJoinPool POOL = new ForkJoinPool(THREADS);

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
     * Runs {@code body} over {@code [0, n)} in about {@code threads()} contiguous chunks whose bounds are
     * multiples of {@code grain} (except the last). Small ranges run inline.
     */
    public static void forRange(int n, int grain, RangeBody body) {
        int chunks = Math.min(THREADS, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || (Thread.currentThread() instanceof java.util.concurrent.ForkJoinWorkerThread w && w.getPool() == POOL)) {
            body.run(0, n);
            return;
        }
        int per = (n + chunks - 1) / chunks;
        per = (per + grain - 1) / grain * grain;
        int step = per;
        POOL.invoke(new RecursiveAction() {
            @Override
            protected void compute() {
                RecursiveAction[] tasks = new RecursiveAction[chunks];
                int count = 0;
                for (int from = 0; from < n; from += step) {
                    int f = from, t = Math.min(n, from + step);
                    tasks[count++] = new RecursiveAction() {
                        @Override
                        protected void compute() {
                            body.run(f, t);
                        }
                    };
                }
                invokeAll(java.util.Arrays.copyOf(tasks, count));
            }
        });
    }
}
