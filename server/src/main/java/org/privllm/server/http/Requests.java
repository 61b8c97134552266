package org.privllm.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.privllm.model.generate.Sampling;
import org.privllm.server.chat.ChatTemplate;
import org.privllm.model.tokenizer.Tokenizer;

/**
 * Reads {@code /v1/completions} and {@code /v1/chat/completions} bodies as OpenAI defines them, strictly: every
 * field's type is checked, unsupported options with a non-default value are refused (a silently ignored
 * {@code n}, penalty or {@code logprobs} would change what the client gets), and every refusal is an
 * {@link ApiError} naming the parameter. Nothing here quotes the prompt.
 */
final class Requests {
    private Requests() {}

    static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom SEEDS = new SecureRandom();
    private static final int MAX_STOP = 16;

    /** What a request asks for, ready for the scheduler. */
    record Job(boolean chat, int[] prompt, Sampling sampling, int maxTokens, List<String> stop, boolean stream,
               boolean includeUsage, boolean returnTokenIds) {}

    /** What the parser needs to know about the model. */
    record ModelView(String id, int vocab, int positions, Tokenizer tokenizer, ChatTemplate template) {}

    static Job completion(JsonNode body, ModelView m) {
        object(body);
        model(body, m);
        JsonNode p = body.get("prompt");
        if (p == null || p.isNull()) {
            throw ApiError.invalid("prompt", "prompt is required");
        }
        int[] prompt;
        if (p.isArray() && p.size() == 1 && (p.get(0).isTextual() || p.get(0).isArray())) {
            p = p.get(0); // one prompt given as a list of one
        }
        if (p.isTextual()) {
            prompt = encode(p.asText(), m, "prompt", true); // as privllm generate --prompt: the model's own BOS/EOS rules
        } else if (p.isArray() && p.size() > 0 && p.get(0).isArray() || p.isArray() && p.size() > 1 && p.get(0).isTextual()) {
            throw ApiError.invalid("prompt", "one prompt per request is supported (batching happens in the server)");
        } else if (p.isArray()) {
            prompt = new int[p.size()];
            for (int i = 0; i < p.size(); i++) {
                JsonNode t = p.get(i);
                if (!t.isIntegralNumber() || !t.canConvertToInt()) {
                    throw ApiError.invalid("prompt", "prompt must be a string, or an array of token ids (integers)");
                }
                prompt[i] = t.asInt();
                if (prompt[i] < 0 || prompt[i] >= m.vocab()) {
                    throw ApiError.invalid("prompt", "token id " + prompt[i] + " is out of range [0, " + m.vocab() + ")");
                }
            }
        } else {
            throw ApiError.invalid("prompt", "prompt must be a string, an array of strings or an array of token ids");
        }
        if (prompt.length == 0) {
            throw ApiError.invalid("prompt", "prompt is empty");
        }
        refuse(body, "echo", false);
        refuse(body, "best_of", 1);
        refuse(body, "suffix", null);
        refuseLogprobs(body, "logprobs");
        return common(body, m, prompt, false, 16);
    }

    static Job chat(JsonNode body, ModelView m) {
        object(body);
        model(body, m);
        JsonNode msgs = body.get("messages");
        if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
            throw ApiError.invalid("messages", "messages must be a non-empty array of {role, content} objects");
        }
        if (m.template() == null) {
            throw ApiError.invalid("messages", "this model has no chat template (tokenizer_config.json has no chat_template): "
                    + "use /v1/completions", "chat_template_missing");
        }
        List<Object> messages = new ArrayList<>();
        for (int i = 0; i < msgs.size(); i++) {
            messages.add(message(msgs.get(i), "messages[" + i + "]"));
        }
        for (String unsupported : List.of("tools", "functions", "tool_choice", "function_call")) {
            JsonNode t = body.get(unsupported);
            if (t != null && !t.isNull() && !(t.isArray() && t.isEmpty()) && !(t.isTextual() && t.asText().equals("none"))) {
                throw ApiError.invalid(unsupported, unsupported + " is not supported by this server");
            }
        }
        JsonNode rf = body.get("response_format");
        if (rf != null && !rf.isNull() && !(rf.isObject() && "text".equals(rf.path("type").asText()))) {
            throw ApiError.invalid("response_format", "only response_format {\"type\": \"text\"} is supported");
        }
        refuseLogprobs(body, "logprobs");
        refuse(body, "top_logprobs", 0);
        Map<String, Object> extra = new LinkedHashMap<>();
        JsonNode kw = body.get("chat_template_kwargs");
        if (kw != null && !kw.isNull()) {
            if (!kw.isObject()) {
                throw ApiError.invalid("chat_template_kwargs", "chat_template_kwargs must be an object");
            }
            for (Map.Entry<String, JsonNode> e : kw.properties()) {
                if (e.getKey().equals("messages") || e.getKey().equals("add_generation_prompt")) {
                    throw ApiError.invalid("chat_template_kwargs", "chat_template_kwargs may not set " + e.getKey());
                }
                extra.put(e.getKey(), JSON.convertValue(e.getValue(), Object.class));
            }
        }
        Boolean generationPrompt = bool(body, "add_generation_prompt"); // vLLM's extension; default true
        String text;
        try {
            text = m.template().render(messages, generationPrompt == null || generationPrompt, extra);
        } catch (ChatTemplate.TemplateException e) {
            throw ApiError.invalid("messages", e.getMessage(), "chat_template_error");
        }
        int[] prompt = encode(text, m, "messages", false); // the template wrote its special tokens already
        int maxDefault = m.positions() - prompt.length;
        return common(body, m, prompt, true, maxDefault);
    }

    /** One chat message as plain JSON values; text parts joined into one string. */
    private static Map<String, Object> message(JsonNode n, String param) {
        if (!n.isObject()) {
            throw ApiError.invalid(param, param + " must be an object with role and content");
        }
        JsonNode role = n.get("role");
        if (role == null || !role.isTextual() || role.asText().isEmpty()) {
            throw ApiError.invalid(param + ".role", param + ".role must be a non-empty string");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> out = JSON.convertValue(n, LinkedHashMap.class);
        JsonNode c = n.get("content");
        if (c == null || c.isNull()) {
            if (!role.asText().equals("assistant")) {
                throw ApiError.invalid(param + ".content", param + ".content is required");
            }
            out.put("content", "");
        } else if (c.isTextual()) {
            out.put("content", c.asText());
        } else if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiError.invalid(param + ".content", "only text content parts ({\"type\": \"text\", \"text\": …}) are supported");
                }
                sb.append(sb.isEmpty() ? "" : "\n").append(part.get("text").asText());
            }
            out.put("content", sb.toString());
        } else {
            throw ApiError.invalid(param + ".content", param + ".content must be a string or an array of text parts");
        }
        return out;
    }

    private static Job common(JsonNode body, ModelView m, int[] prompt, boolean chat, int defaultMax) {
        if (prompt.length >= m.positions()) {
            throw new ApiError(400, "invalid_request_error", "this model's maximum context length is " + m.positions()
                    + " tokens; the prompt has " + prompt.length, chat ? "messages" : "prompt", "context_length_exceeded");
        }
        refuse(body, "n", 1);
        refuse(body, "presence_penalty", 0);
        refuse(body, "frequency_penalty", 0);
        JsonNode lb = body.get("logit_bias");
        if (lb != null && !lb.isNull() && !(lb.isObject() && lb.isEmpty())) {
            throw ApiError.invalid("logit_bias", "logit_bias is not supported by this server");
        }
        string(body, "user");
        Integer maxTokens = integer(body, "max_completion_tokens");
        String maxParam = "max_completion_tokens";
        if (maxTokens == null) {
            maxTokens = integer(body, "max_tokens");
            maxParam = "max_tokens";
        }
        if (maxTokens != null && maxTokens < 1) {
            throw ApiError.invalid(maxParam, maxParam + " must be at least 1, got " + maxTokens);
        }
        int max = maxTokens != null ? maxTokens : Math.min(defaultMax, m.positions() - prompt.length);
        if ((long) prompt.length + max > m.positions()) {
            throw new ApiError(400, "invalid_request_error", "this model's maximum context length is " + m.positions()
                    + " tokens; the prompt has " + prompt.length + " and " + maxParam + " asks for " + max, maxParam,
                    "context_length_exceeded");
        }
        Double temperature = number(body, "temperature");
        if (temperature != null && !(temperature >= 0 && temperature <= 2)) {
            throw ApiError.invalid("temperature", "temperature must be between 0 and 2");
        }
        Double topP = number(body, "top_p");
        if (topP != null && !(topP > 0 && topP <= 1)) {
            throw ApiError.invalid("top_p", "top_p must be in (0, 1]");
        }
        Integer topK = integer(body, "top_k");
        if (topK != null && topK < -1) {
            throw ApiError.invalid("top_k", "top_k must be -1 (off), 0 (off) or positive");
        }
        Long seed = longValue(body, "seed");
        Sampling sampling;
        if (temperature != null && temperature == 0) {
            sampling = Sampling.GREEDY;
        } else {
            sampling = Sampling.sample(temperature == null ? 1f : temperature.floatValue(),
                    topK == null || topK < 0 ? 0 : topK, topP == null ? 1f : topP.floatValue(),
                    seed != null ? seed : SEEDS.nextLong());
        }
        List<String> stop = new ArrayList<>();
        JsonNode s = body.get("stop");
        if (s != null && !s.isNull()) {
            if (s.isTextual()) {
                stop.add(s.asText());
            } else if (s.isArray()) {
                for (JsonNode x : s) {
                    if (!x.isTextual()) {
                        throw ApiError.invalid("stop", "stop must be a string or an array of strings");
                    }
                    stop.add(x.asText());
                }
            } else {
                throw ApiError.invalid("stop", "stop must be a string or an array of strings");
            }
            if (stop.size() > MAX_STOP) {
                throw ApiError.invalid("stop", "at most " + MAX_STOP + " stop sequences");
            }
            if (stop.stream().anyMatch(String::isEmpty)) {
                throw ApiError.invalid("stop", "stop sequences must not be empty");
            }
        }
        Boolean stream = bool(body, "stream");
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!Boolean.TRUE.equals(stream)) {
                throw ApiError.invalid("stream_options", "stream_options is only allowed when stream is true");
            }
            if (!so.isObject()) {
                throw ApiError.invalid("stream_options", "stream_options must be an object");
            }
            Boolean iu = bool(so, "include_usage");
            includeUsage = Boolean.TRUE.equals(iu);
        }
        // vLLM's extension: the answer's token ids next to its text (the client's own output; never logged)
        boolean returnTokenIds = Boolean.TRUE.equals(bool(body, "return_token_ids"));
        return new Job(chat, prompt, sampling, max, List.copyOf(stop), Boolean.TRUE.equals(stream), includeUsage,
                returnTokenIds);
    }

    /** Ids of {@code text}; with {@code addSpecialTokens} the tokenizer's own BOS/EOS rules apply. */
    private static int[] encode(String text, ModelView m, String param, boolean addSpecialTokens) {
        if (text.isEmpty()) {
            throw ApiError.invalid(param, param + " is empty");
        }
        if (m.tokenizer() == null) {
            throw ApiError.invalid(param, "this model directory has no tokenizer: give the prompt as token ids", "no_tokenizer");
        }
        if (text.length() > 64L * m.positions()) { // no tokenizer packs more than 64 characters per token: too long for sure
            throw new ApiError(400, "invalid_request_error", "this model's maximum context length is " + m.positions()
                    + " tokens; the " + param + " is far longer", param, "context_length_exceeded");
        }
        int[] ids = m.tokenizer().encode(text, addSpecialTokens);
        for (int id : ids) {
            if (id >= m.vocab()) {
                throw ApiError.invalid(param, "the tokenizer gives token id " + id + ", beyond this model's vocabulary of "
                        + m.vocab());
            }
        }
        return ids;
    }

    private static void object(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw ApiError.invalid(null, "the request body must be a JSON object");
        }
    }

    private static void model(JsonNode body, ModelView m) {
        JsonNode model = body.get("model");
        if (model == null || model.isNull()) {
            throw ApiError.invalid("model", "model is required");
        }
        if (!model.isTextual()) {
            throw ApiError.invalid("model", "model must be a string");
        }
        if (!model.asText().equals(m.id())) {
            throw new ApiError(404, "invalid_request_error", "the model does not exist (this server serves '" + m.id() + "')",
                    "model", "model_not_found");
        }
    }

    private static void refuse(JsonNode body, String field, Object allowed) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return;
        }
        boolean ok = allowed == null ? false
                : allowed instanceof Boolean b ? v.isBoolean() && v.asBoolean() == b
                : v.isNumber() && v.asDouble() == ((Number) allowed).doubleValue();
        if (!ok) {
            throw ApiError.invalid(field, field + (allowed == null ? " is not supported by this server"
                    : " must be " + allowed + " (other values are not supported by this server)"));
        }
    }

    private static void refuseLogprobs(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v != null && !v.isNull() && !(v.isBoolean() && !v.asBoolean()) && !(v.isIntegralNumber() && v.asInt() == 0)) {
            throw ApiError.invalid(field, field + " is not supported by this server");
        }
    }

    private static Integer integer(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw ApiError.invalid(field, field + " must be an integer");
        }
        return v.asInt();
    }

    private static Long longValue(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw ApiError.invalid(field, field + " must be an integer (64-bit)");
        }
        return v.asLong();
    }

    private static Double number(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber() || !Double.isFinite(v.asDouble())) {
            throw ApiError.invalid(field, field + " must be a number");
        }
        return v.asDouble();
    }

    private static Boolean bool(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isBoolean()) {
            throw ApiError.invalid(field, field + " must be a boolean");
        }
        return v.asBoolean();
    }

    private static void string(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v != null && !v.isNull() && !v.isTextual()) {
            throw ApiError.invalid(field, field + " must be a string");
        }
    }
}
