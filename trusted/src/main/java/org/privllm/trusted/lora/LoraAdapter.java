package org.privllm.trusted.lora;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ejml.data.DMatrixRMaj;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderWeights;
import org.privllm.model.Gpt2Adapter;
import org.privllm.model.Gpt2Config;
import org.privllm.model.ModelFormatException;
import org.privllm.model.SafeTensors;
import org.privllm.model.SafeTensorsWriter;
import org.privllm.trusted.linalg.Dense;

/**
 * A private PEFT LoRA adapter, as peft saves it ({@code save_pretrained}): {@code adapter_config.json}
 * ({@code peft_type: LORA}, {@code r}, {@code lora_alpha}, {@code target_modules}, {@code fan_in_fan_out},
 * {@code use_rslora}) and {@code adapter_model.safetensors} with keys
 * <ul>
 *   <li>GPT-2: {@code base_model.model.transformer.h.{i}.{attn.c_attn|attn.c_proj|mlp.c_fc|mlp.c_proj}.lora_{A|B}.weight};
 *   <li>the Llama family (llama, mistral, qwen2, qwen3):
 *       {@code base_model.model.model.layers.{i}.{self_attn.{q|k|v|o}_proj|mlp.{gate|up|down}_proj}.lora_{A|B}.weight}.
 * </ul>
 *
 * <p>Layout, checked against peft's {@code LoraLayer}: for GPT-2's {@code Conv1D} peft takes
 * {@code in_features, out_features = weight.shape} (Conv1D stores {@code (in, out)}); for a HuggingFace
 * {@code Linear} (stored {@code out×in}) {@code in_features, out_features = in, out}. Either way it builds
 * {@code lora_A = nn.Linear(in_features, r)} and {@code lora_B = nn.Linear(r, out_features)}, so the files
 * hold {@code A: (r, in)} and {@code B: (out, r)} — whatever {@code fan_in_fan_out} says (it only makes
 * peft transpose the merged delta {@code B·A} to Conv1D's {@code (in, out)}; peft forces it true for
 * Conv1D). The delta is {@code scaling·(B·A)ᵀ} with {@code scaling = α/r} ({@code α/√r} with rsLoRA). In
 * this project's row-vector convention that is {@code scaling·A'·B'} with {@code A' = Aᵀ (in×r)},
 * {@code B' = Bᵀ (r×out)} — see {@link LowRankAdapter}.
 *
 * <p>The engine computes fused linears ({@link DecoderWeights.Linear}): q/k/v as one product, gate and up as
 * one {@code [gate | up]}. A Llama adapter is mapped onto them exactly: the parts' {@code A'} side by side
 * ({@code in × Σr}) and their {@code B'} on the block diagonal, each at its projection's column offset in the
 * fused output ({@code q} at 0, {@code k} at {@code H·hd}, {@code v} at {@code (H + KV)·hd}; {@code gate} at 0,
 * {@code up} at {@code inner}), so {@code X·A'·B'} is every part's delta in its own columns and zero in the
 * columns of a projection the adapter does not target.
 */
public final class LoraAdapter {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** The GPT-2 Conv1D modules an adapter may target. */
    public static final List<String> MODULES = List.of("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj");
    /** The Llama-family Linear modules an adapter may target. */
    public static final List<String> LLAMA_MODULES = List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
            "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    private static final Pattern KEY = Pattern.compile(
            "base_model\\.model\\.(?:transformer\\.)?h\\.(\\d+)\\.(attn\\.c_attn|attn\\.c_proj|mlp\\.c_fc|mlp\\.c_proj)"
                    + "\\.lora_([AB])(?:\\.default)?\\.weight");
    private static final Pattern LLAMA_KEY = Pattern.compile(
            "base_model\\.model\\.model\\.layers\\.(\\d+)\\.(self_attn\\.[qkvo]_proj|mlp\\.(?:gate|up|down)_proj)"
                    + "\\.lora_([AB])(?:\\.default)?\\.weight");

    /** The parts of {@code adapter_config.json} this reader uses. */
    public record Config(int r, double alpha, List<String> targetModules, boolean fanInFanOut, boolean useRslora) {
        /** peft's {@code scaling}. */
        public double scaling() {
            return useRslora ? alpha / Math.sqrt(r) : alpha / r;
        }
    }

    /**
     * Where a checkpoint module's delta goes: into fused linear {@code linear} at output column {@code offset},
     * {@code in × out} wide.
     */
    private record Part(DecoderWeights.Linear linear, int offset, int in, int out) {}

    private final Config config;
    private final Map<String, LowRankAdapter> layers;

    private LoraAdapter(Config config, Map<String, LowRankAdapter> layers) {
        this.config = config;
        this.layers = Collections.unmodifiableMap(layers);
    }

    public Config config() {
        return config;
    }

    /**
     * The adapted fused linears keyed by {@link DecoderWeights.Linear#key}: {@code h.{i}.attn.c_attn} (q/k/v),
     * {@code h.{i}.attn.c_proj}, {@code h.{i}.mlp.c_fc} ({@code [gate | up]}), {@code h.{i}.mlp.c_proj} (the keys
     * {@code TrustedAttentionDecoder}, {@code ObfuscatedDecoder} and {@link LoraMerge} take).
     */
    public Map<String, LowRankAdapter> layers() {
        return layers;
    }

    /** Loads and validates a GPT-2 adapter directory against the model it adapts. */
    public static LoraAdapter load(Path dir, Gpt2Config model) {
        return load(dir, Gpt2Adapter.config(model));
    }

    /** Loads and validates an adapter directory against the model it adapts (GPT-2 or the Llama family). */
    public static LoraAdapter load(Path dir, DecoderConfig model) {
        boolean gpt2 = model.architecture() == Architecture.GPT2;
        Path configFile = dir.resolve(CONFIG_FILE);
        Config config = readConfig(configFile);
        Map<String, float[][]> found = new TreeMap<>(); // "h.i.module" / "layers.i.module" -> {A, B} raw
        Map<String, Part> parts = new HashMap<>();
        Path weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(weights)) {
            throw new ModelFormatException(weights + ": missing (a peft adapter needs " + WEIGHTS_FILE + ")");
        }
        try (SafeTensors st = SafeTensors.open(weights)) {
            List<String> names = new ArrayList<>(st.entries().keySet());
            Collections.sort(names);
            for (String name : names) {
                Matcher m = (gpt2 ? KEY : LLAMA_KEY).matcher(name);
                if (!m.matches()) {
                    throw new ModelFormatException(weights + ": unsupported adapter tensor '" + name + "' (only LoRA A/B of "
                            + String.join(", ", gpt2 ? MODULES : LLAMA_MODULES.stream()
                                    .map(x -> x.substring(x.indexOf('.') + 1)).toList())
                            + (gpt2 ? "" : " of a " + model.architecture().modelType() + " model") + ")");
                }
                int layer = Integer.parseInt(m.group(1));
                String module = m.group(2);
                if (layer >= model.layers()) {
                    throw new ModelFormatException(weights + ": tensor '" + name + "' names layer " + layer
                            + " but the model has " + model.layers());
                }
                if (!targeted(config.targetModules(), module)) {
                    throw new ModelFormatException(weights + ": tensor '" + name + "' is not in target_modules "
                            + config.targetModules());
                }
                Part part = part(model, module);
                boolean isA = m.group(3).equals("A");
                // peft: A is (r, in), B is (out, r)
                float[] data = isA ? st.matrix(name, config.r(), part.in()).data : st.matrix(name, part.out(), config.r()).data;
                String key = (gpt2 ? "h." : "layers.") + layer + "." + module;
                parts.put(key, part);
                float[][] pair = found.computeIfAbsent(key, k -> new float[2][]);
                pair[isA ? 0 : 1] = data;
            }
        }
        if (found.isEmpty()) {
            throw new ModelFormatException(weights + ": no LoRA tensors");
        }
        // fused linear key -> its parts in column order
        Map<String, List<Map.Entry<String, float[][]>>> fused = new TreeMap<>();
        for (var e : found.entrySet()) {
            float[][] pair = e.getValue();
            if (pair[0] == null || pair[1] == null) {
                throw new ModelFormatException(weights + ": " + e.getKey() + " has lora_" + (pair[0] == null ? "B" : "A")
                        + " but no lora_" + (pair[0] == null ? "A" : "B"));
            }
            int layer = Integer.parseInt(e.getKey().split("\\.")[1]);
            fused.computeIfAbsent(parts.get(e.getKey()).linear().key(layer), k -> new ArrayList<>()).add(e);
        }
        Map<String, LowRankAdapter> layers = new LinkedHashMap<>();
        int r = config.r();
        for (var f : fused.entrySet()) {
            List<Map.Entry<String, float[][]>> list = f.getValue();
            list.sort(java.util.Comparator.comparingInt(e -> parts.get(e.getKey()).offset()));
            Part first = parts.get(list.get(0).getKey());
            DMatrixRMaj a = new DMatrixRMaj(first.in(), r * list.size());
            DMatrixRMaj b = new DMatrixRMaj(r * list.size(), first.linear().out(model));
            for (int p = 0; p < list.size(); p++) {
                Part part = parts.get(list.get(p).getKey());
                float[] ra = list.get(p).getValue()[0], rb = list.get(p).getValue()[1];
                for (int k = 0; k < r; k++) {
                    for (int i = 0; i < part.in(); i++) {
                        a.set(i, p * r + k, ra[k * part.in() + i]); // A' = Aᵀ
                    }
                    for (int j = 0; j < part.out(); j++) {
                        b.set(p * r + k, part.offset() + j, rb[j * r + k]); // B' = Bᵀ at the part's columns
                    }
                }
            }
            layers.put(f.getKey(), new LowRankAdapter(a, b, config.scaling()));
        }
        return new LoraAdapter(config, layers);
    }

    /** Where a checkpoint module's delta goes in the model's fused linears. */
    private static Part part(DecoderConfig c, String module) {
        int d = c.hidden(), q = c.qWidth(), kv = c.kvWidth(), in = c.inner();
        return switch (module) {
            case "attn.c_attn" -> new Part(DecoderWeights.Linear.QKV, 0, d, c.qkvWidth());
            case "attn.c_proj" -> new Part(DecoderWeights.Linear.OUT, 0, q, d);
            case "mlp.c_fc" -> new Part(DecoderWeights.Linear.UP, 0, d, c.upWidth());
            case "mlp.c_proj", "mlp.down_proj" -> new Part(DecoderWeights.Linear.DOWN, 0, in, d);
            case "self_attn.q_proj" -> new Part(DecoderWeights.Linear.QKV, 0, d, q);
            case "self_attn.k_proj" -> new Part(DecoderWeights.Linear.QKV, q, d, kv);
            case "self_attn.v_proj" -> new Part(DecoderWeights.Linear.QKV, q + kv, d, kv);
            case "self_attn.o_proj" -> new Part(DecoderWeights.Linear.OUT, 0, q, d);
            case "mlp.gate_proj" -> new Part(DecoderWeights.Linear.UP, 0, d, in);
            case "mlp.up_proj" -> new Part(DecoderWeights.Linear.UP, in, d, in);
            default -> throw new IllegalArgumentException("unknown module " + module);
        };
    }

    private static boolean targeted(List<String> targets, String module) {
        if (targets == null) {
            return true; // a regex string: peft matched it when training; nothing to check here
        }
        for (String t : targets) {
            if (module.equals(t) || module.endsWith("." + t)) {
                return true;
            }
        }
        return false;
    }

    static Config readConfig(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(file + ": not valid JSON (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            if (!Files.exists(file)) {
                throw new ModelFormatException(file + ": missing (a peft adapter needs " + CONFIG_FILE + ")");
            }
            throw new ModelFormatException(file + ": cannot read (" + e.getMessage() + ")");
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(file + ": not a JSON object");
        }
        String type = root.path("peft_type").asText("LORA");
        if (!type.equals("LORA")) {
            throw new ModelFormatException(file + ": peft_type " + type + " is not supported (only LORA)");
        }
        JsonNode r = root.get("r"), alpha = root.get("lora_alpha");
        if (r == null || !r.canConvertToInt() || r.asInt() <= 0 || !r.isIntegralNumber()) {
            throw new ModelFormatException(file + ": 'r' must be a positive integer");
        }
        if (alpha == null || !alpha.isNumber() || !Double.isFinite(alpha.asDouble())) {
            throw new ModelFormatException(file + ": 'lora_alpha' must be a number");
        }
        for (String unsupported : new String[] {"rank_pattern", "alpha_pattern"}) {
            JsonNode p = root.get(unsupported);
            if (p != null && !p.isNull() && p.size() > 0) {
                throw new ModelFormatException(file + ": '" + unsupported + "' is not supported");
            }
        }
        if (root.path("use_dora").asBoolean(false)) {
            throw new ModelFormatException(file + ": DoRA adapters are not supported");
        }
        String bias = root.path("bias").asText("none");
        if (!bias.equals("none")) {
            throw new ModelFormatException(file + ": lora bias '" + bias + "' is not supported (only none)");
        }
        JsonNode targets = root.get("target_modules");
        List<String> list = null;
        if (targets != null && targets.isArray()) {
            list = new ArrayList<>();
            for (JsonNode t : targets) {
                list.add(t.asText());
            }
        } else if (targets == null || !targets.isTextual()) {
            throw new ModelFormatException(file + ": 'target_modules' must be a list or a string");
        }
        return new Config(r.asInt(), alpha.asDouble(), list, root.path("fan_in_fan_out").asBoolean(false),
                root.path("use_rslora").asBoolean(false));
    }

    /**
     * Writes a random adapter in exactly peft's layout (for fixtures: {@code privllm fixture --lora}). Unlike
     * peft's initialisation (B = 0, a no-op) both factors are random, so the adapter visibly changes outputs.
     *
     * @param targets any of {@code c_attn}, {@code c_proj} (attention and MLP projections), {@code c_fc}
     */
    public static void writeRandom(Path out, int layers, int embd, int inner, int r, float alpha, List<String> targets,
                                   long seed) {
        if (layers <= 0 || embd <= 0 || inner <= 0 || r <= 0) {
            throw new IllegalArgumentException("adapter needs positive layers, embd, inner and r");
        }
        if (targets.isEmpty() || !Set.of("c_attn", "c_proj", "c_fc").containsAll(targets)) {
            throw new IllegalArgumentException("adapter targets must be among c_attn, c_proj, c_fc, got " + targets);
        }
        Random rnd = new Random(seed);
        SafeTensorsWriter w = new SafeTensorsWriter();
        for (int i = 0; i < layers; i++) {
            for (String module : MODULES) {
                if (!targeted(targets, module)) {
                    continue;
                }
                int in = module.equals("mlp.c_proj") ? inner : embd;
                int outDim = switch (module) {
                    case "attn.c_attn" -> 3 * embd;
                    case "mlp.c_fc" -> inner;
                    default -> embd;
                };
                String key = "base_model.model.transformer.h." + i + "." + module;
                w.put(key + ".lora_A.weight", gaussian(r * in, 1 / Math.sqrt(in), rnd), r, in);
                w.put(key + ".lora_B.weight", gaussian(outDim * r, 0.1 / Math.sqrt(r), rnd), outDim, r);
            }
        }
        write(out, w, r, alpha, targets, true, "gpt2");
    }

    /** The Llama-family modules by their {@code target_modules} names. */
    public static final List<String> LLAMA_TARGETS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
            "down_proj");

    /**
     * Writes a random adapter for {@code model} in exactly peft's layout, both factors random (see the GPT-2
     * form): GPT-2 targets among {@code c_attn}, {@code c_proj}, {@code c_fc}; Llama-family targets among
     * {@link #LLAMA_TARGETS}.
     */
    public static void writeRandom(Path out, DecoderConfig model, int r, float alpha, List<String> targets, long seed) {
        if (model.architecture() == Architecture.GPT2) {
            writeRandom(out, model.layers(), model.hidden(), model.inner(), r, alpha, targets, seed);
            return;
        }
        if (r <= 0) {
            throw new IllegalArgumentException("adapter needs a positive r, got " + r);
        }
        if (targets.isEmpty() || !LLAMA_TARGETS.containsAll(targets)) {
            throw new IllegalArgumentException("adapter targets must be among " + String.join(", ", LLAMA_TARGETS) + ", got "
                    + targets);
        }
        Random rnd = new Random(seed);
        SafeTensorsWriter w = new SafeTensorsWriter();
        for (int i = 0; i < model.layers(); i++) {
            for (String module : LLAMA_MODULES) {
                if (!targeted(targets, module)) {
                    continue;
                }
                Part p = part(model, module);
                String key = "base_model.model.model.layers." + i + "." + module;
                w.put(key + ".lora_A.weight", gaussian(r * p.in(), 1 / Math.sqrt(p.in()), rnd), r, p.in());
                w.put(key + ".lora_B.weight", gaussian(p.out() * r, 0.1 / Math.sqrt(r), rnd), p.out(), r);
            }
        }
        write(out, w, r, alpha, targets, false, model.architecture().modelType());
    }

    private static void write(Path out, SafeTensorsWriter w, int r, float alpha, List<String> targets, boolean fanInFanOut,
                              String base) {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("alpha_pattern", Map.of());
        config.put("auto_mapping", null);
        config.put("base_model_name_or_path", base);
        config.put("bias", "none");
        config.put("fan_in_fan_out", fanInFanOut);
        config.put("inference_mode", true);
        config.put("init_lora_weights", true);
        config.put("layers_pattern", null);
        config.put("layers_to_transform", null);
        config.put("lora_alpha", alpha);
        config.put("lora_dropout", 0.0);
        config.put("modules_to_save", null);
        config.put("peft_type", "LORA");
        config.put("r", r);
        config.put("rank_pattern", Map.of());
        config.put("revision", null);
        config.put("target_modules", targets);
        config.put("task_type", "CAUSAL_LM");
        config.put("use_dora", false);
        config.put("use_rslora", false);
        try {
            Files.createDirectories(out);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve(CONFIG_FILE).toFile(), config);
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": cannot write adapter (" + e.getMessage() + ")", e);
        }
        w.write(out.resolve(WEIGHTS_FILE));
    }

    private static float[] gaussian(int n, double std, Random rnd) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) (std * rnd.nextGaussian());
        }
        return f;
    }

    @Override
    public String toString() {
        return "LoraAdapter[r=" + config.r() + ", alpha=" + config.alpha() + ", " + layers.size() + " layers]";
    }
}
