package org.privllm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code privllm} command. Every failure is one line on stderr starting with {@code error:}. */
@Command(name = "privllm", mixinStandardHelpOptions = true, version = "privllm " + Main.VERSION,
        description = "Privacy-preserving LLM inference: a trusted domain drives untrusted executors on blinded or masked tensors.",
        subcommands = {DemoCommand.class, GenerateCommand.class, LogitsCommand.class, TokenizeCommand.class, BenchCommand.class,
                FixtureCommand.class, ExecutorCommand.class, ExperimentCommand.class, VerifyCommand.class, org.privllm.server.ServeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    public static final String VERSION = "0.1.0";

    static {
        org.privllm.server.http.LibraryLogs.quiet();
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    private static volatile java.util.List<String> commandLine = java.util.List.of("privllm");

    /** The command line of this run ({@code privllm ARGS}), recorded in experiment results. */
    public static java.util.List<String> commandLine() {
        return commandLine;
    }

    /** Runs the CLI and returns its exit code (tests call this). */
    public static int run(String... args) {
        java.util.List<String> cl = new java.util.ArrayList<>(java.util.List.of("privllm"));
        cl.addAll(java.util.List.of(args));
        commandLine = java.util.List.copyOf(cl);
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("error: " + Errors.describe(e));
            cmd.getErr().flush();
            return 1;
        });
        cli.setParameterExceptionHandler((e, a) -> {
            e.getCommandLine().getErr().println("error: " + Errors.oneLine(e.getMessage()));
            e.getCommandLine().getErr().flush();
            return 2;
        });
        return cli.execute(args);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
