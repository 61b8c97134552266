package org.privllm.cli;

import java.util.concurrent.Callable;
import org.privllm.untrusted.server.ExecutorOptions;
import org.privllm.untrusted.server.ExecutorServerMain;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code privllm executor --listen HOST:PORT [...]}: the untrusted executor as its own gRPC process. */
@Command(name = "executor", mixinStandardHelpOptions = true,
        description = "Serve the untrusted executor over gRPC; prints one line when ready, stops on SIGTERM.")
public final class ExecutorCommand implements Callable<Integer> {
    @Mixin
    ExecutorOptions options = new ExecutorOptions();

    @Override
    public Integer call() throws Exception {
        return ExecutorServerMain.serve(options);
    }
}
