package org.privllm.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes tensors in the safetensors layout (used by fixtures and adapters): float32 by default, or
 * rounded to F16 / BF16 (round to nearest even), in one file or as HuggingFace shards with an index.
 */
public final class SafeTensorsWriter {
    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private final Map<String, float[]> tensors = new LinkedHashMap<>();
    private final SafeTensors.DType dtype;

    public SafeTensorsWriter() {
        this(SafeTensors.DType.F32);
    }

    public SafeTensorsWriter(SafeTensors.DType dtype) {
        this.dtype = dtype;
    }

    public SafeTensorsWriter put(String name, float[] data, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        if (n != data.length) {
            throw new IllegalArgumentException(name + ": " + data.length + " values for shape " + List.of(shape));
        }
        shapes.put(name, shape.clone());
        tensors.put(name, data);
        return this;
    }

    public void write(Path file) {
        write(file, new ArrayList<>(tensors.keySet()));
    }

    /**
     * Writes a checkpoint directory: {@code model.safetensors} when {@code shards} is 1, otherwise
     * {@code model-0000i-of-0000n.safetensors} files of about equal size plus
     * {@code model.safetensors.index.json}, as HuggingFace's {@code save_pretrained} lays them out.
     */
    public void writeCheckpoint(Path dir, int shards) {
        if (shards <= 1) {
            write(dir.resolve("model.safetensors"));
            return;
        }
        List<String> names = new ArrayList<>(tensors.keySet());
        shards = Math.min(shards, names.size());
        long total = 0;
        for (float[] t : tensors.values()) {
            total += (long) t.length * dtype.size;
        }
        Map<String, Object> weightMap = new LinkedHashMap<>();
        long written = 0;
        int next = 0;
        for (int k = 0; k < shards; k++) {
            String file = String.format("model-%05d-of-%05d.safetensors", k + 1, shards);
            long target = total * (k + 1) / shards;
            List<String> part = new ArrayList<>();
            do { // at least one tensor per shard; the last takes the rest
                written += weight(names.get(next));
                part.add(names.get(next++));
            } while (next < names.size() - (shards - 1 - k) && (k == shards - 1 || written < target));
            part.forEach(n -> weightMap.put(n, file));
            write(dir.resolve(file), part);
        }
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("metadata", Map.of("total_size", total));
        index.put("weight_map", weightMap);
        try {
            Files.write(dir.resolve("model.safetensors.index.json"), new ObjectMapper().writeValueAsBytes(index));
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write the index (" + e.getMessage() + ")", e);
        }
    }

    private long weight(String name) {
        return (long) tensors.get(name).length * dtype.size;
    }

    private void write(Path file, List<String> names) {
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", Map.of("format", "pt"));
        long off = 0;
        for (String name : names) {
            long len = weight(name);
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("dtype", dtype.name());
            e.put("shape", shapes.get(name));
            e.put("data_offsets", new long[] {off, off + len});
            header.put(name, e);
            off += len;
        }
        try {
            byte[] json = new ObjectMapper().writeValueAsBytes(header);
            int padded = (json.length + 7) / 8 * 8;
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
                out.write(len.array());
                out.write(json);
                out.write(" ".repeat(padded - json.length).getBytes(StandardCharsets.US_ASCII));
                ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
                for (String name : names) {
                    for (float v : tensors.get(name)) {
                        if (buf.remaining() < 4) {
                            out.write(buf.array(), 0, buf.position());
                            buf.clear();
                        }
                        switch (dtype) {
                            case F32 -> buf.putFloat(v);
                            case F16 -> buf.putShort(Float.floatToFloat16(v));
                            case BF16 -> buf.putShort(toBfloat16(v));
                        }
                    }
                }
                out.write(buf.array(), 0, buf.position());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write (" + e.getMessage() + ")", e);
        }
    }

    /** The upper half of a float32, rounded to nearest even (NaN kept a NaN). */
    static short toBfloat16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }
}
