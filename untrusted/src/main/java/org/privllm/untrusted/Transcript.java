package org.privllm.untrusted;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.privllm.protocol.SessionId;
import org.privllm.tensor.DoubleMatrix;
import org.privllm.tensor.Matrix;

/**
 * Everything an executor received, in arrival order: the executor's whole view of a run. Tests scan it
 * for leaks now; the leakage lab attacks it later. Recording is optional and off by default (pass a
 * transcript to {@link InProcessExecutor#InProcessExecutor(Transcript)}); every tensor is a copy, so
 * later changes by either side cannot alter the record.
 */
public final class Transcript {

    /** What kind of request an entry records. */
    public enum Kind { OPEN_SESSION, CLOSE_SESSION, UPLOAD_LINEAR, LINEAR, LINEAR64, START_CACHE, ATTENTION, ADVANCE_CACHE }

    /**
     * One named tensor of a request (a vector such as a bias is recorded as a 1×n matrix): float32 in
     * {@code value}, or float64 (the blinded levels' wide wire) in {@code wide}; exactly one is set.
     */
    public record Tensor(String name, Matrix value, DoubleMatrix wide) {
        public Tensor(String name, Matrix value) {
            this(name, value, null);
        }

        public Tensor {
            if ((value == null) == (wide == null)) {
                throw new IllegalArgumentException("a transcript tensor is either float32 or float64");
            }
        }

        public String shape() {
            return value != null ? value.shape() : wide.shape();
        }

        @Override
        public String toString() {
            return name + "[" + shape() + (wide != null ? " f64" : "") + "]";
        }
    }

    /**
     * One request.
     *
     * @param layer  the layer the request names, or -1
     * @param weight the weight id it names or creates, or -1
     * @param args   public scalar arguments (cache shape, t, heads, scale), in argument order
     */
    public record Entry(long seq, Kind kind, SessionId session, int layer, long weight, List<Tensor> tensors,
                        List<Number> args) {
        /** The float32 tensor recorded under {@code name}, or null. */
        public Matrix tensor(String name) {
            for (Tensor t : tensors) {
                if (t.name.equals(name)) {
                    return t.value;
                }
            }
            return null;
        }

        /** The float64 tensor recorded under {@code name}, or null. */
        public DoubleMatrix wide(String name) {
            for (Tensor t : tensors) {
                if (t.name.equals(name)) {
                    return t.wide;
                }
            }
            return null;
        }

        @Override
        public String toString() {
            return seq + " " + kind + " layer=" + layer + " weight=" + weight + " " + tensors + " " + args;
        }
    }

    private final List<Entry> entries = new ArrayList<>();

    synchronized void record(Kind kind, SessionId session, int layer, long weight, List<Tensor> tensors,
                             List<Number> args) {
        entries.add(new Entry(entries.size(), kind, session, layer, weight, List.copyOf(tensors), List.copyOf(args)));
    }

    /** A snapshot of the entries so far, in order. */
    public synchronized List<Entry> entries() {
        return Collections.unmodifiableList(new ArrayList<>(entries));
    }

    /** Every tensor received so far, in order. */
    public synchronized List<Tensor> tensors() {
        List<Tensor> all = new ArrayList<>();
        for (Entry e : entries) {
            all.addAll(e.tensors());
        }
        return all;
    }

    public synchronized int size() {
        return entries.size();
    }

    public synchronized void clear() {
        entries.clear();
    }

    /** A tensor entry holding a private copy of {@code m} (null stays absent). */
    static void add(List<Tensor> out, String name, Matrix m) {
        if (m != null) {
            out.add(new Tensor(name, m.copy()));
        }
    }

    static void add(List<Tensor> out, String name, DoubleMatrix m) {
        if (m != null) {
            out.add(new Tensor(name, null, m.copy()));
        }
    }

    static void add(List<Tensor> out, String name, float[] v) {
        if (v != null) {
            out.add(new Tensor(name, Matrix.rowVector(v.clone())));
        }
    }
}
