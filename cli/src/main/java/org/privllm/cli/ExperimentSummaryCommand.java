package org.privllm.cli;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.privllm.lab.experiment.summary.SummaryExperiment;
import org.privllm.model.DecoderModel;
import org.privllm.trusted.lora.LoraAdapter;
import org.privllm.trusted.mask.MaskFamily;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code privllm experiment summary}: every stage's verification in both modes plus generation equivalence. */
@Command(name = "summary", mixinStandardHelpOptions = true, description = {
        "Re-runs every stage's verification (as verify) in mask and padding mode and the generation-equivalence check",
        "(greedy 32 new tokens, obfuscated vs plaintext); writes summary.json/.csv/.md and summary.png/.svg under --out."})
final class ExperimentSummaryCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();
    @Mixin ExperimentRun run = new ExperimentRun();

    @Option(names = "--lora", paramLabel = "DIR", description = "A peft LoRA adapter for the model.")
    Path lora;

    @Mixin MaskFamilyOption masks = new MaskFamilyOption();

    @Override
    public Integer call() {
        DecoderModel m = model.load();
        MaskFamily family = masks.family();
        LoraAdapter adapter = lora == null ? null : LoraAdapter.load(lora, m.config());
        SummaryExperiment.Result r = SummaryExperiment.run(m, adapter, family, run.seed,
                run.info(m.config()), run.out, System.err);
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("checks", r.table().rows().size());
        j.put("all_passed", r.allPassed());
        j.put("files", r.files().stream().map(Path::toString).toList());
        Json.print(System.out, j);
        return 0;
    }
}
