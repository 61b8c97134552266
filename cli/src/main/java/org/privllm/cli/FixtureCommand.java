package org.privllm.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.tokenizer.Gpt2Tokenizer;
import org.privllm.trusted.lora.LoraAdapter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "fixture", mixinStandardHelpOptions = true, description = "Write a random GPT-2 checkpoint in HuggingFace layout.")
final class FixtureCommand implements Callable<Integer> {
    @Option(names = "--out", paramLabel = "DIR", description = "Write a random checkpoint here.") Path out;
    @Option(names = "--lora", paramLabel = "OUT", description = "Instead: write a random PEFT LoRA adapter for --model here.") Path lora;
    @Option(names = "--model", paramLabel = "DIR", description = "With --lora: the checkpoint the adapter adapts.") Path model;
    @Option(names = "--r", defaultValue = "8", description = "With --lora: rank (default ${DEFAULT-VALUE}).") int rank;
    @Option(names = "--alpha", defaultValue = "16", description = "With --lora: lora_alpha (default ${DEFAULT-VALUE}).") float alpha;
    @Option(names = "--targets", defaultValue = "c_attn,c_proj,c_fc", split = ",",
            description = "With --lora: target modules (default ${DEFAULT-VALUE}).") java.util.List<String> targets;
    @Option(names = "--preset", paramLabel = "NAME", description = "gpt2: the 124M shape (12 layers, 768, 12 heads, 50257, 1024).") String preset;
    @Option(names = "--layers", defaultValue = "2") int layers;
    @Option(names = "--embd", defaultValue = "64") int embd;
    @Option(names = "--heads", defaultValue = "4") int heads;
    @Option(names = "--vocab", defaultValue = "50257") int vocab;
    @Option(names = "--positions", defaultValue = "256") int positions;
    @Option(names = "--seed", defaultValue = "1") long seed;

    @Override
    public Integer call() {
        if ((out == null) == (lora == null)) {
            throw new IllegalArgumentException("give --out DIR (a checkpoint) or --lora OUT --model DIR (an adapter)");
        }
        if (lora != null) {
            if (model == null) {
                throw new IllegalArgumentException("--lora needs --model DIR (the checkpoint it adapts)");
            }
            Gpt2Config mc = Gpt2Config.load(model);
            LoraAdapter.writeRandom(lora, mc.layers(), mc.embd(), mc.inner(), rank, alpha, targets, seed);
            System.err.println("wrote a rank-" + rank + " LoRA adapter for " + targets + " to " + lora);
            return 0;
        }
        Gpt2Config c;
        if (preset != null) {
            if (!preset.equals("gpt2")) {
                throw new IllegalArgumentException("unknown --preset '" + preset + "' (known: gpt2)");
            }
            c = Fixture.gpt2Preset();
        } else {
            c = Gpt2Config.of(layers, embd, heads, vocab, positions);
        }
        Fixture.write(out, c, seed);
        boolean tokenizer = c.vocab() == 50257;
        if (tokenizer) {
            Gpt2Tokenizer.writeGpt2Files(out);
        }
        System.err.println("wrote " + c.layers() + "-layer GPT-2 (n_embd " + c.embd() + ", " + c.heads() + " heads, vocab "
                + c.vocab() + ", " + c.positions() + " positions)" + (tokenizer ? " with GPT-2's tokenizer" : "") + " to " + out);
        return 0;
    }
}
