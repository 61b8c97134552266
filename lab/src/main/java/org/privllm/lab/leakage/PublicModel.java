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
        this.forward = new Gpt2Forward(config, weights, new PlainOps(config, weights));
    }

    public Gpt2Config config() {
        return config;
    }

    public Gpt2Weights weights() {
        return weights;
    }

    /** {@code ln_1(wte[v] + wpe[pos])} of layer 0 for every token v ({@code V×d}): the first layer's input. */
    public Matrix layer0Inputs(int pos) {
        return cached("l0@" + pos, () -> {
            int v = config.vocab();
            int[] ids = new int[v], positions = new int[v];
            for (int i = 0; i < v; i++) {
                ids[i] = i;
                positions[i] = pos;
            }
            Gpt2Weights.Layer l = weights.layers().get(0);
            return Gpt2Forward.layerNorm(forward.embed(ids, positions), l.ln1Gamma(), l.ln1Beta(), config.lnEpsilon());
        });
    }

    /** Layer 1's attention input at position 0 for every token ({@code V×d}); null on one-layer models. */
    public Matrix layer1InputsAtStart() {
        if (config.layers() < 2) {
            return null;
        }
        return cached("l1@0", () -> {
            int v = config.vocab();
            int[] ids = new int[v], positions = new int[v];
            for (int i = 0; i < v; i++) {
                ids[i] = i;
            }
            PlainOps ops = new PlainOps(config, weights);
            ops.startCache(new int[v], 1); // every token alone at position 0: a batch of V one-token sequences
            Matrix h = forward.embed(ids, positions);
            Gpt2Weights.Layer l = weights.layers().get(0);
            Kernels.addInPlace(h, ops.attention(0, Gpt2Forward.layerNorm(h, l.ln1Gamma(), l.ln1Beta(), config.lnEpsilon()), 1));
            Matrix up = ops.mlpUp(0, Gpt2Forward.layerNorm(h, l.ln2Gamma(), l.ln2Beta(), config.lnEpsilon()));
            forward.activate(up);
            Kernels.addInPlace(h, ops.mlpDown(0, up));
            Gpt2Weights.Layer l1 = weights.layers().get(1);
            return Gpt2Forward.layerNorm(h, l1.ln1Gamma(), l1.ln1Beta(), config.lnEpsilon());
        });
    }

    /** {@code [Q|K|V]} of layer 0 for every token at {@code pos}, with the public weights ({@code V×3d}). */
    public Matrix layer0Qkv(int pos) {
        return cached("qkv@" + pos, () -> new ExecutorView.Weight(weights.layers().get(0).cAttn(),
                weights.layers().get(0).cAttnBias(), null, null).apply(layer0Inputs(pos), null));
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
        return cached("headsig", () -> {
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
