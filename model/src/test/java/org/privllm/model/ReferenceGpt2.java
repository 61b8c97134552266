package org.privllm.model;

import java.util.List;

/**
 * An independent float64 GPT-2 written the plainest way (full recomputation, no cache, naive
 * loops) for checking the engine. It shares only the loaded weights with it.
 */
final class ReferenceGpt2 {
    private final Gpt2Config c;
    private final Gpt2Weights w;

    ReferenceGpt2(Gpt2Config c, Gpt2Weights w) {
        this.c = c;
        this.w = w;
    }

    /** Logits of every position, {@code len × vocab}, in double. */
    double[][] logits(int[] ids) {
        int n = ids.length, d = c.embd();
        double[][] h = new double[n][d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                h[i][j] = w.wte().get(ids[i], j) + (double) w.wpe().get(i, j);
            }
        }
        for (int l = 0; l < c.layers(); l++) {
            Gpt2Weights.Layer L = w.layers().get(l);
            double[][] a = ln(h, L.ln1Gamma(), L.ln1Beta());
            double[][] qkv = linear(a, L.cAttn(), L.cAttnBias());
            double[][] att = attention(qkv, l);
            double[][] proj = linear(att, L.cProj(), L.cProjBias());
            add(h, proj);
            double[][] m = ln(h, L.ln2Gamma(), L.ln2Beta());
            double[][] up = linear(m, L.cFc(), L.cFcBias());
            for (double[] row : up) {
                for (int j = 0; j < row.length; j++) {
                    row[j] = act(row[j]);
                }
            }
            add(h, linear(up, L.mlpProj(), L.mlpProjBias()));
        }
        double[][] f = ln(h, w.lnFGamma(), w.lnFBeta());
        double[][] logits = new double[n][c.vocab()];
        for (int i = 0; i < n; i++) {
            for (int v = 0; v < c.vocab(); v++) {
                double s = 0;
                for (int j = 0; j < d; j++) {
                    s += f[i][j] * w.head().get(v, j);
                }
                logits[i][v] = s;
            }
        }
        return logits;
    }

    /** Greedy continuation by full recomputation. */
    int[] greedy(int[] prompt, int steps) {
        int[] ids = prompt.clone();
        for (int s = 0; s < steps; s++) {
            double[][] lg = logits(ids);
            double[] last = lg[ids.length - 1];
            int best = 0;
            for (int v = 1; v < last.length; v++) {
                if (last[v] > last[best]) {
                    best = v;
                }
            }
            ids = java.util.Arrays.copyOf(ids, ids.length + 1);
            ids[ids.length - 1] = best;
        }
        return ids;
    }

    private double act(double x) {
        return switch (c.activation()) {
            case GELU_NEW, GELU_PYTORCH_TANH -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            case RELU -> Math.max(0, x);
            default -> throw new UnsupportedOperationException(c.activation().toString());
        };
    }

    private double[][] attention(double[][] qkv, int layer) {
        int n = qkv.length, d = c.embd(), H = c.heads(), dh = d / H;
        double[][] out = new double[n][d];
        double scale = (c.scaleAttnWeights() ? 1 / Math.sqrt(dh) : 1) / (c.scaleAttnByInverseLayerIdx() ? layer + 1 : 1);
        for (int h = 0; h < H; h++) {
            for (int i = 0; i < n; i++) {
                double[] s = new double[i + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= i; j++) {
                    double dot = 0;
                    for (int k = 0; k < dh; k++) {
                        dot += qkv[i][h * dh + k] * qkv[j][d + h * dh + k];
                    }
                    s[j] = dot * scale;
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j <= i; j++) {
                    s[j] = Math.exp(s[j] - max);
                    sum += s[j];
                }
                for (int j = 0; j <= i; j++) {
                    for (int k = 0; k < dh; k++) {
                        out[i][h * dh + k] += s[j] / sum * qkv[j][2 * d + h * dh + k];
                    }
                }
            }
        }
        return out;
    }

    private double[][] ln(double[][] x, float[] g, float[] b) {
        double[][] y = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            double m = 0, v = 0;
            for (double e : x[i]) {
                m += e;
            }
            m /= x[i].length;
            for (double e : x[i]) {
                v += (e - m) * (e - m);
            }
            v /= x[i].length;
            y[i] = new double[x[i].length];
            for (int j = 0; j < x[i].length; j++) {
                y[i][j] = (x[i][j] - m) / Math.sqrt(v + c.lnEpsilon()) * g[j] + b[j];
            }
        }
        return y;
    }

    private static double[][] linear(double[][] x, org.privllm.tensor.Matrix W, float[] bias) {
        double[][] y = new double[x.length][W.cols];
        for (int i = 0; i < x.length; i++) {
            for (int k = 0; k < W.rows; k++) {
                double xv = x[i][k];
                int o = k * W.cols;
                for (int j = 0; j < W.cols; j++) {
                    y[i][j] += xv * W.data[o + j];
                }
            }
            for (int j = 0; j < W.cols; j++) {
                y[i][j] += bias[j];
            }
        }
        return y;
    }

    private static void add(double[][] h, double[][] x) {
        for (int i = 0; i < h.length; i++) {
            for (int j = 0; j < h[i].length; j++) {
                h[i][j] += x[i][j];
            }
        }
    }

    static List<Integer> ids(int... v) {
        return java.util.Arrays.stream(v).boxed().toList();
    }
}
