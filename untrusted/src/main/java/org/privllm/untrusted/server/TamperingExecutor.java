package org.privllm.untrusted.server;

import java.security.SecureRandom;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;

/**
 * A dishonest executor for tests: with probability {@code probability} per call it corrupts the
 * result of {@code linear} or {@code attention} — either one element shifted by {@code 1 + |v|}, or one
 * whole row replaced by noise of the row's scale — or of {@code linear64}, whose padded results are a
 * million times the signal: there it also shifts one element by a millionth of its value (about the
 * signal's own size, far below what a careless check of the padded value would notice). Everything else
 * passes through.
 */
public final class TamperingExecutor implements Executor {
    private final Executor inner;
    private final double probability;
    private final SplittableRandom random;
    private final AtomicLong tampered = new AtomicLong();

    public TamperingExecutor(Executor inner, double probability) {
        this(inner, probability, new SecureRandom().nextLong());
    }

    public TamperingExecutor(Executor inner, double probability, long seed) {
        if (!(probability >= 0 && probability <= 1)) {
            throw new IllegalArgumentException("tamper probability must be in [0, 1], got " + probability);
        }
        this.inner = inner;
        this.probability = probability;
        this.random = new SplittableRandom(seed);
    }

    /** How many results were corrupted so far. */
    public long tampered() {
        return tampered.get();
    }

    private synchronized Matrix maybeCorrupt(Matrix y) {
        if (y.data.length == 0 || random.nextDouble() >= probability) {
            return y;
        }
        tampered.incrementAndGet();
        int row = random.nextInt(y.rows);
        if (random.nextBoolean()) {
            int i = row * y.cols + random.nextInt(y.cols);
            y.data[i] += Math.copySign(1f + Math.abs(y.data[i]), random.nextBoolean() ? 1 : -1);
        } else {
            float scale = 0f;
            for (int c = 0; c < y.cols; c++) {
                scale = Math.max(scale, Math.abs(y.get(row, c)));
            }
            for (int c = 0; c < y.cols; c++) {
                y.set(row, c, (float) ((random.nextDouble() * 2 - 1) * (scale + 1)));
            }
        }
        return y;
    }

    @Override
    public SessionId openSession() {
        return inner.openSession();
    }

    @Override
    public void closeSession(SessionId session) {
        inner.closeSession(session);
    }

    @Override
    public WeightId uploadLinear(SessionId session, LinearWeights weights) {
        return inner.uploadLinear(session, weights);
    }

    @Override
    public Matrix linear(SessionId session, WeightId weight, Matrix x, Matrix compensation) {
        return maybeCorrupt(inner.linear(session, weight, x, compensation));
    }

    @Override
    public DoubleMatrix linear64(SessionId session, WeightId weight, DoubleMatrix x) {
        return maybeCorrupt(inner.linear64(session, weight, x));
    }

    private synchronized DoubleMatrix maybeCorrupt(DoubleMatrix y) {
        if (y.data.length == 0 || random.nextDouble() >= probability) {
            return y;
        }
        tampered.incrementAndGet();
        int i = random.nextInt(y.data.length);
        double sign = random.nextBoolean() ? 1 : -1;
        y.data[i] += switch (random.nextInt(3)) {
            case 0 -> sign * (1 + Math.abs(y.data[i]));
            case 1 -> sign * 1e-6 * (1 + Math.abs(y.data[i]));
            default -> sign * 1e3 * (1 + Math.abs(y.data[i]));
        };
        return y;
    }

    @Override
    public void startCache(SessionId session, int layers, int capacity, int width, int[] leftPad) {
        inner.startCache(session, layers, capacity, width, leftPad);
    }

    @Override
    public Matrix attention(SessionId session, AttentionCall call) {
        return maybeCorrupt(inner.attention(session, call));
    }

    @Override
    public void advanceCache(SessionId session, int t) {
        inner.advanceCache(session, t);
    }

    @Override
    public void close() {
        inner.close();
    }
}
