package org.privllm.untrusted.server;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Everything an executor receives, on disk (format: {@code docs/transcript-format.md}): one JSON line
 * per call in {@code index.jsonl}, each tensor in its own {@code .npy} file (float32, or float64 for
 * the wide wire; little-endian, C order) under a folder per session. Thread-safe; each line is flushed as it is written, so a
 * killed executor leaves a readable prefix.
 */
public final class DiskTranscript implements AutoCloseable {
    private final Path dir;
    private final BufferedWriter index;
    private long seq;
    private int sessions;

    public DiskTranscript(Path dir) {
        this.dir = dir;
        if (Files.exists(dir.resolve("index.jsonl"))) {
            // a restarted executor would overwrite the earlier sessions' files: keep every transcript whole
            throw new IllegalArgumentException("--transcript " + dir + " already holds a transcript: give a new or empty folder");
        }
        try {
            Files.createDirectories(dir);
            this.index = Files.newBufferedWriter(dir.resolve("index.jsonl"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write transcript to " + dir + ": " + e.getMessage(), e);
        }
    }

    /** A new session label ({@code s000001}, ...): the wire session id is a capability and is not written. */
    public synchronized String newSession() {
        return String.format("s%06d", ++sessions);
    }

    /**
     * One named tensor of a call: a matrix (2-D) or a vector (1-D, {@code rows < 0}), float32 in {@code data}
     * or float64 in {@code wide} (at most one is set; neither: the call did not carry it).
     */
    public record Item(String name, int rows, int cols, float[] data, double[] wide) {
        public Item(String name, int rows, int cols, float[] data) {
            this(name, rows, cols, data, null);
        }

        boolean present() {
            return data != null || wide != null;
        }

        String dtype() {
            return wide != null ? "<f8" : "<f4";
        }
    }

    /**
     * Appends one call.
     *
     * @param args public scalars of the call (ids, t, heads, scale, cache shape), written as JSON
     */
    public synchronized void record(String session, String call, int layer, Map<String, Object> args, List<Item> tensors) {
        long n = ++seq;
        try {
            Files.createDirectories(dir.resolve(session));
            StringBuilder line = new StringBuilder(256);
            line.append("{\"seq\":").append(n).append(",\"session\":\"").append(session).append("\",\"call\":\"")
                    .append(call).append("\",\"layer\":").append(layer).append(",\"args\":{");
            int i = 0;
            for (var e : args.entrySet()) {
                line.append(i++ == 0 ? "" : ",").append('"').append(e.getKey()).append("\":").append(json(e.getValue()));
            }
            line.append("},\"tensors\":[");
            List<String> parts = new ArrayList<>();
            for (Item t : tensors) {
                if (!t.present()) {
                    continue;
                }
                String file = session + "/" + String.format("%08d", n) + "-" + t.name() + ".npy";
                writeNpy(dir.resolve(file), t);
                String shape = t.rows() < 0 ? "[" + t.cols() + "]" : "[" + t.rows() + "," + t.cols() + "]";
                parts.add("{\"name\":\"" + t.name() + "\",\"dtype\":\"" + t.dtype() + "\",\"shape\":" + shape + ",\"file\":\"" + file + "\"}");
            }
            line.append(String.join(",", parts)).append("]}\n");
            index.write(line.toString());
            index.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("transcript write failed: " + e.getMessage(), e);
        }
    }

    private static String json(Object v) {
        if (v instanceof int[] a) {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < a.length; i++) {
                b.append(i == 0 ? "" : ",").append(a[i]);
            }
            return b.append(']').toString();
        }
        if (v instanceof Float f && !Float.isFinite(f)) {
            return "\"" + f + "\"";
        }
        return String.valueOf(v);
    }

    /** NumPy's .npy v1.0: magic, header length, a Python dict literal padded to 64 bytes, raw data. */
    static void writeNpy(Path file, Item t) throws IOException {
        String shape = t.rows() < 0 ? "(" + t.cols() + ",)" : "(" + t.rows() + ", " + t.cols() + ")";
        StringBuilder header = new StringBuilder("{'descr': '" + t.dtype() + "', 'fortran_order': False, 'shape': " + shape + ", }");
        while ((10 + header.length() + 1) % 64 != 0) {
            header.append(' ');
        }
        header.append('\n');
        int bytes = t.wide() != null ? 8 * t.wide().length : 4 * t.data().length;
        ByteBuffer buf = ByteBuffer.allocate(10 + header.length() + bytes).order(ByteOrder.LITTLE_ENDIAN);
        buf.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        buf.putShort((short) header.length()).put(header.toString().getBytes(StandardCharsets.US_ASCII));
        if (t.wide() != null) {
            buf.asDoubleBuffer().put(t.wide());
        } else {
            buf.asFloatBuffer().put(t.data());
        }
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(buf.array());
        }
    }

    @Override
    public synchronized void close() {
        try {
            index.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
