package org.privllm.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Arrays;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;
import org.privllm.tensor.PackedWeight;

/**
 * Issue 14's native route measured: OpenBLAS's {@code cblas_sgemm}, called through the FFM API, against the engine's
 * own products on the same values, alternated in one process. GPT-2 124M's 48 linear weights (340 MB, so every rep
 * streams them from memory as a forward pass does), {@code ROWS} rows of activations; each rep runs all 48 products
 * on OpenBLAS (row-major {@code C = A·W}, the weight as it is stored, 2 threads) and then on {@link Kernels#matmul}
 * over the same values packed once, with a pause between the two (see {@link #QUIET_MS}); each side runs its 48
 * products twice and times the second pass. Medians and bests of the reps; the two results are compared (they must agree to
 * float rounding).
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar \
 *     org.privllm.bench.OpenBlasProducts /path/to/libopenblas.so.0 ROWS [REPS]
 * </pre>
 */
public final class OpenBlasProducts {
    private static final int ROW_MAJOR = 101, NO_TRANS = 111;
    /**
     * A pause between the two engines' halves of a rep: OpenBLAS's idle threads spin for ~0.1 s after a call
     * ({@code OPENBLAS_THREAD_TIMEOUT}), the engine's for 0.3 ms; either would take the other's cores.
     */
    private static final long QUIET_MS = 250;

    private OpenBlasProducts() {}

    public static void main(String[] args) throws Throwable {
        if (args.length < 2) {
            System.err.println("usage: OpenBlasProducts LIBOPENBLAS ROWS [REPS]");
            System.exit(2);
        }
        int rows = Integer.parseInt(args[1]), reps = args.length > 2 ? Integer.parseInt(args[2]) : 15;
        if (rows < 1 || reps < 1) {
            System.err.println("error: ROWS and REPS must be >= 1");
            System.exit(2);
        }
        Linker linker = Linker.nativeLinker();
        try (Arena arena = Arena.ofShared()) {
            SymbolLookup blas = SymbolLookup.libraryLookup(Path.of(args[0]), arena);
            MethodHandle threads = linker.downcallHandle(blas.find("openblas_set_num_threads").orElseThrow(),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
            ValueLayout.OfInt i = ValueLayout.JAVA_INT;
            ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT;
            MethodHandle sgemm = linker.downcallHandle(blas.find("cblas_sgemm").orElseThrow(), FunctionDescriptor.ofVoid(
                    i, i, i, i, i, i, f, ValueLayout.ADDRESS, i, ValueLayout.ADDRESS, i, f, ValueLayout.ADDRESS, i));
            threads.invoke(org.privllm.tensor.Parallel.threads());

            int layers = 12, n = 4 * layers;
            Matrix[] w = new Matrix[n];
            PackedWeight[] packed = new PackedWeight[n];
            MemorySegment[] nativeW = new MemorySegment[n];
            for (int l = 0; l < n; l++) {
                String shape = Gpt2Shapes.LINEAR[l % 4];
                w[l] = Gpt2Shapes.random(Gpt2Shapes.in(shape), Gpt2Shapes.out(shape), 1000 + l);
                packed[l] = PackedWeight.pack(w[l], PackedWeight.Precision.F32);
                nativeW[l] = arena.allocate((long) w[l].data.length * Float.BYTES, 64);
                MemorySegment.copy(w[l].data, 0, nativeW[l], ValueLayout.JAVA_FLOAT, 0, w[l].data.length);
            }
            Matrix a768 = Gpt2Shapes.random(rows, 768, 1), a3072 = Gpt2Shapes.random(rows, 3072, 2);
            MemorySegment na768 = copy(arena, a768), na3072 = copy(arena, a3072);
            MemorySegment nc = arena.allocate((long) rows * 3072 * Float.BYTES, 64);
            Matrix[] y = new Matrix[n];
            for (int l = 0; l < n; l++) {
                y[l] = new Matrix(rows, w[l].cols);
            }

            double[] blasMs = new double[reps], javaMs = new double[reps];
            double maxDiff = 0;
            for (int r = -2; r < reps; r++) { // two warm-up reps
                // each half runs its 48 products twice and times the second pass: the first wakes the threads
                long blasNanos = 0, javaNanos = 0;
                for (int pass = 0; pass < 2; pass++) {
                    long t0 = System.nanoTime();
                    for (int l = 0; l < n; l++) {
                        int k = w[l].rows, m = w[l].cols;
                        sgemm.invoke(ROW_MAJOR, NO_TRANS, NO_TRANS, rows, m, k, 1f, k == 768 ? na768 : na3072, k,
                                nativeW[l], m, 0f, nc, m);
                    }
                    blasNanos = System.nanoTime() - t0;
                }
                Thread.sleep(QUIET_MS);
                for (int pass = 0; pass < 2; pass++) {
                    long t0 = System.nanoTime();
                    for (int l = 0; l < n; l++) {
                        Kernels.matmul(w[l].rows == 768 ? a768 : a3072, packed[l], null, y[l]);
                    }
                    javaNanos = System.nanoTime() - t0;
                }
                Thread.sleep(QUIET_MS);
                if (r >= 0) {
                    blasMs[r] = blasNanos / 1e6;
                    javaMs[r] = javaNanos / 1e6;
                }
            }
            // the last product of both (3072x768): the same values to float rounding
            Matrix last = y[n - 1];
            for (int j = 0; j < last.data.length; j++) {
                maxDiff = Math.max(maxDiff, Math.abs(last.data[j] - nc.getAtIndex(ValueLayout.JAVA_FLOAT, j)));
            }
            double flop = 0, bytes = 0;
            for (Matrix m : w) {
                flop += 2.0 * rows * m.data.length;
                bytes += 4.0 * m.data.length;
            }
            report("openblas cblas_sgemm", rows, blasMs, flop, bytes);
            report("privllm " + Kernels.gemm(), rows, javaMs, flop, bytes);
            System.out.printf("max |difference| of the last product: %.3g%n", maxDiff);
        }
    }

    private static MemorySegment copy(Arena arena, Matrix m) {
        MemorySegment s = arena.allocate((long) m.data.length * Float.BYTES, 64);
        MemorySegment.copy(m.data, 0, s, ValueLayout.JAVA_FLOAT, 0, m.data.length);
        return s;
    }

    private static void report(String name, int rows, double[] ms, double flop, double bytes) {
        double[] s = ms.clone();
        Arrays.sort(s);
        double median = s[s.length / 2];
        System.out.printf("%s: %d rows, 48 products: median %.2f ms (best %.2f), %.1f GFLOP/s, %.1f GB/s of weights%n",
                name, rows, median, s[0], flop / median / 1e6, bytes / median / 1e6);
    }
}
