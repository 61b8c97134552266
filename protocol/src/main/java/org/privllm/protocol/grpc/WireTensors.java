package org.privllm.protocol.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.privllm.protocol.grpc.proto.Tensor;
import org.privllm.protocol.grpc.proto.Tensor64;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;

/** Matrices and float runs on the wire: packed little-endian float32 (or float64), shapes checked on arrival. */
public final class WireTensors {
    private WireTensors() {}

    public static Tensor toWire(Matrix m) {
        return Tensor.newBuilder().setRows(m.rows).setCols(m.cols).setData(pack(m.data, 0, m.data.length)).build();
    }

    /** Values {@code [from, to)} of {@code v} as little-endian bytes. */
    public static ByteString pack(float[] v, int from, int to) {
        ByteBuffer buf = ByteBuffer.allocate(Math.multiplyExact(to - from, Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(v, from, to - from);
        return UnsafeByteOperations.unsafeWrap(buf.array());
    }

    /** Decodes {@code bytes} into {@code dst[offset..]}; the byte count must be a whole number of floats. */
    public static void unpack(ByteString bytes, float[] dst, int offset) {
        if (bytes.size() % Float.BYTES != 0) {
            throw new IllegalArgumentException("tensor data of " + bytes.size() + " bytes is not a whole number of float32");
        }
        int n = bytes.size() / Float.BYTES;
        if (offset < 0 || offset + (long) n > dst.length) {
            throw new IllegalArgumentException("slice of " + n + " values at " + offset + " overruns " + dst.length);
        }
        bytes.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst, offset, n);
    }

    /**
     * A wire tensor as a matrix, rejecting negative shapes, oversized products and data whose length
     * does not match {@code rows·cols}.
     */
    public static Matrix fromWire(Tensor t, String what) {
        long n = (long) t.getRows() * t.getCols();
        if (t.getRows() < 0 || t.getCols() < 0 || n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(what + ": bad shape " + t.getRows() + "x" + t.getCols());
        }
        if (t.getData().size() != n * Float.BYTES) {
            throw new IllegalArgumentException(what + ": shape " + t.getRows() + "x" + t.getCols() + " needs "
                    + n * Float.BYTES + " bytes, got " + t.getData().size());
        }
        float[] data = new float[(int) n];
        unpack(t.getData(), data, 0);
        return new Matrix(t.getRows(), t.getCols(), data);
    }

    public static Tensor64 toWire(DoubleMatrix m) {
        ByteBuffer buf = ByteBuffer.allocate(Math.multiplyExact(m.data.length, Double.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        buf.asDoubleBuffer().put(m.data);
        return Tensor64.newBuilder().setRows(m.rows).setCols(m.cols).setData(UnsafeByteOperations.unsafeWrap(buf.array()))
                .build();
    }

    /** A float64 wire tensor as a matrix, with the same checks as {@link #fromWire(Tensor, String)}. */
    public static DoubleMatrix fromWire(Tensor64 t, String what) {
        long n = (long) t.getRows() * t.getCols();
        if (t.getRows() < 0 || t.getCols() < 0 || n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(what + ": bad shape " + t.getRows() + "x" + t.getCols());
        }
        if (t.getData().size() != n * Double.BYTES) {
            throw new IllegalArgumentException(what + ": shape " + t.getRows() + "x" + t.getCols() + " needs "
                    + n * Double.BYTES + " bytes, got " + t.getData().size());
        }
        double[] data = new double[(int) n];
        t.getData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(data);
        return new DoubleMatrix(t.getRows(), t.getCols(), data);
    }
}
