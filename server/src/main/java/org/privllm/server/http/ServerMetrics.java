package org.privllm.server.http;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.privllm.server.engine.Scheduler;

/**
 * The server's Prometheus metrics (own registry, text format on {@code /metrics}): requests by endpoint and
 * status, prompt and completion tokens, queue depth, batch size, time to first token, inter-token latency,
 * executor errors and retries. No label carries request content.
 */
public final class ServerMetrics implements Scheduler.Observer {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter requests = Counter.builder().name("privllm_requests_total")
            .help("HTTP requests by endpoint and status").labelNames("endpoint", "status").register(registry);
    private final Counter tokens = Counter.builder().name("privllm_tokens_total")
            .help("Tokens processed, by kind (prompt, completion)").labelNames("kind").register(registry);
    private final Gauge queue = Gauge.builder().name("privllm_queue_depth")
            .help("Requests waiting for a batch slot").register(registry);
    private final Gauge batch = Gauge.builder().name("privllm_batch_size")
            .help("Sequences in the running batch").register(registry);
    private final Histogram ttft = Histogram.builder().name("privllm_time_to_first_token_seconds")
            .help("From admission to the queue to the first generated token").classicOnly()
            .classicUpperBounds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120).register(registry);
    private final Histogram itl = Histogram.builder().name("privllm_inter_token_latency_seconds")
            .help("Between consecutive tokens of one sequence").classicOnly()
            .classicUpperBounds(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10).register(registry);
    private final Counter executorErrors = Counter.builder().name("privllm_executor_errors_total")
            .help("Sequences ended by an engine or executor failure after all retries").register(registry);
    private final Counter retries = Counter.builder().name("privllm_executor_retries_total")
            .help("Sequences redone on a fresh executor session after a failure").register(registry);

    public void request(String endpoint, int status) {
        requests.labelValues(endpoint, Integer.toString(status)).inc();
    }

    public void promptTokens(int n) {
        tokens.labelValues("prompt").inc(n);
    }

    public void completionTokens(int n) {
        tokens.labelValues("completion").inc(n);
    }

    @Override
    public void queueDepth(int waiting) {
        queue.set(waiting);
    }

    @Override
    public void batchSize(int active) {
        batch.set(active);
    }

    @Override
    public void firstToken(long nanos) {
        ttft.observe(nanos / 1e9);
    }

    @Override
    public void interToken(long nanos) {
        itl.observe(nanos / 1e9);
    }

    @Override
    public void executorError(RuntimeException e) {
        executorErrors.inc();
    }

    @Override
    public void retries(int n) {
        retries.inc(n);
    }

    public String contentType() {
        return PrometheusTextFormatWriter.CONTENT_TYPE;
    }

    /** The Prometheus text exposition of every metric. */
    public byte[] scrape() {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            PrometheusTextFormatWriter.create().write(out, registry.scrape(),
                    io.prometheus.metrics.config.EscapingScheme.ALLOW_UTF8);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
