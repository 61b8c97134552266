package org.privllm.server.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.TextStyle;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;

/**
 * A model's chat template ({@code chat_template} of {@code tokenizer_config.json}) rendered the way HuggingFace
 * transformers' {@code apply_chat_template(tokenize=False)} renders it, on Jinjava (HubSpot's Jinja engine):
 * {@code trim_blocks} and {@code lstrip_blocks}, Jinja2's whitespace control and operator precedence, loop
 * controls ({@code break}/{@code continue}), {@code raise_exception(msg)}, {@code strftime_now(fmt)}, a
 * {@code tojson} that writes what Python's {@code json.dumps} writes (HF's override: non-ASCII kept,
 * {@code ", "}/{@code ": "} separators, {@code indent}), the {@code {% generation %}} block, and the
 * variables HF passes: {@code messages}, {@code add_generation_prompt}, the special tokens ({@code bos_token},
 * {@code eos_token}, …) and any extra ones ({@code enable_thinking}, {@code tools}, …).
 *
 * <p>Where Jinjava is not Jinja2 the template or the engine is adapted, not re-implemented: Python's {@code str}
 * and {@code dict} methods templates call ({@code strip(chars)}, {@code startswith}, {@code split},
 * {@code items()}, …) come from {@link PythonMethods}; two constructs Jinjava's parser does not read are
 * rewritten before parsing ({@link #adapt}): the reversing slice {@code x[::-1]} becomes {@code (x|reverse)},
 * and keyword arguments get parentheses ({@code namespace(i=messages|length - 1)} — Jinjava binds the
 * {@code =} tighter than the {@code -}).
 */
public final class ChatTemplate {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_OUTPUT_CHARS = 16L << 20;

    private final String source;
    private final String adapted;
    private final Map<String, Object> specialTokens;
    private final Jinjava jinjava;

    /** A chat template refused or failed to render (the server's 400). */
    public static final class TemplateException extends RuntimeException {
        public TemplateException(String message) {
            super(message);
        }
    }

    public ChatTemplate(String source, Map<String, Object> specialTokens) {
        this.source = source;
        this.adapted = adapt(source);
        this.specialTokens = Map.copyOf(specialTokens);
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withElResolver(resolver)
                .withMaxOutputSize(MAX_OUTPUT_CHARS)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withParseWhitespaceControlStrictly(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withUseNaturalOperatorPrecedence(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build());
        var ctx = jinjava.getGlobalContext();
        ctx.registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", String.class));
        ctx.registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
        ctx.registerFilter(new ToJson());
        ctx.registerTag(new GenerationTag());
    }

    /**
     * The template of a model directory's {@code tokenizer_config.json}, or null when it has none (no file, or
     * no {@code chat_template}); a {@code chat_template.jinja} file beside it wins, as in transformers.
     */
    public static ChatTemplate load(Path dir) {
        try {
            Path cfgFile = dir.resolve("tokenizer_config.json");
            JsonNode cfg = Files.isRegularFile(cfgFile) ? JSON.readTree(cfgFile.toFile()) : JSON.createObjectNode();
            String source = null;
            Path jinja = dir.resolve("chat_template.jinja");
            if (Files.isRegularFile(jinja)) {
                source = Files.readString(jinja);
            } else {
                JsonNode t = cfg.get("chat_template");
                if (t != null && t.isTextual()) {
                    source = t.asText();
                } else if (t != null && t.isArray()) { // named templates: [{"name": "default", "template": "…"}, …]
                    for (JsonNode named : t) {
                        if ("default".equals(named.path("name").asText())) {
                            source = named.path("template").asText(null);
                        }
                    }
                }
            }
            if (source == null) {
                return null;
            }
            Map<String, Object> special = new LinkedHashMap<>();
            for (String k : List.of("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token")) {
                String v = tokenText(cfg.get(k));
                if (v != null) {
                    special.put(k, v);
                }
            }
            return new ChatTemplate(source, special);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot read the chat template (" + e.getMessage() + ")", e);
        }
    }

    /** A special token's text: a string, or an AddedToken object's {@code content}. */
    private static String tokenText(JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        if (n.isTextual()) {
            return n.asText();
        }
        return n.has("content") && n.get("content").isTextual() ? n.get("content").asText() : null;
    }

    public String source() {
        return source;
    }

    /** The special tokens the template sees ({@code bos_token}, {@code eos_token}, …). */
    public Map<String, Object> specialTokens() {
        return specialTokens;
    }

    /**
     * Renders {@code messages} (plain JSON values: maps, lists, strings, numbers, booleans, null). {@code extra}
     * holds further variables ({@code enable_thinking}, {@code tools}, …), passed through as given; they may
     * not override {@code messages} or {@code add_generation_prompt}.
     */
    public String render(List<?> messages, boolean addGenerationPrompt, Map<String, ?> extra) {
        Map<String, Object> vars = new HashMap<>(specialTokens);
        if (extra != null) {
            vars.putAll(extra);
        }
        vars.put("messages", messages);
        vars.put("add_generation_prompt", addGenerationPrompt);
        RenderResult r;
        RAISED_MESSAGE.remove();
        try {
            r = jinjava.renderForResult(adapted, vars);
        } catch (RuntimeException e) {
            throw new TemplateException("the chat template failed: " + oneLine(e.getMessage()));
        }
        String raised = RAISED_MESSAGE.get();
        RAISED_MESSAGE.remove();
        if (raised != null) {
            throw new TemplateException("the chat template refused the conversation: " + oneLine(raised));
        }
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new TemplateException(describe(e));
            }
        }
        return r.getOutput();
    }

    private static String describe(TemplateError e) {
        String m = oneLine(e.getMessage());
        int at = m.indexOf(RAISED);
        if (at >= 0) {
            return "the chat template refused the conversation: " + m.substring(at + RAISED.length());
        }
        return "the chat template failed at line " + e.getLineno() + ": " + m;
    }

    private static String oneLine(String s) {
        if (s == null) {
            return "error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static final String RAISED = "raise_exception: ";

    /** {@code raise_exception(msg)}: the template refuses the conversation. */
    public static String raiseException(String message) {
        RAISED_MESSAGE.set(message);
        throw new TemplateException(RAISED + message);
    }

    /** The message of the last raise_exception on this thread (Jinjava reports only that the function failed). */
    private static final ThreadLocal<String> RAISED_MESSAGE = new ThreadLocal<>();

    /** {@code strftime_now(fmt)}: the current local time in Python's strftime format. */
    public static String strftimeNow(String format) {
        return strftime(ZonedDateTime.now(), format);
    }

    static String strftime(ZonedDateTime t, String format) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                sb.append(c);
                continue;
            }
            char f = format.charAt(++i);
            switch (f) {
                case 'Y' -> sb.append(t.getYear());
                case 'y' -> sb.append(String.format("%02d", t.getYear() % 100));
                case 'm' -> sb.append(String.format("%02d", t.getMonthValue()));
                case 'd' -> sb.append(String.format("%02d", t.getDayOfMonth()));
                case 'H' -> sb.append(String.format("%02d", t.getHour()));
                case 'I' -> sb.append(String.format("%02d", (t.getHour() + 11) % 12 + 1));
                case 'M' -> sb.append(String.format("%02d", t.getMinute()));
                case 'S' -> sb.append(String.format("%02d", t.getSecond()));
                case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'b' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'j' -> sb.append(String.format("%03d", t.getDayOfYear()));
                case 'Z' -> sb.append(t.format(DateTimeFormatter.ofPattern("zzz", Locale.ENGLISH)));
                case '%' -> sb.append('%');
                default -> sb.append('%').append(f);
            }
        }
        return sb.toString();
    }

    /**
     * Rewrites the two Jinja2 constructs Jinjava's expression parser reads differently, inside tags only (text
     * and string literals are left alone): {@code x[::-1]} → {@code (x|reverse)}, and each keyword argument's value
     * wrapped in parentheses ({@code f(a=b|length - 1)} → {@code f(a=(b|length - 1))}).
     */
    static String adapt(String template) {
        StringBuilder out = new StringBuilder(template.length() + 32);
        int i = 0;
        while (i < template.length()) {
            int open = nextTagOpen(template, i);
            if (open < 0) {
                out.append(template, i, template.length());
                break;
            }
            out.append(template, i, open + 2);
            String close = template.charAt(open + 1) == '{' ? "}}" : "%}";
            int end = findClose(template, open + 2, close);
            if (end < 0) {
                out.append(template, open + 2, template.length());
                break;
            }
            out.append(adaptExpression(template.substring(open + 2, end)));
            out.append(close);
            i = end + 2;
        }
        return out.toString();
    }

    private static int nextTagOpen(String s, int from) {
        for (int i = from; i + 1 < s.length(); i++) {
            if (s.charAt(i) == '{' && (s.charAt(i + 1) == '{' || s.charAt(i + 1) == '%')) {
                return i;
            }
            if (s.charAt(i) == '{' && s.charAt(i + 1) == '#') { // a comment: skip it whole
                int e = s.indexOf("#}", i + 2);
                if (e < 0) {
                    return -1;
                }
                i = e + 1;
            }
        }
        return -1;
    }

    /** The index of {@code close} after {@code from}, skipping string literals. */
    private static int findClose(String s, int from, String close) {
        char quote = 0;
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (s.startsWith(close, i)) {
                return i;
            }
        }
        return -1;
    }

    static String adaptExpression(String e) {
        StringBuilder out = new StringBuilder(e.length() + 8);
        // per open bracket: whether it is a call's '(' and whether a keyword value is open in it
        java.util.ArrayDeque<int[]> stack = new java.util.ArrayDeque<>();
        char quote = 0;
        for (int i = 0; i < e.length(); i++) {
            char c = e.charAt(i);
            if (quote != 0) {
                out.append(c);
                if (c == '\\' && i + 1 < e.length()) {
                    out.append(e.charAt(++i));
                } else if (c == quote) {
                    quote = 0;
                }
                continue;
            }
            if (c == '\'' || c == '"') {
                quote = c;
                out.append(c);
                continue;
            }
            if (e.startsWith("[::-1]", i)) {
                out.insert(primaryStart(out), "(").append("|reverse)");
                i += 5;
                continue;
            }
            if (c == '(' || c == '[' || c == '{') {
                boolean call = c == '(' && lastNonSpace(out) >= 0 && isCallee(out.charAt(lastNonSpace(out)));
                stack.push(new int[] {call ? 1 : 0, 0});
                out.append(c);
                continue;
            }
            if (c == ')' || c == ']' || c == '}') {
                int[] top = stack.isEmpty() ? null : stack.pop();
                if (top != null && top[1] == 1) {
                    out.append(')');
                }
                out.append(c);
                continue;
            }
            int[] top = stack.peek();
            if (top != null && top[0] == 1 && c == ',' && top[1] == 1) {
                out.append(')');
                top[1] = 0;
                out.append(c);
                continue;
            }
            if (top != null && top[0] == 1 && c == '=' && top[1] == 0 && isKeywordEquals(e, i)) {
                out.append("=(");
                top[1] = 1;
                continue;
            }
            out.append(c);
        }
        return out.toString();
    }

    /** Where the primary expression that ends {@code out} starts: names, dots, calls and subscripts. */
    private static int primaryStart(StringBuilder out) {
        int j = out.length() - 1;
        while (j >= 0) {
            char c = out.charAt(j);
            if (c == ')' || c == ']') {
                int depth = 0;
                for (; j >= 0; j--) {
                    char d = out.charAt(j);
                    if (d == ')' || d == ']') {
                        depth++;
                    } else if ((d == '(' || d == '[') && --depth == 0) {
                        break;
                    }
                }
                j--;
            } else if (Character.isLetterOrDigit(c) || c == '_' || c == '.') {
                j--;
            } else {
                break;
            }
        }
        return j + 1;
    }

    private static int lastNonSpace(CharSequence s) {
        for (int i = s.length() - 1; i >= 0; i--) {
            if (!Character.isWhitespace(s.charAt(i))) {
                return i;
            }
        }
        return -1;
    }

    private static boolean isCallee(char c) {
        return Character.isLetterOrDigit(c) || c == '_' || c == ')' || c == ']';
    }

    /** A lone '=' after an identifier that directly follows '(' or ',' (a keyword argument, not a comparison). */
    private static boolean isKeywordEquals(String e, int i) {
        if (i + 1 < e.length() && e.charAt(i + 1) == '=') {
            return false;
        }
        char prev = i > 0 ? e.charAt(i - 1) : ' ';
        if (prev == '=' || prev == '!' || prev == '<' || prev == '>') {
            return false;
        }
        int j = i - 1;
        while (j >= 0 && Character.isWhitespace(e.charAt(j))) {
            j--;
        }
        int idEnd = j;
        while (j >= 0 && (Character.isLetterOrDigit(e.charAt(j)) || e.charAt(j) == '_')) {
            j--;
        }
        if (j == idEnd) {
            return false;
        }
        while (j >= 0 && Character.isWhitespace(e.charAt(j))) {
            j--;
        }
        return j >= 0 && (e.charAt(j) == '(' || e.charAt(j) == ',');
    }

    /** HF's {@code tojson}: Python's {@code json.dumps(x, ensure_ascii=False, indent=indent)}. */
    private static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return PythonJson.dumps(var, args.length > 0 && args[0] != null ? Integer.valueOf(args[0].strip()) : null);
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
            return PythonJson.dumps(var, indent == null ? null : Integer.valueOf(String.valueOf(indent).strip()));
        }
    }

    /** {@code {% generation %}…{% endgeneration %}} (HF's assistant-mask marker): renders its body. */
    private static final class GenerationTag implements Tag {
        @Override
        public String getName() {
            return "generation";
        }

        @Override
        public String getEndTagName() {
            return "endgeneration";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder sb = new StringBuilder();
            for (Node child : tagNode.getChildren()) {
                sb.append(child.render(interpreter).getValue());
            }
            return sb.toString();
        }
    }
}
