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
import org.privllm.tensor.Matrix;

/** Reads a transcript folder written by {@link DiskTranscript} (see {@code docs/transcript-format.md}). */
public final class TranscriptReader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SHAPE = Pattern.compile("'shape': \\((\\d+),(?: (\\d+))?\\)");

    private TranscriptReader() {}

    /** One recorded call; tensors are loaded on demand. */
    public record Call(Path dir, long seq, String session, String call, int layer, JsonNode args, List<String> tensorNames,
                       List<String> files) {
        /** The named tensor as a matrix (a 1-D tensor becomes one row), or null if the call had none by that name. */
        public Matrix tensor(String name) {
            int i = tensorNames.indexOf(name);
            return i < 0 ? null : readNpy(dir.resolve(files.get(i)));
        }
    }

    public static List<Call> read(Path dir) {
        List<Call> calls = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(dir.resolve("index.jsonl"), StandardCharsets.UTF_8)) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode n = JSON.readTree(line);
                List<String> names = new ArrayList<>(), files = new ArrayList<>();
                for (JsonNode t : n.get("tensors")) {
                    names.add(t.get("name").asText());
                    files.add(t.get("file").asText());
                }
                calls.add(new Call(dir, n.get("seq").asLong(), n.get("session").asText(), n.get("call").asText(),
                        n.get("layer").asInt(), n.get("args"), names, files));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read transcript " + dir + ": " + e.getMessage(), e);
        }
        return calls;
    }

    /** A float32 little-endian C-order .npy file of one or two dimensions. */
    public static Matrix readNpy(Path file) {
        try {
            byte[] raw = Files.readAllBytes(file);
            ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            if (raw.length < 10 || (raw[0] & 0xff) != 0x93 || raw[6] != 1) {
                throw new IllegalArgumentException(file + " is not a version-1 .npy file");
            }
            int headerLen = Short.toUnsignedInt(buf.getShort(8));
            String header = new String(raw, 10, headerLen, StandardCharsets.US_ASCII);
            Matcher m = SHAPE.matcher(header);
            if (!header.contains("'<f4'") || header.contains("'fortran_order': True") || !m.find()) {
                throw new IllegalArgumentException(file + ": only float32 little-endian C-order 1-D/2-D arrays are read");
            }
            int rows = m.group(2) == null ? 1 : Integer.parseInt(m.group(1));
            int cols = Integer.parseInt(m.group(2) == null ? m.group(1) : m.group(2));
            float[] data = new float[rows * cols];
            buf.position(10 + headerLen);
            buf.asFloatBuffer().get(data);
            return new Matrix(rows, cols, data);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
