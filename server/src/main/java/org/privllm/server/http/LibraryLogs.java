package org.privllm.server.http;

/**
 * The libraries' SLF4J logs (Jetty and Javalin, through slf4j-simple): warnings and errors only, on stderr — never
 * request content (Jetty logs reasons, not bodies). Must run before any of them first logs: the CLI calls it at
 * start-up (with {@code --executor} a library logs before the server's classes load), the server when it loads.
 */
public final class LibraryLogs {
    private LibraryLogs() {}

    /** Sets the default level to {@code warn} unless the user set one ({@code -Dorg.slf4j.simpleLogger.defaultLogLevel}). */
    public static void quiet() {
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
    }
}
