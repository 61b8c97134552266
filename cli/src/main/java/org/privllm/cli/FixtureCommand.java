package org.privllm.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.privllm.model.Fixture;
import org.privllm.model.Gpt2Config;
import org.privllm.model.tokenizer.Gpt2Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "fixture", description = "Write a random GPT-2 checkpoint in HuggingFace layout.")
final class FixtureCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;
    @Option(names = "--preset", paramLabel = "NAME", description = "gpt2: the 124M shape (12 layers, 768, 12 heads, 50257, 1024).") String preset;
    @Option(names = "--layers", defaultValue = "2") int layers;
    @Option(names = "--embd", defaultValue = "64") int embd;
    @Option(names = "--heads", defaultValue = "4") int heads;
    @Option(names = "--vocab", defaultValue = "50257") int vocab;
    @Option(names = "--positions", defaultValue = "256") int positions;
    @Option(names = "--seed", defaultValue = "1") long seed;

    @Override
    public Integer call() {
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
