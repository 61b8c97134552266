package org.privllm.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * An independent float64 Llama-family decoder written the plainest way (full recomputation, no
 * cache, naive loops), for checking the engine: it reads {@code config.json} itself and the raw
 * HuggingFace tensors ({@code out×in}, unfused), and follows transformers' semantics — RMSNorm,
 * rotate_half RoPE (with llama3 scaling), grouped key/value heads, SwiGLU, biases wherever the
 * checkpoint has them, Qwen3's per-head q/k norm when its weights exist, the LM head tied when
 * {@code tie_word_embeddings} or when there is no {@code lm_head.weight}.
 */
final class ReferenceLlama {
    private final int layers, hidden, heads, kvHeads, headDim, vocab;
    private final double eps;
    private final double[] invFreq;
    private final Map<String, double[]> w = new HashMap<>();
    private final Map<String, long[]> shapes = new HashMap<>();
    private final String head;

    ReferenceLlama(Path dir) {
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(Files.readAllBytes(dir.resolve("config.json")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        layers = c.get("num_hidden_layers").asInt();
        hidden = c.get("hidden_size").asInt();
        heads = c.get("num_attention_heads").asInt();
        kvHeads = c.hasNonNull("num_key_value_heads") ? c.get("num_key_value_heads").asInt() : heads;
        headDim = c.hasNonNull("head_dim") ? c.get("head_dim").asInt() : hidden / heads;
        vocab = c.get("vocab_size").asInt();
        eps = c.hasNonNull("rms_norm_eps") ? c.get("rms_norm_eps").asDouble() : 1e-6;
        double theta = c.hasNonNull("rope_theta") ? c.get("rope_theta").asDouble() : 10000;
        invFreq = new double[headDim / 2];
        for (int i = 0; i < invFreq.length; i++) {
            invFreq[i] = 1 / Math.pow(theta, 2.0 * i / headDim);
        }
        JsonNode rs = c.get("rope_scaling");
        if (rs != null && !rs.isNull()) {
            if (!rs.path("rope_type").asText(rs.path("type").asText("default")).equals("llama3")) {
                throw new IllegalArgumentException("reference: only llama3 rope scaling");
            }
            llama3(rs.get("factor").asDouble(), rs.get("low_freq_factor").asDouble(),
                    rs.get("high_freq_factor").asDouble(), rs.get("original_max_position_embeddings").asDouble());
        }
        try (SafeTensorShards s = SafeTensorShards.open(dir)) {
            for (String name : s.names()) {
                long[] shape = s.entry(name).shape();
                int rows = shape.length == 2 ? (int) shape[0] : 1, cols = (int) shape[shape.length - 1];
                float[] f = s.matrix(name, rows, cols).data;
                double[] d = new double[f.length];
                for (int i = 0; i < f.length; i++) {
                    d[i] = f[i];
                }
                w.put(name, d);
                shapes.put(name, shape);
            }
        }
        boolean tied = c.path("tie_word_embeddings").asBoolean(false);
        head = tied || !w.containsKey("lm_head.weight") ? "model.embed_tokens.weight" : "lm_head.weight";
    }

    /** Llama 3.1's frequency scaling, written from its description: long wavelengths / factor, short kept, the band between interpolated. */
    private void llama3(double factor, double low, double high, double original) {
        for (int i = 0; i < invFreq.length; i++) {
            double wavelength = 2 * Math.PI / invFreq[i];
            if (wavelength < original / high) {
                continue; // high frequency: unchanged
            }
            if (wavelength > original / low) {
                invFreq[i] /= factor; // low frequency: slowed down
            } else {
                double smooth = (original / wavelength - low) / (high - low);
                invFreq[i] = (1 - smooth) * invFreq[i] / factor + smooth * invFreq[i];
            }
        }
    }

    /** Logits of every position, {@code len × vocab}. */
    double[][] logits(int[] ids) {
        int n = ids.length;
        double[] emb = w.get("model.embed_tokens.weight");
        double[][] x = new double[n][hidden];
        for (int i = 0; i < n; i++) {
            System.arraycopy(emb, ids[i] * hidden, x[i], 0, hidden);
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[][] h = rms(x, w.get(p + "input_layernorm.weight"));
            double[][] q = linear(h, p + "self_attn.q_proj"), k = linear(h, p + "self_attn.k_proj");
            double[][] v = linear(h, p + "self_attn.v_proj");
            if (w.containsKey(p + "self_attn.q_norm.weight")) {
                perHeadRms(q, heads, w.get(p + "self_attn.q_norm.weight"));
                perHeadRms(k, kvHeads, w.get(p + "self_attn.k_norm.weight"));
            }
            for (int i = 0; i < n; i++) {
                rope(q[i], heads, i);
                rope(k[i], kvHeads, i);
            }
            add(x, linear(attention(q, k, v), p + "self_attn.o_proj"));
            h = rms(x, w.get(p + "post_attention_layernorm.weight"));
            double[][] gate = linear(h, p + "mlp.gate_proj"), up = linear(h, p + "mlp.up_proj");
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < gate[i].length; j++) {
                    gate[i][j] = gate[i][j] / (1 + Math.exp(-gate[i][j])) * up[i][j];
                }
            }
            add(x, linear(gate, p + "mlp.down_proj"));
        }
        double[][] f = rms(x, w.get("model.norm.weight"));
        double[] hw = w.get(head);
        double[][] out = new double[n][vocab];
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < vocab; t++) {
                double s = 0;
                for (int j = 0; j < hidden; j++) {
                    s += f[i][j] * hw[t * hidden + j];
                }
                out[i][t] = s;
            }
        }
        return out;
    }

    /** Greedy continuation by full recomputation. */
    int[] greedy(int[] prompt, int steps) {
        int[] ids = prompt.clone();
        for (int s = 0; s < steps; s++) {
            double[] last = logits(ids)[ids.length - 1];
            int best = 0;
            for (int t = 1; t < last.length; t++) {
                if (last[t] > last[best]) {
                    best = t;
                }
            }
            ids = java.util.Arrays.copyOf(ids, ids.length + 1);
            ids[ids.length - 1] = best;
        }
        return ids;
    }

    /** Causal softmax attention; query head h reads key/value head h / (heads / kvHeads). */
    private double[][] attention(double[][] q, double[][] k, double[][] v) {
        int n = q.length, group = heads / kvHeads;
        double[][] out = new double[n][heads * headDim];
        for (int h = 0; h < heads; h++) {
            int kh = h / group;
            for (int i = 0; i < n; i++) {
                double[] s = new double[i + 1];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j <= i; j++) {
                    for (int c = 0; c < headDim; c++) {
                        s[j] += q[i][h * headDim + c] * k[j][kh * headDim + c];
                    }
                    s[j] /= Math.sqrt(headDim);
                    max = Math.max(max, s[j]);
                }
                for (int j = 0; j <= i; j++) {
                    s[j] = Math.exp(s[j] - max);
                    sum += s[j];
                }
                for (int j = 0; j <= i; j++) {
                    for (int c = 0; c < headDim; c++) {
                        out[i][h * headDim + c] += s[j] / sum * v[j][kh * headDim + c];
                    }
                }
            }
        }
        return out;
    }

    /** rotate_half: x·cos + (−x₂, x₁)·sin with the angles repeated over both halves. */
    private void rope(double[] x, int n, int pos) {
        int half = headDim / 2;
        for (int h = 0; h < n; h++) {
            double[] y = new double[headDim];
            for (int c = 0; c < headDim; c++) {
                double angle = pos * invFreq[c % half];
                double rotated = c < half ? -x[h * headDim + c + half] : x[h * headDim + c - half];
                y[c] = x[h * headDim + c] * Math.cos(angle) + rotated * Math.sin(angle);
            }
            System.arraycopy(y, 0, x, h * headDim, headDim);
        }
    }

    private void perHeadRms(double[][] x, int n, double[] g) {
        for (double[] row : x) {
            for (int h = 0; h < n; h++) {
                double[] part = java.util.Arrays.copyOfRange(row, h * headDim, (h + 1) * headDim);
                System.arraycopy(rms(new double[][] {part}, g)[0], 0, row, h * headDim, headDim);
            }
        }
    }

    private double[][] rms(double[][] x, double[] g) {
        double[][] y = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            double ms = 0;
            for (double e : x[i]) {
                ms += e * e;
            }
            ms /= x[i].length;
            y[i] = new double[x[i].length];
            for (int j = 0; j < x[i].length; j++) {
                y[i][j] = x[i][j] / Math.sqrt(ms + eps) * g[j];
            }
        }
        return y;
    }

    /** {@code x·Wᵀ + b} for HuggingFace's Linear {@code W (out×in)}; the bias when the checkpoint has one. */
    private double[][] linear(double[][] x, String name) {
        double[] wt = w.get(name + ".weight"), b = w.get(name + ".bias");
        int out = (int) shapes.get(name + ".weight")[0], in = (int) shapes.get(name + ".weight")[1];
        double[][] y = new double[x.length][out];
        for (int i = 0; i < x.length; i++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int k = 0; k < in; k++) {
                    s += x[i][k] * wt[o * in + k];
                }
                y[i][o] = s;
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
}
