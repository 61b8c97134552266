package org.privllm.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;

/** Turns any failure into the one line a user sees. */
final class Errors {
    private Errors() {}

    static String describe(Throwable e) {
        if (e instanceof OutOfMemoryError) {
            return "out of memory: give the JVM more heap (PRIVLLM_JAVA_OPTS=-Xmx...)";
        }
        if (e instanceof UncheckedIOException u) {
            e = u.getCause() != null ? u.getCause() : u;
        }
        if (e instanceof NoSuchFileException n) {
            return n.getFile() + ": not found";
        }
        String msg = e.getMessage();
        if (msg == null || msg.isBlank()) {
            msg = e instanceof IOException ? "I/O failure" : e.getClass().getSimpleName();
        }
        return oneLine(msg);
    }

    static String oneLine(String msg) {
        if (msg == null) {
            return "failed";
        }
        String s = msg.strip();
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl).strip();
    }
}
