package org.privllm.untrusted.server;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** An {@link ExecutorServerMain} in its own JVM (the test classpath), started and waited for like a user would. */
final class ExecutorProcess implements AutoCloseable {
    private static final Pattern READY = Pattern.compile("privllm executor listening on (\\S+):(\\d+)");

    final Process process;
    final int port;
    final String readyLine;

    private ExecutorProcess(Process process, int port, String readyLine) {
        this.process = process;
        this.port = port;
        this.readyLine = readyLine;
    }

    static ExecutorProcess start(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--add-modules=jdk.incubator.vector", "-XX:TieredStopAtLevel=1", "-Xmx512m", "-cp",
                System.getProperty("java.class.path"), ExecutorServerMain.class.getName(), "--listen", "127.0.0.1:0"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (IOException e) {
                return null;
            }
        }).get(30, TimeUnit.SECONDS);
        Matcher m = line == null ? null : READY.matcher(line);
        if (m == null || !m.matches()) {
            p.destroyForcibly();
            throw new IllegalStateException("executor did not announce itself: " + line);
        }
        return new ExecutorProcess(p, Integer.parseInt(m.group(2)), line);
    }

    String address() {
        return "127.0.0.1:" + port;
    }

    void signal(String sig) {
        try {
            new ProcessBuilder("kill", "-" + sig, Long.toString(process.pid())).inheritIO().start().waitFor();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            signal("CONT");
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
