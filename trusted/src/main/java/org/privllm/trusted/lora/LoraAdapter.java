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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ejml.data.DMatrixRMaj;
import org.privllm.model.Gpt2Config;
import org.privllm.model.ModelFormatException;
import org.privllm.model.SafeTensors;
import org.privllm.model.SafeTensorsWriter;
import org.privllm.trusted.linalg.Dense;

/**
 * A private PEFT LoRA adapter for GPT-2, as peft saves it ({@code save_pretrained}):
 * {@code adapter_config.json} ({@code peft_type: LORA}, {@code r}, {@code lora_alpha},
 * {@code target_modules}, {@code fan_in_fan_out}, {@code use_rslora}) and {@code adapter_model.safetensors}
 * with keys {@code base_model.model.transformer.h.{i}.{attn.c_attn|attn.c_proj|mlp.c_fc|mlp.c_proj}.lora_{A|B}.weight}.
 *
 * <p>Layout, checked against peft's {@code LoraLayer}: for GPT-2's {@code Conv1D} peft takes
 * {@code in_features, out_features = weight.shape} (Conv1D stores {@code (in, out)}), then builds
 * {@code lora_A = nn.Linear(in_features, r)} and {@code lora_B = nn.Linear(r, out_features)}, so the files
 * hold {@code A: (r, in)} and {@code B: (out, r)} — whatever {@code fan_in_fan_out} says (it only makes
 * peft transpose the merged delta {@code B·A} to Conv1D's {@code (in, out)}; peft forces it true for
 * Conv1D). The delta is {@code scaling·(B·A)ᵀ} with {@code scaling = α/r} ({@code α/√r} with rsLoRA). In
 * this project's row-vector convention that is {@code scaling·A'·B'} with {@code A' = Aᵀ (in×r)},
 * {@code B' = Bᵀ (r×out)} — see {@link LowRankAdapter}.
 */
public final class LoraAdapter {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** The GPT-2 Conv1D modules an adapter may target. */
    public static final List<String> MODULES = List.of("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj");

    private static final Pattern KEY = Pattern.compile(
            "base_model\\.model\\.(?:transformer\\.)?h\\.(\\d+)\\.(attn\\.c_attn|attn\\.c_proj|mlp\\.c_fc|mlp\\.c_proj)"
                    + "\\.lora_([AB])(?:\\.default)?\\.weight");

    /** The parts of {@code adapter_config.json} this reader uses. */
    public record Config(int r, double alpha, List<String> targetModules, boolean fanInFanOut, boolean useRslora) {
        /** peft's {@code scaling}. */
        public double scaling() {
            return useRslora ? alpha / Math.sqrt(r) : alpha / r;
        }
    }

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
     * The adapted layers keyed {@code h.{i}.attn.c_attn}, {@code h.{i}.attn.c_proj}, {@code h.{i}.mlp.c_fc},
     * {@code h.{i}.mlp.c_proj} (the keys {@code ObfuscatedGpt2} takes).
     */
    public Map<String, LowRankAdapter> layers() {
        return layers;
    }

    /** Loads and validates an adapter directory against the model it adapts. */
    public static LoraAdapter load(Path dir, Gpt2Config model) {
        Path configFile = dir.resolve(CONFIG_FILE);
        Config config = readConfig(configFile);
        Map<String, float[][]> found = new TreeMap<>(); // "h.i.module" -> {A, B} raw
        Map<String, LowRankAdapter> layers = new LinkedHashMap<>();
        Path weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(weights)) {
            throw new ModelFormatException(weights + ": missing (a peft adapter needs " + WEIGHTS_FILE + ")");
        }
        try (SafeTensors st = SafeTensors.open(weights)) {
            List<String> names = new ArrayList<>(st.entries().keySet());
            Collections.sort(names);
            for (String name : names) {
                Matcher m = KEY.matcher(name);
                if (!m.matches()) {
                    throw new ModelFormatException(weights + ": unsupported adapter tensor '" + name
                            + "' (only LoRA A/B of attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj)");
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
                int[] io = dims(model, module);
                boolean isA = m.group(3).equals("A");
                // peft: A is (r, in), B is (out, r)
                float[] data = isA ? st.matrix(name, config.r(), io[0]).data : st.matrix(name, io[1], config.r()).data;
                float[][] pair = found.computeIfAbsent("h." + layer + "." + module, k -> new float[2][]);
                pair[isA ? 0 : 1] = data;
            }
        }
        if (found.isEmpty()) {
            throw new ModelFormatException(weights + ": no LoRA tensors");
        }
        for (var e : found.entrySet()) {
            float[][] pair = e.getValue();
            if (pair[0] == null || pair[1] == null) {
                throw new ModelFormatException(weights + ": " + e.getKey() + " has lora_" + (pair[0] == null ? "B" : "A")
                        + " but no lora_" + (pair[0] == null ? "A" : "B"));
            }
            int[] io = dims(model, e.getKey().substring(e.getKey().indexOf('.', 2) + 1));
            DMatrixRMaj a = Dense.transpose(Dense.of(new org.privllm.tensor.Matrix(config.r(), io[0], pair[0])));
            DMatrixRMaj b = Dense.transpose(Dense.of(new org.privllm.tensor.Matrix(io[1], config.r(), pair[1])));
            layers.put(e.getKey(), new LowRankAdapter(a, b, config.scaling()));
        }
        return new LoraAdapter(config, layers);
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

    /** {in, out} of a GPT-2 module. */
    private static int[] dims(Gpt2Config model, String module) {
        int d = model.embd();
        return switch (module) {
            case "attn.c_attn" -> new int[] {d, 3 * d};
            case "attn.c_proj" -> new int[] {d, d};
            case "mlp.c_fc" -> new int[] {d, model.inner()};
            case "mlp.c_proj" -> new int[] {model.inner(), d};
            default -> throw new IllegalArgumentException("unknown GPT-2 module " + module);
        };
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
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("alpha_pattern", Map.of());
        config.put("auto_mapping", null);
        config.put("base_model_name_or_path", "gpt2");
        config.put("bias", "none");
        config.put("fan_in_fan_out", true);
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
