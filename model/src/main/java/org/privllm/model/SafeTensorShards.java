package org.privllm.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.privllm.tensor.Matrix;

/**
 * All safetensors files of a HuggingFace checkpoint directory, addressed by tensor name: either
 * {@code model.safetensors} or the shards named by {@code model.safetensors.index.json}. Every file
 * is memory-mapped and its header validated on open ({@link SafeTensors}); the index may only name
 * plain files in the directory, and each tensor must be in the shard the index says.
 */
public final class SafeTensorShards implements AutoCloseable {
    private final Map<String, SafeTensors> byName = new HashMap<>();
    private final List<SafeTensors> open = new ArrayList<>();
    private final Path dir;

    private SafeTensorShards(Path dir) {
        this.dir = dir;
    }

    public static SafeTensorShards open(Path dir) {
        SafeTensorShards s = new SafeTensorShards(dir);
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

    public Path dir() {
        return dir;
    }

    public boolean has(String name) {
        return byName.containsKey(name);
    }

    public Set<String> names() {
        return Collections.unmodifiableSet(byName.keySet());
    }

    /** The tensor's header entry (dtype, shape); a one-line error when absent. */
    public SafeTensors.Entry entry(String name) {
        return file(name).entries().get(name);
    }

    /** The tensor as a {@code rows×cols} float32 matrix; a one-line error naming it when absent or of another shape. */
    public Matrix matrix(String name, int rows, int cols) {
        return file(name).matrix(name, rows, cols);
    }

    public float[] vector(String name, int n) {
        return file(name).vector(name, n);
    }

    /** Whether two tensors have the same shape and values ({@link SafeTensors#sameValues}). */
    public boolean sameValues(String a, String b) {
        return file(a).sameValues(a, file(b), b);
    }

    private SafeTensors file(String name) {
        SafeTensors st = byName.get(name);
        if (st == null) {
            throw new ModelFormatException(dir + ": checkpoint lacks tensor '" + name + "'");
        }
        return st;
    }

    @Override
    public void close() {
        open.forEach(SafeTensors::close);
    }
}
