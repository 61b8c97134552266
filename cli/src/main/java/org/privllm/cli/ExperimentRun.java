package org.privllm.cli;

import java.nio.file.Path;
import org.privllm.lab.report.RunInfo;
import org.privllm.model.Gpt2Config;
import picocli.CommandLine.Option;

/** What every experiment takes: where its results go and an optional seed, recorded with the run. */
final class ExperimentRun {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the results go.")
    Path out;

    @Option(names = "--seed", paramLabel = "S", description = "Seed everything random in the run (reproducible, and "
            + "recorded in the results; default: SecureRandom masks and pads, nothing recorded).")
    Long seed;

    /** The run's record: model shape, command line, version, machine — and the seed only when the user gave it. */
    RunInfo info(Gpt2Config config) {
        return RunInfo.capture(Main.commandLine(), Main.VERSION, config, seed);
    }

    /** As {@link #info(Gpt2Config)} for any family (GPT-2 keeps its key names). */
    RunInfo info(org.privllm.model.DecoderConfig config) {
        return RunInfo.capture(Main.commandLine(), Main.VERSION, config, seed);
    }
}
