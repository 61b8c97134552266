package org.privllm.cli;

import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.privllm.lab.leakage.LeakagePrompts;
import org.privllm.lab.leakage.PublicModel;
import org.privllm.lab.leakage.blinded.TokenMixing;
import org.privllm.lab.report.ResultTable;
import org.privllm.model.Gpt2Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "mixing", mixinStandardHelpOptions = true, description = "The token-mixing candidate (GELO) against the "
        + "subspace attack: recovery of the prompt from mixed first-layer rows per number of decoy rows, and the unmixing error.")
final class ExperimentMixingCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();
    @Mixin ExperimentRun run = new ExperimentRun();

    @Option(names = "--count", defaultValue = "10", description = "prompts (default ${DEFAULT-VALUE})")
    int count;

    @Option(names = "--decoys", defaultValue = "0,4,16,64", split = ",", description = "decoy rows per call to try (default ${DEFAULT-VALUE})")
    int[] decoys;

    @Override
    public Integer call() {
        Gpt2Model m = model.gpt2("experiment mixing");
        if (Arrays.stream(decoys).anyMatch(k -> k < 0)) {
            throw new IllegalArgumentException("--decoys must be >= 0");
        }
        long seed = run.seed != null ? run.seed : new SecureRandom().nextLong();
        List<int[]> prompts = LeakagePrompts.resolve(null, model.tokenizer(), m.config().vocab(), m.config().positions(), count, seed);
        List<Map<String, Object>> rows = new TokenMixing(m.config(), new PublicModel(m.config(), m.weights())).run(prompts, decoys, seed);
        ResultTable table = new ResultTable("Token mixing (GELO) on the first linear layer: subspace attack vs decoys");
        rows.forEach(table::add);
        table.write(run.out, "mixing", run.info(m.config()));
        System.out.println(table.toMarkdown(run.info(m.config())));
        return 0;
    }
}
