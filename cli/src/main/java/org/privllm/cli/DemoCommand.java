package org.privllm.cli;

import java.util.List;
import java.util.concurrent.Callable;
import org.privllm.model.Gpt2Model;
import org.privllm.model.generate.Generator;
import org.privllm.model.generate.Sampling;
import org.privllm.model.tokenizer.Gpt2Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "demo", description = "The main job on the built-in default model (or --model): generate and show what ran where.")
final class DemoCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();

    @Option(names = "--prompt", defaultValue = "The untrusted GPU never sees this prompt:", paramLabel = "TEXT")
    String prompt;

    @Option(names = "--max-new-tokens", defaultValue = "16")
    int maxNewTokens;

    @Override
    public Integer call() {
        Gpt2Model m = model.load();
        Gpt2Tokenizer tok = model.tokenizer();
        List<int[]> prompts = Prompts.resolve(tok != null ? prompt : null, tok != null ? null : "464,2068,7586", tok);
        Generator.Result r = new Generator(m.plainForward()).generate(prompts, maxNewTokens, Sampling.GREEDY, -1, null);
        System.out.println("model:     " + model.dir() + " (" + m.config().layers() + " layers, n_embd " + m.config().embd() + ")");
        System.out.println("plaintext: " + GenerateCommand.join(r.outputIds().get(0)));
        if (tok != null) {
            System.out.println("text:      " + tok.decode(r.outputIds().get(0)).replace("\n", "\\n"));
        }
        return 0;
    }
}
