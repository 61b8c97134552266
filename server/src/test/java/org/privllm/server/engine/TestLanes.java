package org.privllm.server.engine;

import java.util.concurrent.atomic.AtomicInteger;
import org.privllm.model.ForwardPass;
import org.privllm.model.Gpt2Model;
import org.privllm.model.RaggedBatch;
import org.privllm.model.TransformerOps;
import org.privllm.server.Fixtures;
import org.privllm.tensor.Matrix;

/** Lane factories for tests: plaintext lanes that are slow, or that fail on chosen forward steps. */
public final class TestLanes {
    private TestLanes() {}

    /** A failure the factory calls retryable (a stand-in for a dead executor). */
    public static final class Flaky extends RuntimeException {
        public Flaky(String m) {
            super(m);
        }
    }

    /**
     * Plaintext lanes over the fixture; every forward step sleeps {@code delayMs}; the forward steps numbered in
     * {@code failAt} (counted over all lanes, from 1) throw {@link Flaky}; up to {@code retries} retries.
     */
    public static final class Factory implements LaneFactory {
        final LaneFactory inner = Lanes.create(org.privllm.model.DecoderModel.load(Fixtures.model()), Lanes.Settings.plaintext());
        final long delayMs;
        final java.util.Set<Integer> failAt;
        final int retries;
        final boolean reusable;
        public final AtomicInteger steps = new AtomicInteger();
        public final AtomicInteger opened = new AtomicInteger();
        public final AtomicInteger closed = new AtomicInteger();

        public Factory(long delayMs, java.util.Set<Integer> failAt, int retries, boolean reusable) {
            this.delayMs = delayMs;
            this.failAt = failAt;
            this.retries = retries;
            this.reusable = reusable;
        }

        @Override
        public Lane open(int attempt) {
            opened.incrementAndGet();
            Lane l = inner.open(attempt);
            ForwardPass f = l.forward();
            ForwardPass wrapped = new ForwardPass() {
                @Override
                public int vocab() {
                    return f.vocab();
                }

                @Override
                public int positions() {
                    return f.positions();
                }

                @Override
                public Matrix step(int[] ids, int[] positions, int t) {
                    before();
                    return f.step(ids, positions, t);
                }

                @Override
                public Matrix step(RaggedBatch batch, int[] ids) {
                    before();
                    return f.step(batch, ids);
                }

                private void before() {
                    int n = steps.incrementAndGet();
                    if (failAt.contains(n)) {
                        throw new Flaky("injected failure at step " + n);
                    }
                    if (delayMs > 0) {
                        try {
                            Thread.sleep(delayMs);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }

                @Override
                public TransformerOps ops() {
                    return f.ops();
                }
            };
            return new Lane(wrapped, closed::incrementAndGet);
        }

        @Override
        public boolean reusable() {
            return reusable;
        }

        @Override
        public boolean retryable(RuntimeException e) {
            return e instanceof Flaky;
        }

        @Override
        public int retries() {
            return retries;
        }

        @Override
        public int vocab() {
            return inner.vocab();
        }

        @Override
        public int positions() {
            return inner.positions();
        }

        @Override
        public String describe() {
            return "test lanes";
        }
    }
}
