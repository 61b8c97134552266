package org.privllm.untrusted.server;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.privllm.protocol.AttentionCall;
import org.privllm.protocol.Executor;
import org.privllm.protocol.LinearWeights;
import org.privllm.protocol.SessionId;
import org.privllm.protocol.WeightId;
import org.privllm.tensor.Matrix;

/**
 * A deterministic sequence of executor calls shaped like a small transformer (two layers, batch 2,
 * a prefill then decode steps): every result is collected so that two executors can be compared bit
 * for bit.
 */
final class Workload {
    final int width;
    final int heads;
    final int layers = 2;
    final int batch = 2;
    final int prompt = 5;
    final int steps;
    private final long seed;

    Workload(long seed, int width, int heads, int steps) {
        this.seed = seed;
        this.width = width;
        this.heads = heads;
        this.steps = steps;
    }

    static Matrix random(Random r, int rows, int cols) {
        Matrix m = new Matrix(rows, cols);
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] = (float) r.nextGaussian();
        }
        return m;
    }

    static float[] vector(Random r, int n) {
        return random(r, 1, n).data;
    }

    /** Runs the workload in a fresh session of {@code ex}; returns every linear and attention result in order. */
    List<Matrix> run(Executor ex) {
        Random r = new Random(seed);
        List<Matrix> results = new ArrayList<>();
        SessionId s = ex.openSession();
        try {
            WeightId[] qkv = new WeightId[layers], proj = new WeightId[layers], mlp = new WeightId[layers];
            for (int l = 0; l < layers; l++) {
                qkv[l] = ex.uploadLinear(s, new LinearWeights(scaled(random(r, width, 3 * width)), vector(r, 3 * width)));
                proj[l] = ex.uploadLinear(s, new LinearWeights(scaled(random(r, width, width)), vector(r, width)));
                mlp[l] = ex.uploadLinear(s, new LinearWeights(scaled(random(r, width, 2 * width)), vector(r, 2 * width),
                        scaled(random(r, width, 3)), random(r, 3, 2 * width)));
            }
            ex.startCache(s, layers, prompt + steps, width, new int[] {0, 2});
            float scale = (float) (1 / Math.sqrt(width / (double) heads));
            for (int step = 0; step <= steps; step++) {
                int t = step == 0 ? prompt : 1;
                for (int l = 0; l < layers; l++) {
                    Matrix x = random(r, batch * t, width);
                    Matrix c = step % 2 == 1 ? random(r, batch * t, 3 * width) : null;
                    results.add(ex.attention(s, new AttentionCall(l, qkv[l], proj[l], x, c, t, heads, scale)));
                    Matrix h = random(r, batch * t, width);
                    results.add(ex.linear(s, mlp[l], h, step % 2 == 0 ? random(r, batch * t, 2 * width) : null));
                }
                ex.advanceCache(s, t);
            }
        } finally {
            ex.closeSession(s);
        }
        return results;
    }

    /**
     * Largest difference between two result lists relative to each result's scale. Not bit equality:
     * {@code Kernels.dot}'s lane reduction order differs between interpreted and JIT-compiled code, so
     * the same executor can differ in the last bits from call to call.
     */
    static double maxRelativeDifference(List<Matrix> a, List<Matrix> b) {
        if (a.size() != b.size()) {
            return Double.POSITIVE_INFINITY;
        }
        double worst = 0;
        for (int i = 0; i < a.size(); i++) {
            Matrix x = a.get(i), y = b.get(i);
            if (x.rows != y.rows || x.cols != y.cols) {
                return Double.POSITIVE_INFINITY;
            }
            double scale = 1e-6;
            for (float v : x.data) {
                scale = Math.max(scale, Math.abs(v));
            }
            for (int k = 0; k < x.data.length; k++) {
                worst = Math.max(worst, Math.abs(x.data[k] - y.data[k]) / scale);
            }
        }
        return worst;
    }

    private static Matrix scaled(Matrix m) {
        float f = (float) (1 / Math.sqrt(m.rows));
        for (int i = 0; i < m.data.length; i++) {
            m.data[i] *= f;
        }
        return m;
    }
}
