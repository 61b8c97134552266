package org.privllm.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import org.privllm.lab.leakage.LeakageConfig;
import org.privllm.lab.leakage.LeakageLab;
import org.privllm.lab.leakage.LeakagePrompts;
import org.privllm.lab.report.ResultTable;
import org.privllm.model.Gpt2Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "leakage", mixinStandardHelpOptions = true, description = "Attacks on the untrusted executor's own view (its transcript) plus public knowledge, "
        + "for every configuration: vocabulary matching, mask recovery from weights, attention scores, linkability, output tokens.")
final class ExperimentLeakageCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();
    @Mixin ExperimentRun run = new ExperimentRun();

    @Option(names = "--prompts", paramLabel = "FILE", description = "prompts, one per line (default: 60 built-in sentences)")
    Path prompts;

    @Option(names = "--count", defaultValue = "50", description = "prompts to run per configuration (default ${DEFAULT-VALUE})")
    int count;

    @Option(names = "--new-tokens", defaultValue = "4", description = "tokens generated per prompt (default ${DEFAULT-VALUE})")
    int newTokens;

    @Option(names = "--only", paramLabel = "REGEX", description = "run only configurations whose name matches (e.g. 'plain|mask/orthogonal')")
    String only;

    @Override
    public Integer call() throws Exception {
        Gpt2Model m = model.load();
        List<String> texts = null;
        if (prompts != null) {
            if (!Files.isRegularFile(prompts)) {
                throw new IllegalArgumentException("--prompts " + prompts + ": no such file");
            }
            texts = Files.readAllLines(prompts, StandardCharsets.UTF_8).stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
            if (texts.isEmpty()) {
                throw new IllegalArgumentException("--prompts " + prompts + " holds no prompt");
            }
        }
        long base = run.seed != null ? run.seed : new SecureRandom().nextLong();
        List<int[]> ids = LeakagePrompts.resolve(texts, model.tokenizer(), m.config().vocab(), m.config().positions(), count, base);
        List<LeakageConfig> configs = LeakageConfig.all(m.config().embd());
        if (only != null) {
            Pattern p = Pattern.compile(only);
            configs = configs.stream().filter(c -> p.matcher(c.name()).find()).toList();
            if (configs.isEmpty()) {
                throw new IllegalArgumentException("--only '" + only + "' matches no configuration");
            }
        }
        int widest = Math.max(m.config().embd(), m.config().inner());
        if (widest > org.privllm.trusted.mask.DenseMask.MAX_GAUSSIAN_DIM
                && configs.stream().anyMatch(c -> c.family() instanceof org.privllm.trusted.mask.MaskFamily.Gaussian)) {
            System.err.printf("leakage: skipping the gaussian rows: dense Gaussian masks are refused above d = %d "
                    + "(this model needs d = %d; its condition number ~4.7·d is too large for float32)%n",
                    org.privllm.trusted.mask.DenseMask.MAX_GAUSSIAN_DIM, widest);
            configs = configs.stream().filter(c -> !(c.family() instanceof org.privllm.trusted.mask.MaskFamily.Gaussian)).toList();
        }
        long t0 = System.nanoTime();
        ResultTable table = new LeakageLab(m.config(), m.weights(), newTokens, base).run(configs, ids, base, run.out,
                run.info(m.config()), true);
        System.out.println(table.toMarkdown(run.info(m.config())));
        System.err.printf("leakage: %d configurations x %d prompts in %.1f s; results in %s%n", configs.size(), ids.size(),
                (System.nanoTime() - t0) / 1e9, run.out);
        return 0;
    }
}
