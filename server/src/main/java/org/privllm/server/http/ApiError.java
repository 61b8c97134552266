package org.privllm.server.http;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A request the server answers with OpenAI's error object {@code {"error": {"message", "type", "param", "code"}}}
 * and an HTTP status. Messages are one line and never quote prompt or output text.
 */
public final class ApiError extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;
    private final Integer retryAfterSeconds;

    public ApiError(int status, String type, String message, String param, String code) {
        this(status, type, message, param, code, null);
    }

    public ApiError(int status, String type, String message, String param, String code, Integer retryAfterSeconds) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** 400, {@code invalid_request_error}, naming the offending parameter. */
    public static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", message, param, null);
    }

    public static ApiError invalid(String param, String message, String code) {
        return new ApiError(400, "invalid_request_error", message, param, code);
    }

    public int status() {
        return status;
    }

    public Integer retryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** The error object. */
    public Map<String, Object> body() {
        return body(getMessage(), type, param, code);
    }

    public static Map<String, Object> body(String message, String type, String param, String code) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("message", message);
        e.put("type", type);
        e.put("param", param);
        e.put("code", code);
        return Map.of("error", e);
    }
}
