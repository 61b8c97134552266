package org.privllm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code privllm experiment …}: re-runnable experiments writing JSON, CSV, Markdown and plots. */
@Command(name = "experiment", mixinStandardHelpOptions = true, description = "Experiments: results as JSON + CSV + Markdown + PNG/SVG plots under --out.",
        subcommands = {ExperimentSummaryCommand.class, ExperimentAttentionCommand.class, ExperimentWorkloadCommand.class,
                ExperimentLeakageCommand.class, ExperimentMixingCommand.class, CommandLine.HelpCommand.class})
final class ExperimentCommand implements Runnable {
    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
