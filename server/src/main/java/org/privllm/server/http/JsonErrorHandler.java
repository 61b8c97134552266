package org.privllm.server.http;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's own errors (unparseable requests, headers too large, bad URIs — anything refused before a route runs)
 * as OpenAI error objects instead of HTML pages. The message is the status's reason, never request content.
 */
final class JsonErrorHandler extends ErrorHandler {
    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                    Callback callback) {
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap(body(code)), callback);
    }

    private static byte[] body(int code) {
        String reason = org.eclipse.jetty.http.HttpStatus.getMessage(code);
        String type = code >= 500 ? "server_error" : "invalid_request_error";
        return ("{\"error\":{\"message\":\"" + reason.replace("\"", "'") + "\",\"type\":\"" + type
                + "\",\"param\":null,\"code\":null}}").getBytes(StandardCharsets.UTF_8);
    }
}
