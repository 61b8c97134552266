package org.privllm.lab.report;

import java.io.PrintStream;

/** A one-line progress bar on stderr for long runs (redrawn in place; silent when total is 0). */
public final class Progress implements AutoCloseable {
    private final String label;
    private final int total;
    private final PrintStream err;
    private final long start = System.nanoTime();
    private int done;

    public Progress(String label, int total) {
        this(label, total, System.err);
    }

    public Progress(String label, int total, PrintStream err) {
        this.label = label;
        this.total = total;
        this.err = err;
        draw();
    }

    public synchronized void step(String what) {
        done = Math.min(total, done + 1);
        draw();
    }

    private void draw() {
        if (total <= 0) {
            return;
        }
        int width = 30, fill = done * width / total;
        double s = (System.nanoTime() - start) / 1e9;
        err.printf("\r%s [%s%s] %d/%d %.0fs", label, "#".repeat(fill), " ".repeat(width - fill), done, total, s);
        err.flush();
    }

    @Override
    public void close() {
        if (total > 0) {
            err.println();
        }
    }
}
