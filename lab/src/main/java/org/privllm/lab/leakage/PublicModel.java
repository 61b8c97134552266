package org.privllm.lab.leakage;

import java.util.HashMap;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.privllm.model.Gpt2Config;
import org.privllm.model.Gpt2Forward;
import org.privllm.model.Gpt2Weights;
import org.privllm.model.PlainOps;
import org.privllm.model.TransformerOps;
import org.privllm.tensor.Kernels;
import org.privllm.tensor.Matrix;

/**
 * The attacker's public knowledge: the base model's weights and what it can compute from them for
 * every vocabulary entry. Candidate tables are computed once and cached (they serve every session
 * and configuration). Not thread-safe.
 */
public final class PublicModel {
    private final Gpt2Config config;
    private final Gpt2Weights weights;
    private final Gpt2Forward forward;
    private final Map<String, Object> cache = new HashMap<>();

    public PublicModel(Gpt2Config config, Gpt2Weights weights) {
        this.config = config;
        this.weights = weights;
        // no ops: the attacker's tables need embeddings and layer 0 only (plain ops over every layer would hold a
        // packed copy of the whole model, 0.5 GB at 124M, next to the lab's own sessions)
        this.forward = new Gpt2Forward(config, weights, null);
    }

    public Gpt2Config config() {
        return config;
    }

    public Gpt2Weights weights() {
        return weights;
    }

    /**
     * {@code ln_1(wte[v] + wpe[pos])} of layer 0 for every token v ({@code V×d}): the first layer's input.
     * Not cached (154 MB per position at GPT-2 124M): the matchers keep only small per-position tables
     * derived from it (see {@link CandidateSet}) and compute single candidate rows on demand.
     */
    public Matrix layer0Inputs(int pos) {
        int v = config.vocab();
        return layer0Rows(pos, java.util.stream.IntStream.range(0, v).toArray());
    }

    /** {@code ln_1(wte[t] + wpe[pos])} for the given tokens ({@code k×d}). */
    public Matrix layer0Rows(int pos, int[] tokens) {
        int[] positions = new int[tokens.length];
        java.util.Arrays.fill(positions, pos);
        Gpt2Weights.Layer l = weights.layers().get(0);
        return Gpt2Forward.layerNorm(forward.embed(tokens, positions), l.ln1Gamma(), l.ln1Beta(), config.lnEpsilon());
    }

    /** The layer-0 attention inputs as a candidate set. */
    public CandidateSet layer0() {
        return cached("set:l0", () -> new CandidateSet("l0", config.embd(), this::layer0Inputs, this::layer0Rows));
    }

    /** Layer 1's attention input at position 0 as a candidate set (position 0 only); null on one-layer models. */
    public CandidateSet layer1AtStart() {
        if (config.layers() < 2) {
            return null;
        }
        return cached("set:l1", () -> new CandidateSet("l1", config.embd(), pos -> layer1InputsAtStart(),
                (pos, tokens) -> gather(layer1InputsAtStart(), tokens)));
    }

    /** Layer 1's attention input at position 0 for every token ({@code V×d}); null on one-layer models. */
    public Matrix layer1InputsAtStart() {
        if (config.layers() < 2) {
            return null;
        }
        return recomputable("l1@0", () -> {
            // every token alone at position 0: batches of one-token sequences, in chunks so that the
            // batch's KV cache and MLP activations stay small (all 50257 at once need ~5 GB at 124M)
            int v = config.vocab(), d = config.embd();
            Matrix table = new Matrix(v, d);
            TransformerOps ops = new PlainOps(firstLayerConfig(), firstLayer()); // packed once per table, dropped after
            for (int from = 0; from < v; from += L1_CHUNK) {
                int n = Math.min(L1_CHUNK, v - from);
                int[] ids = new int[n];
                for (int i = 0; i < n; i++) {
                    ids[i] = from + i;
                }
                Matrix part = layer1Input(ops, ids);
                System.arraycopy(part.data, 0, table.data, from * d, n * d);
            }
            return table;
        });
    }

    /** The config of {@link #firstLayer()}: one layer. */
    private Gpt2Config firstLayerConfig() {
        Gpt2Config c = config;
        return new Gpt2Config(1, c.embd(), c.heads(), c.inner(), c.vocab(), c.positions(), c.lnEpsilon(),
                c.activation(), c.scaleAttnWeights(), c.scaleAttnByInverseLayerIdx(), c.eosTokenId());
    }

    /** The public weights cut to layer 0 (what layer 1's input depends on). */
    private Gpt2Weights firstLayer() {
        return new Gpt2Weights(weights.wte(), weights.wpe(), weights.layers().subList(0, 1), weights.lnFGamma(),
                weights.lnFBeta(), weights.lmHead());
    }

    /** Tokens per batch when tabulating layer 1's input for the whole vocabulary. */
    private static final int L1_CHUNK = 2048;

    /** Layer 1's attention input for each of {@code ids} alone at position 0 ({@code n×d}). */
    private Matrix layer1Input(TransformerOps ops, int[] ids) {
        ops.startCache(new int[ids.length], 1);
        Matrix h = forward.embed(ids, new int[ids.length]);
        Gpt2Weights.Layer l = weights.layers().get(0);
        Kernels.addInPlace(h, ops.attention(0, Gpt2Forward.layerNorm(h, l.ln1Gamma(), l.ln1Beta(), config.lnEpsilon()), 1));
        Matrix up = ops.mlpUp(0, Gpt2Forward.layerNorm(h, l.ln2Gamma(), l.ln2Beta(), config.lnEpsilon()));
        forward.activate(up);
        Kernels.addInPlace(h, ops.mlpDown(0, up));
        Gpt2Weights.Layer l1 = weights.layers().get(1);
        return Gpt2Forward.layerNorm(h, l1.ln1Gamma(), l1.ln1Beta(), config.lnEpsilon());
    }

    static Matrix gather(Matrix table, int[] rows) {
        Matrix out = new Matrix(rows.length, table.cols);
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(table.data, rows[i] * table.cols, out.data, i * table.cols, table.cols);
        }
        return out;
    }

    /** Layer 0's public {@code [Q|K]} projection ({@code c_attn}'s first 2d columns and bias). */
    public ExecutorView.Weight layer0QueryKey() {
        return cached("wqk", () -> {
            Gpt2Weights.Layer l = weights.layers().get(0);
            int d = config.embd();
            Matrix w = new Matrix(d, 2 * d);
            for (int r = 0; r < d; r++) {
                System.arraycopy(l.cAttn().data, r * 3 * d, w.data, r * 2 * d, 2 * d);
            }
            return new ExecutorView.Weight(w, java.util.Arrays.copyOf(l.cAttnBias(), 2 * d), null, null);
        });
    }

    /** {@code [Q|K]} of layer 0 for the given tokens at {@code pos} ({@code k×2d}). */
    public Matrix layer0QueryKeyRows(int pos, int[] tokens) {
        return layer0QueryKey().apply(layer0Rows(pos, tokens), null);
    }

    /**
     * Per head the diagonal score {@code q_v·k_v} of every token at {@code pos} ({@code V×H}, row-major;
     * held softly), computed in chunks so that no {@code V×3d} table is ever held.
     */
    public double[] layer0ScoreDiagonal(int pos) {
        return recomputable("qkdiag@" + pos, () -> {
            int v = config.vocab(), d = config.embd(), heads = config.heads(), dh = d / heads;
            double[] out = new double[v * heads];
            Matrix all = layer0Inputs(pos);
            for (int from = 0; from < v; from += 4096) {
                int to = Math.min(v, from + 4096);
                Matrix qk = layer0QueryKey().apply(all.rows(from, to), null);
                for (int r = 0; r < qk.rows; r++) {
                    for (int h = 0; h < heads; h++) {
                        out[(from + r) * heads + h] = Attacks.dot(qk.data, r * 2 * d + h * dh, qk.data, r * 2 * d + d + h * dh, dh);
                    }
                }
            }
            return out;
        });
    }

    /** Coordinates sampled for the cheap lower bounds: all of them up to {@link #SAMPLE}, else evenly spaced. */
    public static final int SAMPLE = 64;

    static int[] sampledCoordinates(int d) {
        return evenlySpaced(d, SAMPLE);
    }

    /** {@code min(n, k)} evenly spaced indices of {@code [0, n)}, first and last included: all of them when {@code n ≤ k}. */
    static int[] evenlySpaced(int n, int k) {
        int s = Math.min(k, n);
        int[] idx = new int[s];
        for (int i = 0; i < s; i++) {
            idx[i] = s == n || s == 1 ? i : (int) Math.round((double) i * (n - 1) / (s - 1));
        }
        return idx;
    }

    /**
     * The candidates of one matched tensor (e.g. the layer-0 input) per position: single rows on demand and
     * small cached tables from which the matchers take lower bounds of their costs over the whole vocabulary
     * (the full {@code V×d} table is built only transiently, once per derived table and position).
     */
    public final class CandidateSet {
        private final String key;
        private final int width;
        private final java.util.function.IntFunction<Matrix> table;
        private final java.util.function.BiFunction<Integer, int[], Matrix> rows;

        CandidateSet(String key, int width, java.util.function.IntFunction<Matrix> table,
                     java.util.function.BiFunction<Integer, int[], Matrix> rows) {
            this.key = key;
            this.width = width;
            this.table = table;
            this.rows = rows;
        }

        public int width() {
            return width;
        }

        /** The candidate rows of {@code tokens} at {@code pos} ({@code k×width}). */
        public Matrix rows(int pos, int[] tokens) {
            return rows.apply(pos, tokens);
        }

        /** One candidate row. */
        public float[] row(int pos, int token) {
            return rows(pos, new int[] {token}).data;
        }

        /** The candidate row of {@code tokens[i]} at position i, for every i ({@code n×width}). */
        public Matrix sequence(int[] tokens) {
            Matrix out = new Matrix(tokens.length, width);
            for (int i = 0; i < tokens.length; i++) {
                System.arraycopy(row(i, tokens[i]), 0, out.data, i * width, width);
            }
            return out;
        }

        /** Squared norms of every candidate per block of {@code b} columns ({@code V×⌈width/b⌉}, row-major; float: a bound). */
        public float[] blockNormsSq(int pos, int b) {
            return recomputable(key + ":bn" + b + "@" + pos, () -> {
                Matrix t = table.apply(pos);
                int blocks = (width + b - 1) / b;
                float[] out = new float[t.rows * blocks];
                for (int v = 0; v < t.rows; v++) {
                    for (int k = 0; k < blocks; k++) {
                        out[v * blocks + k] = (float) Attacks.sq(t.data, v * width + k * b, Math.min(b, width - k * b));
                    }
                }
                return out;
            });
        }

        /** The sorted, mean-removed log-magnitudes of every candidate at the sampled sorted ranks ({@code V×S}). */
        public Matrix sortedLogSample(int pos) {
            return recomputable(key + ":sortedlog@" + pos, () -> sample(Attacks.sortedLogRows(table.apply(pos))));
        }

        /** Unit candidate rows at the sampled coordinates ({@code V×S}). */
        public Matrix unitSample(int pos) {
            return recomputable(key + ":unit@" + pos, () -> sample(Attacks.unitRows(table.apply(pos))));
        }

        /** {@code |c·U|} in the first S columns of the basis {@code u} ({@code V×S}). */
        public Matrix absSample(int pos, DMatrixRMaj u, String basisKey) {
            return recomputable(key + ":abs:" + basisKey + "@" + pos, () -> {
                int s = Math.min(SAMPLE, u.numCols);
                Matrix head = new Matrix(u.numRows, s);
                for (int r = 0; r < u.numRows; r++) {
                    for (int c = 0; c < s; c++) {
                        head.data[r * s + c] = (float) u.get(r, c);
                    }
                }
                return Attacks.abs(Kernels.matmul(table.apply(pos), head));
            });
        }

        private Matrix sample(Matrix full) {
            int[] idx = sampledCoordinates(width);
            Matrix out = new Matrix(full.rows, idx.length);
            for (int v = 0; v < full.rows; v++) {
                for (int k = 0; k < idx.length; k++) {
                    out.data[v * idx.length + k] = full.data[v * width + idx[k]];
                }
            }
            return out;
        }
    }

    /** Eigenvectors (columns, by decreasing eigenvalue) of {@code W·Wᵀ} for layer {@code layer}'s public c_attn. */
    public DMatrixRMaj qkvEigenbasis(int layer) {
        return cached("eig@" + layer, () -> eigenbasis(gram(weights.layers().get(layer).cAttn(), false)));
    }

    /** Eigenvectors of {@code Σ_v ŵ_v·ŵ_vᵀ} over the unit-normalised rows of {@code wte} (the head's columns). */
    public DMatrixRMaj headEigenbasis() {
        return cached("eig@head", () -> eigenbasis(gram(weights.wte().transpose(), true)));
    }

    /** {@code |ŵ_v·U|}: unit token embeddings in the head eigenbasis, sign-free ({@code V×d}). */
    public Matrix headSignatures() {
        return recomputable("headsig", () -> {
            Matrix wte = weights.wte();
            Matrix unit = new Matrix(wte.rows, wte.cols);
            for (int v = 0; v < wte.rows; v++) {
                double n = Math.sqrt(Attacks.sq(wte.data, v * wte.cols, wte.cols));
                for (int j = 0; j < wte.cols; j++) {
                    unit.data[v * wte.cols + j] = (float) (wte.data[v * wte.cols + j] / Math.max(n, 1e-30));
                }
            }
            return Attacks.abs(Kernels.matmul(unit, Attacks.toFloat(headEigenbasis())));
        });
    }

    /** The first S columns of {@link #headSignatures()} (lower bounds for the output attack's matching). */
    public Matrix headSignatureSample() {
        return cached("headsig-sample", () -> {
            Matrix sig = headSignatures();
            int s = Math.min(SAMPLE, sig.cols);
            Matrix out = new Matrix(sig.rows, s);
            for (int v = 0; v < sig.rows; v++) {
                System.arraycopy(sig.data, v * sig.cols, out.data, v * s, s);
            }
            return out;
        });
    }

    /** Token embedding norms {@code ‖wte[v]‖}. */
    public double[] embeddingNorms() {
        return cached("wtenorm", () -> {
            Matrix wte = weights.wte();
            double[] n = new double[wte.rows];
            for (int v = 0; v < n.length; v++) {
                n[v] = Math.sqrt(Attacks.sq(wte.data, v * wte.cols, wte.cols));
            }
            return n;
        });
    }

    /** Double-centred sorted row profiles of layer {@code layer}'s public c_attn (attack 7 on permutation masks). */
    public MaskRecovery.Profiles attnProfiles(int layer) {
        return cached("dc@" + layer, () -> MaskRecovery.profiles(weights.layers().get(layer).cAttn()));
    }

    /** Double-centred sorted row profiles of the public head {@code wteᵀ} ({@code d×V}; attack 8 on permutation masks). */
    public MaskRecovery.Profiles headProfiles() {
        return cached("dc@head", () -> MaskRecovery.profiles(weights.head().transpose()));
    }

    /**
     * The public embeddings as attack 8 whitens them (Tyler or not), with every token's neighbour profile:
     * {@code V²·d} multiply-adds once (2·10¹² at GPT-2 124M's shape).
     */
    public HeadReadout.PublicProfiles whitenedHead(boolean tyler) {
        return cached("whitened@" + tyler, () -> HeadReadout.publicProfiles(weights.head(), tyler));
    }

    /**
     * A table that can be rebuilt (seconds; layer 1's, under a minute at 124M), held softly: the per-position
     * candidate tables (~1.6 GB over 25 positions at 124M), layer 1's table and the head signatures. The JVM drops
     * such tables before it runs out of heap: a dense-orthogonal pad-mode session at 124M needs nearly all of 6 GB.
     */
    @SuppressWarnings("unchecked")
    <T> T recomputable(String key, java.util.function.Supplier<T> make) {
        Object held = cache.get(key);
        T v = held instanceof java.lang.ref.SoftReference<?> ref ? (T) ref.get() : null;
        if (v == null) {
            v = make.get();
            cache.put(key, new java.lang.ref.SoftReference<>(v));
        }
        return v;
    }

    /** Any table derived from the public model, cached under {@code key}. */
    @SuppressWarnings("unchecked")
    <T> T cached(String key, java.util.function.Supplier<T> make) {
        Object v = cache.get(key);
        if (v == null) {
            v = make.get();
            cache.put(key, v);
        }
        return (T) v;
    }

    /**
     * {@code W·Wᵀ} in double for {@code W: d×m}; with {@code unitColumns} each column is first scaled to
     * unit length (what removes the head's vocabulary scales).
     */
    static DMatrixRMaj gram(Matrix w, boolean unitColumns) {
        int d = w.rows, m = w.cols;
        double[] colScale = new double[m];
        for (int c = 0; c < m; c++) {
            double s = 0;
            for (int r = 0; r < d; r++) {
                double x = w.data[r * m + c];
                s += x * x;
            }
            colScale[c] = unitColumns ? 1 / Math.max(Math.sqrt(s), 1e-30) : 1;
        }
        DMatrixRMaj g = new DMatrixRMaj(d, d);
        if ((long) d * d * m > 1_000_000_000L) {
            // large (the 124M head: 768²·50257): float GEMMs over column chunks, summed in double; small ones stay exact
            int chunk = 1024;
            for (int from = 0; from < m; from += chunk) {
                int to = Math.min(m, from + chunk), k = to - from;
                Matrix part = new Matrix(d, k);
                for (int r = 0; r < d; r++) {
                    for (int c = 0; c < k; c++) {
                        part.data[r * k + c] = (float) (w.data[r * m + from + c] * colScale[from + c]);
                    }
                }
                Matrix pp = Kernels.matmulTransposed(part, part);
                for (int i = 0; i < d * d; i++) {
                    g.data[i] += pp.data[i];
                }
            }
            return g;
        }
        for (int i = 0; i < d; i++) {
            for (int j = i; j < d; j++) {
                double s = 0;
                for (int c = 0; c < m; c++) {
                    double k = colScale[c];
                    s += w.data[i * m + c] * k * w.data[j * m + c] * k;
                }
                g.set(i, j, s);
                g.set(j, i, s);
            }
        }
        return g;
    }

    /** Eigenvectors of a symmetric matrix as columns, sorted by decreasing eigenvalue. */
    static DMatrixRMaj eigenbasis(DMatrixRMaj sym) {
        int d = sym.numRows;
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(d, true, true);
        if (!eig.decompose(sym.copy())) {
            throw new IllegalStateException("eigendecomposition failed");
        }
        Integer[] order = new Integer[d];
        for (int i = 0; i < d; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(eig.getEigenvalue(b).real, eig.getEigenvalue(a).real));
        DMatrixRMaj u = new DMatrixRMaj(d, d);
        for (int k = 0; k < d; k++) {
            DMatrixRMaj vec = eig.getEigenVector(order[k]);
            for (int i = 0; i < d; i++) {
                u.set(i, k, vec.get(i, 0));
            }
        }
        return u;
    }
}
