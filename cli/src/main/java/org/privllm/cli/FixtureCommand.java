package org.privllm.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.privllm.model.Architecture;
import org.privllm.model.DecoderConfig;
import org.privllm.model.DecoderModel;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.LlamaFixture;
import org.privllm.model.SafeTensors;
import org.privllm.model.tokenizer.Gpt2Tokenizer;
import org.privllm.trusted.lora.LoraAdapter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "fixture", mixinStandardHelpOptions = true,
        description = "Write a random checkpoint in HuggingFace layout (GPT-2, Llama, Mistral, Qwen2, Qwen3), or a random "
                + "PEFT LoRA adapter for one.")
final class FixtureCommand implements Callable<Integer> {
    @Option(names = "--out", paramLabel = "DIR", description = "Write a random checkpoint here.") Path out;
    @Option(names = "--lora", paramLabel = "OUT", description = "Instead: write a random PEFT LoRA adapter for --model here.") Path lora;
    @Option(names = "--model", paramLabel = "DIR", description = "With --lora: the checkpoint the adapter adapts (any family).") Path model;
    @Option(names = "--r", defaultValue = "8", description = "With --lora: rank (default ${DEFAULT-VALUE}).") int rank;
    @Option(names = "--alpha", defaultValue = "16", description = "With --lora: lora_alpha (default ${DEFAULT-VALUE}).") float alpha;
    @Option(names = "--targets", split = ",", paramLabel = "MODULE[,MODULE…]",
            description = "With --lora: target modules (default: GPT-2 c_attn,c_proj,c_fc; Llama family q_proj,k_proj,"
                    + "v_proj,o_proj,gate_proj,up_proj,down_proj).") List<String> targets;

    @Option(names = "--arch", paramLabel = "gpt2|llama|mistral|qwen2|qwen3", description = "Family (default gpt2, or the preset's).")
    String arch;
    @Option(names = "--preset", paramLabel = "NAME",
            description = "gpt2: the 124M shape (12 layers, 768, 12 heads, 50257, 1024); llama-124m: 12 layers, 768, 12 heads, "
                    + "4 KV heads, intermediate 2048, vocab 32000, 2048 positions.") String preset;
    @Option(names = "--layers", paramLabel = "N", description = "Blocks (default 2).") Integer layers;
    @Option(names = {"--hidden", "--embd"}, paramLabel = "D", description = "Hidden size (default 64).") Integer hidden;
    @Option(names = "--heads", paramLabel = "H", description = "Query heads (default 4).") Integer heads;
    @Option(names = "--kv-heads", paramLabel = "KV", description = "Llama family: key/value heads, dividing --heads (default: --heads).")
    Integer kvHeads;
    @Option(names = "--head-dim", paramLabel = "HD", description = "Llama family: head width (default hidden/heads).") Integer headDim;
    @Option(names = "--inner", paramLabel = "F", description = "MLP width (default: GPT-2 4·hidden; Llama family 8/3·hidden, a multiple of 8).")
    Integer inner;
    @Option(names = "--vocab", paramLabel = "V", description = "Vocabulary (default 50257).") Integer vocab;
    @Option(names = "--positions", paramLabel = "P", description = "Positions (default 256).") Integer positions;
    @Option(names = "--tied", description = "Llama family: tie the LM head to the embeddings (GPT-2's is always tied).") boolean tied;
    @Option(names = "--attention-bias", description = "llama, qwen3: biases on q/k/v and o (qwen2 always has q/k/v biases).")
    boolean attentionBias;
    @Option(names = "--dtype", paramLabel = "f32|f16|bf16", description = "Stored precision (default f32).") String dtype;
    @Option(names = "--shards", paramLabel = "N", description = "Weight files, with an index when more than one (default 1).")
    Integer shards;
    @Option(names = "--rope-theta", paramLabel = "THETA", description = "Llama family: rope_theta (default 10000).") Double ropeTheta;
    @Option(names = "--rope-scaling", paramLabel = "llama3:FACTOR[:LOW:HIGH:ORIGINAL]",
            description = "Llama family: Llama 3.1's rope scaling (defaults low 1, high 4, original 8192).") String ropeScaling;
    @Option(names = "--seed", defaultValue = "1", description = "Same seed, same checkpoint (default ${DEFAULT-VALUE}).") long seed;
    @Option(names = "--tokenizer", paramLabel = "DIR",
            description = "Copy the tokenizer files of DIR (tokenizer.json, tokenizer_config.json, special_tokens_map.json, or "
                    + "GPT-2's vocab.json + merges.txt) into the checkpoint.") Path tokenizer;

    /** The tokenizer files {@code --tokenizer} copies, when present. */
    static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "vocab.json", "merges.txt");

    @Override
    public Integer call() {
        if ((out == null) == (lora == null)) {
            throw new IllegalArgumentException("give --out DIR (a checkpoint) or --lora OUT --model DIR (an adapter)");
        }
        if (lora != null) {
            return adapter();
        }
        Architecture a = architecture();
        if (tokenizer != null) {
            tokenizerFiles(tokenizer); // refused before anything is written
        }
        if (a == Architecture.GPT2) {
            gpt2();
        } else {
            LlamaFixture.Spec spec = llamaSpec(a);
            LlamaFixture.write(out, spec);
            System.err.println("wrote " + spec.layers() + "-layer " + a.modelType() + " (hidden " + spec.hidden() + ", "
                    + spec.heads() + " heads, " + spec.kvHeads() + " kv heads of " + spec.headDim() + ", intermediate "
                    + spec.inner() + ", vocab " + spec.vocab() + ", " + spec.positions() + " positions"
                    + (spec.tied() ? ", tied" : "") + ") to " + out);
        }
        if (tokenizer != null) {
            copyTokenizer(tokenizer, out);
        }
        return 0;
    }

    private int adapter() {
        if (model == null) {
            throw new IllegalArgumentException("--lora needs --model DIR (the checkpoint it adapts)");
        }
        DecoderConfig c = DecoderModel.loadConfig(model);
        List<String> t = targets != null ? targets : c.architecture() == Architecture.GPT2
                ? List.of("c_attn", "c_proj", "c_fc") : LoraAdapter.LLAMA_TARGETS;
        LoraAdapter.writeRandom(lora, c, rank, alpha, t, seed);
        System.err.println("wrote a rank-" + rank + " LoRA adapter for " + t + " to " + lora);
        return 0;
    }

    /** {@code --arch}, or the preset's; they must agree. */
    private Architecture architecture() {
        Architecture byPreset = preset == null ? null : switch (preset) {
            case "gpt2" -> Architecture.GPT2;
            case "llama-124m" -> Architecture.LLAMA;
            default -> throw new IllegalArgumentException("unknown --preset '" + preset + "' (known: gpt2, llama-124m)");
        };
        if (arch == null) {
            return byPreset != null ? byPreset : Architecture.GPT2;
        }
        Architecture a = Architecture.byName(arch);
        if (a == null) {
            throw new IllegalArgumentException("--arch must be gpt2, llama, mistral, qwen2 or qwen3, got '" + arch + "'");
        }
        if (byPreset != null && byPreset != a) {
            throw new IllegalArgumentException("--preset " + preset + " is a " + byPreset.modelType() + ", not " + a.modelType());
        }
        return a;
    }

    private void gpt2() {
        List<String> llamaOnly = new ArrayList<>();
        if (kvHeads != null) {
            llamaOnly.add("--kv-heads");
        }
        if (headDim != null) {
            llamaOnly.add("--head-dim");
        }
        if (ropeTheta != null) {
            llamaOnly.add("--rope-theta");
        }
        if (ropeScaling != null) {
            llamaOnly.add("--rope-scaling");
        }
        if (attentionBias) {
            llamaOnly.add("--attention-bias");
        }
        if (!llamaOnly.isEmpty()) {
            throw new IllegalArgumentException(String.join(", ", llamaOnly) + " apply to the Llama family, not gpt2");
        }
        Gpt2Config c;
        if (preset != null) {
            if (layers != null || hidden != null || heads != null || inner != null || vocab != null || positions != null) {
                throw new IllegalArgumentException("--preset gpt2 fixes the shape: drop --layers/--hidden/--heads/--inner/--vocab/--positions");
            }
            c = Fixture.gpt2Preset();
        } else {
            int d = or(hidden, 64), h = or(heads, 4);
            c = new Gpt2Config(or(layers, 2), d, h, or(inner, 4 * d), or(vocab, 50257), or(positions, 256), 1e-5f,
                    org.privllm.model.Activation.GELU_NEW, true, false, or(vocab, 50257) - 1);
        }
        Fixture.write(out, c, seed, dtype(), or(shards, 1));
        boolean gpt2Tokenizer = c.vocab() == 50257 && tokenizer == null;
        if (gpt2Tokenizer) {
            Gpt2Tokenizer.writeGpt2Files(out);
        }
        System.err.println("wrote " + c.layers() + "-layer GPT-2 (n_embd " + c.embd() + ", " + c.heads() + " heads, vocab "
                + c.vocab() + ", " + c.positions() + " positions)" + (gpt2Tokenizer ? " with GPT-2's tokenizer" : "") + " to " + out);
    }

    private LlamaFixture.Spec llamaSpec(Architecture a) {
        if (preset != null) {
            if (layers != null || hidden != null || heads != null || kvHeads != null || headDim != null || inner != null
                    || vocab != null || positions != null) {
                throw new IllegalArgumentException("--preset llama-124m fixes the shape: drop the shape options");
            }
            LlamaFixture.Spec p = LlamaFixture.Spec.llama124m(seed);
            return new LlamaFixture.Spec(a, p.layers(), p.hidden(), p.heads(), p.kvHeads(), p.headDim(), p.inner(), p.vocab(),
                    p.positions(), tied, dtype(), or(shards, 1), seed, ropeTheta != null ? ropeTheta : p.ropeTheta(),
                    scaling(), attentionBias);
        }
        int d = or(hidden, 64), h = or(heads, 4);
        if (headDim == null && d % h != 0) {
            throw new IllegalArgumentException("--hidden " + d + " is not a multiple of --heads " + h + ": give --head-dim");
        }
        int kv = or(kvHeads, h);
        if (kv <= 0 || h % kv != 0) {
            throw new IllegalArgumentException("--kv-heads " + kv + " must divide --heads " + h);
        }
        return new LlamaFixture.Spec(a, or(layers, 2), d, h, kv, or(headDim, d / h), or(inner, (8 * d / 3 + 7) / 8 * 8),
                or(vocab, 50257), or(positions, 256), tied, dtype(), or(shards, 1), seed, ropeTheta != null ? ropeTheta : 10000.0,
                scaling(), attentionBias);
    }

    /** {@code --rope-scaling llama3:FACTOR[:LOW:HIGH:ORIGINAL]}. */
    private DecoderConfig.Llama3Scaling scaling() {
        if (ropeScaling == null) {
            return null;
        }
        String[] p = ropeScaling.split(":", -1);
        if (!p[0].equals("llama3") || (p.length != 2 && p.length != 5)) {
            throw new IllegalArgumentException("--rope-scaling must be llama3:FACTOR or llama3:FACTOR:LOW:HIGH:ORIGINAL, got '"
                    + ropeScaling + "'");
        }
        try {
            return new DecoderConfig.Llama3Scaling(Double.parseDouble(p[1]), p.length == 5 ? Double.parseDouble(p[2]) : 1,
                    p.length == 5 ? Double.parseDouble(p[3]) : 4, p.length == 5 ? Integer.parseInt(p[4]) : 8192);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--rope-scaling: '" + ropeScaling + "' has a value that is not a number");
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("--rope-scaling: " + e.getMessage().replaceFirst("^config: ", ""));
        }
    }

    private SafeTensors.DType dtype() {
        if (dtype == null) {
            return SafeTensors.DType.F32;
        }
        return switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32", "float32" -> SafeTensors.DType.F32;
            case "f16", "float16" -> SafeTensors.DType.F16;
            case "bf16", "bfloat16" -> SafeTensors.DType.BF16;
            default -> throw new IllegalArgumentException("--dtype must be f32, f16 or bf16, got '" + dtype + "'");
        };
    }

    private static int or(Integer v, int dflt) {
        return v != null ? v : dflt;
    }

    /** The tokenizer files {@code from} has; a one-line error unless it has a whole tokenizer. */
    static List<String> tokenizerFiles(Path from) {
        if (!Files.isDirectory(from)) {
            throw new IllegalArgumentException("--tokenizer " + from + ": not a directory");
        }
        boolean hf = Files.isRegularFile(from.resolve("tokenizer.json"));
        boolean gpt2 = Files.isRegularFile(from.resolve("vocab.json")) && Files.isRegularFile(from.resolve("merges.txt"));
        if (!hf && !gpt2) {
            throw new IllegalArgumentException("--tokenizer " + from + " has no tokenizer.json and no vocab.json + merges.txt");
        }
        return TOKENIZER_FILES.stream().filter(f -> Files.isRegularFile(from.resolve(f))).toList();
    }

    /** Copies the tokenizer files of {@code from} that exist into {@code to}; at least one tokenizer must be there. */
    static void copyTokenizer(Path from, Path to) {
        List<String> copied = tokenizerFiles(from);
        try {
            for (String f : copied) {
                Files.copy(from.resolve(f), to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("--tokenizer: cannot copy from " + from + " (" + e.getMessage() + ")", e);
        }
        System.err.println("copied " + String.join(", ", copied) + " from " + from);
    }
}
