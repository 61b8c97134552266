package org.privllm.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.privllm.lab.report.Progress;
import org.privllm.lab.report.RunInfo;
import org.privllm.lab.workload.WorkloadAnalyzer;
import org.privllm.lab.workload.WorkloadReport;
import org.privllm.model.DecoderModel;
import org.privllm.trusted.mask.MaskFamily;
import org.privllm.trusted.obf.ObfuscationMode;
import org.privllm.trusted.privacy.PrivacyLevel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "workload", mixinStandardHelpOptions = true, description = "Workload analyzer, on any decoder (GPT-2, Llama, Mistral, "
        + "Qwen2, Qwen3): counted FLOPs, round trips, bytes, trusted memory and projected time of plain, trusted_nonlinear, "
        + "masked (the seed level, each mode and family), strong, two-party, masked_gpu_nonlinear and amulet_reference.")
final class ExperimentWorkloadCommand implements Callable<Integer> {
    @Mixin ModelOptions model = new ModelOptions();
    @Mixin ExperimentRun run = new ExperimentRun();
    @Option(names = "--prompt-tokens", defaultValue = "16", description = "Prompt length (default ${DEFAULT-VALUE}).") int promptTokens;
    @Option(names = "--new-tokens", defaultValue = "4", description = "Greedy new tokens (default ${DEFAULT-VALUE}).") int newTokens;
    @Option(names = "--tee-slowdown", defaultValue = "1.0", paramLabel = "F", description = "Multiplies trusted time (default ${DEFAULT-VALUE}).") double teeSlowdown;
    @Option(names = "--link-gbps", defaultValue = "10", paramLabel = "G", description = "Boundary bandwidth, Gbit/s (default ${DEFAULT-VALUE}).") double linkGbps;
    @Option(names = "--call-latency-us", defaultValue = "50", paramLabel = "U", description = "Latency per round trip, µs (default ${DEFAULT-VALUE}).") double callLatencyUs;
    @Option(names = "--privacy", split = ",", paramLabel = "seed,strong,two-party", description = "Privacy levels to run "
            + "(default: all three); seed = the masked rows (--modes x --families), strong and two-party one row each.") List<String> privacy;
    @Option(names = "--families", paramLabel = "F,F", split = ",", description = "Seed level: mask families of the masked runs (default: orthogonal, gaussian, block:min(64,d), perm).") List<String> families;
    @Option(names = "--modes", split = ",", paramLabel = "mask,pad", description = "Seed level: modes of the masked runs (default mask,pad).") List<String> modes;
    @Option(names = "--reps", defaultValue = "3", description = "Measured generations per real strategy; the fastest is reported (default ${DEFAULT-VALUE}).") int reps;
    @Option(names = "--plan-only", description = "Count every strategy from its execution plan; run nothing (shapes too slow to run here).") boolean planOnly;
    @Option(names = "--plan-families", paramLabel = "F,F", split = ",", description = "Mask families whose masked rows are "
            + "counted from their execution plan and projected instead of run (too heavy here); Gaussian masks wider than "
            + "1024 and sessions that would not fit the heap are planned anyway, each row saying why.") List<String> planFamilies;
    @Option(names = "--trusted-gflops", defaultValue = "1", description = "Trusted GFLOP/s for projections where nothing was measured (default ${DEFAULT-VALUE}).") double trustedGflops;
    @Option(names = "--executor-gflops", defaultValue = "10", description = "Executor GFLOP/s for projections where nothing was measured (default ${DEFAULT-VALUE}).") double executorGflops;

    @Override
    public Integer call() {
        List<PrivacyLevel> levels = new ArrayList<>();
        for (String s : privacy == null ? List.of("seed", "strong", "two-party") : privacy) {
            PrivacyLevel l = PrivacyLevel.parse(s.trim().toLowerCase(Locale.ROOT));
            if (levels.contains(l)) {
                throw new IllegalArgumentException("--privacy names " + l + " twice");
            }
            levels.add(l);
        }
        boolean seed = levels.remove(PrivacyLevel.SEED);
        if (!seed && (modes != null || families != null || planFamilies != null)) {
            throw new IllegalArgumentException("--modes, --families and --plan-families choose the seed level's rows: "
                    + "add seed to --privacy");
        }
        DecoderModel m = model.load();
        List<MaskFamily> fams = !seed ? List.of() : families == null ? WorkloadAnalyzer.Options.allFamilies(m.config())
                : families.stream().map(MaskFamily::parse).toList();
        List<ObfuscationMode> ms = new ArrayList<>();
        for (String s : !seed ? List.<String>of() : modes == null ? List.of("mask", "pad") : modes) {
            switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "mask" -> ms.add(ObfuscationMode.MASK);
                case "pad" -> ms.add(ObfuscationMode.PAD);
                default -> throw new IllegalArgumentException("unknown mode '" + s + "' in --modes (expected mask, pad)");
            }
        }
        WorkloadAnalyzer.Options o = new WorkloadAnalyzer.Options(promptTokens, newTokens, teeSlowdown, linkGbps,
                callLatencyUs, fams, ms, reps, run.seed, planOnly, trustedGflops, executorGflops,
                planFamilies == null ? List.of() : planFamilies.stream().map(MaskFamily::parse).toList(), levels);
        WorkloadAnalyzer.check(m.config(), o);
        List<WorkloadAnalyzer.Result> results;
        try (Progress p = new Progress("workload", WorkloadAnalyzer.steps(o))) {
            results = WorkloadAnalyzer.run(m, o, p);
        }
        RunInfo info = run.info(m.config());
        List<Path> files = WorkloadReport.write(run.out, results, o, info);
        files.forEach(f -> System.out.println("wrote " + f));
        return 0;
    }
}
