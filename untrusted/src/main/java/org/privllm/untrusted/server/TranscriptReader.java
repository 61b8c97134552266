package org.privllm.untrusted.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;

/** Reads a transcript folder written by {@link DiskTranscript} (see {@code docs/transcript-format.md}). */
public final class TranscriptReader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SHAPE = Pattern.compile("'shape': \\((\\d+),(?: (\\d+))?\\)");

    private TranscriptReader() {}

    /** One recorded call; tensors are loaded on demand ({@code shapes}: rows, cols; a vector is one row). */
    public record Call(Path dir, long seq, String session, String call, int layer, JsonNode args, List<String> tensorNames,
                       List<String> files, List<int[]> shapes) {
        /** The named tensor as a matrix (a 1-D tensor becomes one row), or null if the call had none by that name. */
        public Matrix tensor(String name) {
            int i = tensorNames.indexOf(name);
            return i < 0 ? null : readNpy(dir.resolve(files.get(i)));
        }

        /** The named float64 tensor (the wide wire of {@code linear64}), or null if the call had none by that name. */
        public DoubleMatrix wide(String name) {
            int i = tensorNames.indexOf(name);
            return i < 0 ? null : readNpyWide(dir.resolve(files.get(i)));
        }

        /** The named tensor's shape {@code {rows, cols}} from the index, without reading it, or null. */
        public int[] shape(String name) {
            int i = tensorNames.indexOf(name);
            return i < 0 ? null : shapes.get(i).clone();
        }
    }

    /**
     * Every call in {@code dir/index.jsonl}, in order. A malformed line fails with its line number; a
     * last line cut short (an executor killed while writing it) is dropped, as that call never ran.
     */
    public static List<Call> read(Path dir) {
        String text;
        try {
            text = Files.readString(dir.resolve("index.jsonl"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read transcript " + dir + ": " + e.getMessage(), e);
        }
        // every complete line ends in '\n' (the writer flushes whole lines): without one, the last was cut short
        boolean cut = !text.isEmpty() && !text.endsWith("\n");
        List<String> lines = text.lines().toList();
        List<Call> calls = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            try {
                calls.add(parse(dir, JSON.readTree(line)));
            } catch (IOException | RuntimeException e) {
                if (cut && i == lines.size() - 1) {
                    break;
                }
                throw new IllegalArgumentException("transcript " + dir + ": index.jsonl line " + (i + 1) + " is malformed");
            }
        }
        return calls;
    }

    private static Call parse(Path dir, JsonNode n) {
        List<String> names = new ArrayList<>(), files = new ArrayList<>();
        List<int[]> shapes = new ArrayList<>();
        for (JsonNode t : n.get("tensors")) {
            names.add(t.get("name").asText());
            files.add(t.get("file").asText());
            JsonNode sh = t.get("shape");
            shapes.add(sh.size() == 1 ? new int[] {1, sh.get(0).asInt()} : new int[] {sh.get(0).asInt(), sh.get(1).asInt()});
        }
        return new Call(dir, n.get("seq").asLong(), n.get("session").asText(), n.get("call").asText(),
                n.get("layer").asInt(), n.get("args"), names, files, shapes);
    }

    /** A float32 little-endian C-order .npy file of one or two dimensions. */
    public static Matrix readNpy(Path file) {
        Npy a = Npy.read(file, "<f4");
        float[] data = new float[a.rows * a.cols];
        a.data.asFloatBuffer().get(data);
        return new Matrix(a.rows, a.cols, data);
    }

    /** A float64 little-endian C-order .npy file of one or two dimensions. */
    public static DoubleMatrix readNpyWide(Path file) {
        Npy a = Npy.read(file, "<f8");
        double[] data = new double[a.rows * a.cols];
        a.data.asDoubleBuffer().get(data);
        return new DoubleMatrix(a.rows, a.cols, data);
    }

    /** A parsed .npy header (a vector is one row) and its data. */
    private record Npy(int rows, int cols, ByteBuffer data) {
        static Npy read(Path file, String dtype) {
            try {
                byte[] raw = Files.readAllBytes(file);
                ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
                if (raw.length < 10 || (raw[0] & 0xff) != 0x93 || raw[6] != 1) {
                    throw new IllegalArgumentException(file + " is not a version-1 .npy file");
                }
                int headerLen = Short.toUnsignedInt(buf.getShort(8));
                String header = new String(raw, 10, headerLen, StandardCharsets.US_ASCII);
                Matcher m = SHAPE.matcher(header);
                if (!header.contains("'" + dtype + "'") || header.contains("'fortran_order': True") || !m.find()) {
                    throw new IllegalArgumentException(file + ": expected a " + dtype + " C-order 1-D/2-D array");
                }
                int rows = m.group(2) == null ? 1 : Integer.parseInt(m.group(1));
                int cols = Integer.parseInt(m.group(2) == null ? m.group(1) : m.group(2));
                buf.position(10 + headerLen);
                return new Npy(rows, cols, buf.slice().order(ByteOrder.LITTLE_ENDIAN));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
            }
        }
    }
}
