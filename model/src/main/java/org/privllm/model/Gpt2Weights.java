package org.privllm.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.privllm.tensor.Matrix;

/**
 * GPT-2's parameters in float32, as HuggingFace names and shapes them (Conv1D weights are
 * {@code in×out}). Loaded from {@code model.safetensors} or a sharded
 * {@code model.safetensors.index.json}; keys with or without the {@code transformer.} prefix.
 */
public record Gpt2Weights(Matrix wte, Matrix wpe, List<Layer> layers, float[] lnFGamma, float[] lnFBeta,
                          Matrix lmHead) {

    /** One transformer block. */
    public record Layer(float[] ln1Gamma, float[] ln1Beta, Matrix cAttn, float[] cAttnBias, Matrix cProj,
                        float[] cProjBias, float[] ln2Gamma, float[] ln2Beta, Matrix cFc, float[] cFcBias,
                        Matrix mlpProj, float[] mlpProjBias) {}

    /** The LM head as {@code V×D} (tied to {@code wte} unless the checkpoint has its own). */
    public Matrix head() {
        return lmHead == null ? wte : lmHead;
    }

    public static Gpt2Weights load(Path dir, Gpt2Config c) {
        try (Shards s = Shards.open(dir)) {
            int d = c.embd();
            List<Layer> layers = new ArrayList<>();
            for (int i = 0; i < c.layers(); i++) {
                String p = "h." + i + ".";
                layers.add(new Layer(
                        s.vector(p + "ln_1.weight", d), s.vector(p + "ln_1.bias", d),
                        s.matrix(p + "attn.c_attn.weight", d, 3 * d), s.vector(p + "attn.c_attn.bias", 3 * d),
                        s.matrix(p + "attn.c_proj.weight", d, d), s.vector(p + "attn.c_proj.bias", d),
                        s.vector(p + "ln_2.weight", d), s.vector(p + "ln_2.bias", d),
                        s.matrix(p + "mlp.c_fc.weight", d, c.inner()), s.vector(p + "mlp.c_fc.bias", c.inner()),
                        s.matrix(p + "mlp.c_proj.weight", c.inner(), d), s.vector(p + "mlp.c_proj.bias", d)));
            }
            Matrix wte = s.matrix("wte.weight", c.vocab(), d);
            Matrix lmHead = null;
            if (s.hasExact("lm_head.weight")) {
                Matrix h = s.matrixExact("lm_head.weight", c.vocab(), d);
                lmHead = java.util.Arrays.equals(h.data, wte.data) ? null : h;
            }
            return new Gpt2Weights(wte, s.matrix("wpe.weight", c.positions(), d), List.copyOf(layers),
                    s.vector("ln_f.weight", d), s.vector("ln_f.bias", d), lmHead);
        }
    }

    /** All safetensors files of a checkpoint, addressed by tensor name. */
    private static final class Shards implements AutoCloseable {
        private final Map<String, SafeTensors> byName = new HashMap<>();
        private final List<SafeTensors> open = new ArrayList<>();
        private final Path dir;

        private Shards(Path dir) {
            this.dir = dir;
        }

        static Shards open(Path dir) {
            Shards s = new Shards(dir);
            try {
                Path single = dir.resolve("model.safetensors");
                Path index = dir.resolve("model.safetensors.index.json");
                if (Files.exists(single)) {
                    s.add(SafeTensors.open(single));
                } else if (Files.exists(index)) {
                    s.addIndexed(index);
                } else {
                    throw new ModelFormatException(dir + ": no model.safetensors or model.safetensors.index.json");
                }
                return s;
            } catch (RuntimeException e) {
                s.close();
                throw e;
            }
        }

        private void add(SafeTensors st) {
            open.add(st);
            for (String name : st.entries().keySet()) {
                byName.put(name, st);
            }
        }

        private void addIndexed(Path index) {
            JsonNode map;
            try {
                map = new ObjectMapper().readTree(Files.readAllBytes(index)).get("weight_map");
            } catch (IOException e) {
                throw new ModelFormatException(index + ": not valid JSON");
            }
            if (map == null || !map.isObject()) {
                throw new ModelFormatException(index + ": no weight_map object");
            }
            Map<String, SafeTensors> files = new HashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String fname = e.getValue().asText();
                if (fname.contains("/") || fname.contains("\\") || fname.startsWith(".")) {
                    throw new ModelFormatException(index + ": shard name '" + fname + "' must be a plain file name");
                }
                SafeTensors st = files.get(fname);
                if (st == null) {
                    st = SafeTensors.open(dir.resolve(fname));
                    files.put(fname, st);
                    open.add(st);
                }
                if (!st.has(e.getKey())) {
                    throw new ModelFormatException(index + ": tensor '" + e.getKey() + "' is not in " + fname);
                }
                byName.put(e.getKey(), st);
            }
        }

        private String resolve(String name) {
            if (byName.containsKey("transformer." + name)) {
                return "transformer." + name;
            }
            if (byName.containsKey(name)) {
                return name;
            }
            throw new ModelFormatException(dir + ": checkpoint lacks tensor '" + name + "' (or 'transformer." + name + "')");
        }

        boolean hasExact(String name) {
            return byName.containsKey(name);
        }

        Matrix matrixExact(String name, int rows, int cols) {
            return byName.get(name).matrix(name, rows, cols);
        }

        Matrix matrix(String name, int rows, int cols) {
            String key = resolve(name);
            return byName.get(key).matrix(key, rows, cols);
        }

        float[] vector(String name, int n) {
            String key = resolve(name);
            return byName.get(key).vector(key, n);
        }

        @Override
        public void close() {
            open.forEach(SafeTensors::close);
        }
    }
}
