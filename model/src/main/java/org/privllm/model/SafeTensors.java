package org.privllm.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.privllm.tensor.Matrix;

/**
 * A memory-mapped {@code .safetensors} file. The header is validated completely on open: every
 * tensor's offsets lie inside the data section, no two overlap, and shape × dtype size equals its
 * byte length. Tensors are read on demand and converted to float32.
 */
public final class SafeTensors implements AutoCloseable {
    /** Header size bound: real headers are kilobytes; refuse absurd lengths before allocating. */
    private static final long MAX_HEADER = 100L << 20;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor's header entry. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            return n;
        }
    }

    public enum DType {
        F32(4), F16(2), BF16(2);

        final int size;

        DType(int size) {
            this.size = size;
        }
    }

    private final Path file;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, Entry> entries;

    private SafeTensors(Path file, Arena arena, MemorySegment data, Map<String, Entry> entries) {
        this.file = file;
        this.arena = arena;
        this.data = data;
        this.entries = entries;
    }

    public static SafeTensors open(Path file) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw bad(file, "truncated: " + size + " bytes, no header length");
            }
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLen = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen < 2 || headerLen > MAX_HEADER || headerLen > size - 8) {
                throw bad(file, "header length " + Long.toUnsignedString(headerLen) + " does not fit a file of "
                        + size + " bytes (truncated or not safetensors)");
            }
            byte[] header = all.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment data = all.asSlice(8 + headerLen);
            Map<String, Entry> entries = parseHeader(file, header, data.byteSize());
            return new SafeTensors(file, arena, data, entries);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new ModelFormatException(file + ": not found");
        } catch (IOException e) {
            arena.close();
            throw new ModelFormatException(file + ": cannot read (" + e.getMessage() + ")");
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Map<String, Entry> parseHeader(Path file, byte[] header, long dataSize) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(header);
        } catch (IOException e) {
            throw bad(file, "header is not valid JSON");
        }
        if (root == null || !root.isObject()) {
            throw bad(file, "header is not a JSON object");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (f.getKey().equals("__metadata__")) {
                continue;
            }
            entries.put(f.getKey(), parseEntry(file, f.getKey(), f.getValue(), dataSize));
        }
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort((a, b) -> Long.compare(a.begin, b.begin));
        for (int i = 1; i < sorted.size(); i++) {
            Entry prev = sorted.get(i - 1), cur = sorted.get(i);
            if (cur.begin < prev.end) {
                throw bad(file, "tensors '" + prev.name + "' and '" + cur.name + "' overlap");
            }
        }
        return Collections.unmodifiableMap(entries);
    }

    private static Entry parseEntry(Path file, String name, JsonNode n, long dataSize) {
        if (!n.isObject()) {
            throw bad(file, "tensor '" + name + "' has no header object");
        }
        DType dtype;
        try {
            dtype = DType.valueOf(n.path("dtype").asText(""));
        } catch (IllegalArgumentException e) {
            throw bad(file, "tensor '" + name + "' has unsupported dtype '" + n.path("dtype").asText("") + "' (F32, F16, BF16)");
        }
        JsonNode shapeNode = n.get("shape"), offs = n.get("data_offsets");
        if (shapeNode == null || !shapeNode.isArray() || offs == null || !offs.isArray() || offs.size() != 2) {
            throw bad(file, "tensor '" + name + "' lacks shape or data_offsets");
        }
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode s = shapeNode.get(i);
            if (!s.isIntegralNumber() || s.asLong() < 0) {
                throw bad(file, "tensor '" + name + "' has a bad shape " + shapeNode);
            }
            shape[i] = s.asLong();
            elements = Math.multiplyExact(elements, shape[i]);
        }
        if (!offs.get(0).isIntegralNumber() || !offs.get(1).isIntegralNumber()) {
            throw bad(file, "tensor '" + name + "' has bad data_offsets " + offs);
        }
        long begin = offs.get(0).asLong(), end = offs.get(1).asLong();
        if (begin < 0 || end < begin || end > dataSize) {
            throw bad(file, "tensor '" + name + "' data_offsets [" + begin + ", " + end
                    + "] lie outside the data section of " + dataSize + " bytes");
        }
        if (end - begin != elements * dtype.size) {
            throw bad(file, "tensor '" + name + "' byte length " + (end - begin) + " != shape " + shapeNode
                    + " x " + dtype + " (" + elements * dtype.size + " bytes)");
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static ModelFormatException bad(Path file, String what) {
        return new ModelFormatException(file + ": " + what);
    }

    public Path file() {
        return file;
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public boolean has(String name) {
        return entries.containsKey(name);
    }

    /** Reads a tensor as float32, flattened row-major. */
    public float[] floats(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw bad(file, "missing tensor '" + name + "'");
        }
        if (e.elements() > Integer.MAX_VALUE - 8) {
            throw bad(file, "tensor '" + name + "' is too large for one array");
        }
        int n = (int) e.elements();
        float[] out = new float[n];
        MemorySegment seg = data.asSlice(e.begin, e.end - e.begin);
        switch (e.dtype) {
            case F32 -> MemorySegment.copy(seg, F32, 0, out, 0, n);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.float16ToFloat(seg.getAtIndex(I16, i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((seg.getAtIndex(I16, i) & 0xffff) << 16);
                }
            }
        }
        return out;
    }

    /**
     * Reads a tensor as a matrix of the expected shape; a 1-D tensor of length n is a 1×n matrix.
     * Any other shape is a one-line error naming the tensor.
     */
    public Matrix matrix(String name, int rows, int cols) {
        Entry e = entries.get(name);
        if (e == null) {
            throw bad(file, "missing tensor '" + name + "'");
        }
        boolean ok = (e.shape.length == 2 && e.shape[0] == rows && e.shape[1] == cols)
                || (e.shape.length == 1 && rows == 1 && e.shape[0] == cols);
        if (!ok) {
            throw bad(file, "tensor '" + name + "' has shape " + java.util.Arrays.toString(e.shape) + ", expected ["
                    + (rows == 1 ? "" + cols : rows + ", " + cols) + "]");
        }
        return new Matrix(rows, cols, floats(name));
    }

    public float[] vector(String name, int n) {
        return matrix(name, 1, n).data;
    }

    /**
     * Whether tensor {@code name} here and tensor {@code otherName} of {@code other} have the same shape and
     * values: compared as stored, in the mapped files, when their dtypes agree (a tied LM head saved twice is
     * not read into the heap to find out); as float32 otherwise.
     */
    public boolean sameValues(String name, SafeTensors other, String otherName) {
        Entry a = entries.get(name), b = other.entries.get(otherName);
        if (a == null || b == null) {
            throw bad(a == null ? file : other.file, "missing tensor '" + (a == null ? name : otherName) + "'");
        }
        if (!java.util.Arrays.equals(a.shape, b.shape)) {
            return false;
        }
        if (a.dtype == b.dtype) {
            return MemorySegment.mismatch(data, a.begin, a.end, other.data, b.begin, b.end) < 0;
        }
        return java.util.Arrays.equals(floats(name), other.floats(otherName));
    }

    @Override
    public void close() {
        arena.close();
    }
}
