package org.privllm.server.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ChatTemplateTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static Path qwen3() {
        String shared = System.getProperty("privllm.shared");
        Path p = shared != null ? Path.of(shared, "fixtures/tokenizers/qwen3") : Path.of("../../shared/fixtures/tokenizers/qwen3");
        return Files.isDirectory(p) ? p : Path.of("/work/shared/fixtures/tokenizers/qwen3");
    }

    static Stream<Arguments> qwen3Cases() throws Exception {
        Path cases = qwen3().resolve("chat_cases.json");
        if (!Files.isRegularFile(cases)) {
            return Stream.of(Arguments.of(-1, null));
        }
        JsonNode all = JSON.readTree(cases.toFile()).get("cases");
        return java.util.stream.IntStream.range(0, all.size()).mapToObj(i -> Arguments.of(i, all.get(i)));
    }

    /** The 20 conversations of chat_cases.json, rendered exactly as transformers renders them. */
    @ParameterizedTest(name = "qwen3 case {0}")
    @MethodSource("qwen3Cases")
    void rendersQwen3CasesExactly(int index, JsonNode c) {
        assumeTrue(c != null, "shared/fixtures/tokenizers/qwen3 is absent");
        ChatTemplate t = ChatTemplate.load(qwen3());
        assertThat(t).isNotNull();
        @SuppressWarnings("unchecked")
        Map<String, Object> vars = JSON.convertValue(c, Map.class);
        String expected = (String) vars.remove("rendered");
        List<?> messages = (List<?>) vars.remove("messages");
        boolean agp = (Boolean) vars.remove("add_generation_prompt");
        assertThat(t.render(messages, agp, vars)).isEqualTo(expected);
    }

    @Test
    void qwen3ToolCallsAndToolResponses() {
        assumeTrue(Files.isRegularFile(qwen3().resolve("tokenizer_config.json")));
        ChatTemplate t = ChatTemplate.load(qwen3());
        List<Map<String, Object>> messages = List.of(
                Map.of("role", "user", "content", "Weather in Paris?"),
                Map.of("role", "assistant", "content", "", "tool_calls",
                        List.of(Map.of("function", Map.of("name", "get_weather", "arguments", Map.of("city", "Paris"))))),
                Map.of("role", "tool", "content", "18°C"));
        Map<String, Object> tool = new java.util.LinkedHashMap<>();
        tool.put("name", "get_weather");
        tool.put("description", "é");
        String out = t.render(messages, true, Map.of("tools", List.of(tool)));
        assertThat(out).contains("{\"name\": \"get_weather\", \"description\": \"é\"}")
                .contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>")
                .contains("<|im_start|>user\n<tool_response>\n18°C\n</tool_response><|im_end|>\n")
                .endsWith("<|im_start|>assistant\n");
    }

    @Test
    void hfConventions() {
        Map<String, Object> special = Map.of("bos_token", "<s>", "eos_token", "</s>");
        ChatTemplate t = new ChatTemplate("""
                {{ bos_token }}
                {%- for m in messages %}
                    {%- if m.role not in ['user', 'assistant'] %}{{ raise_exception('bad role ' + m.role) }}{% endif %}
                    {%- if loop.index0 > 1 %}{% break %}{% endif %}
                    [{{ m.role | upper }}] {{ m.content.strip() }}{{ eos_token }}
                {% endfor %}
                {%- set ns = namespace(n=messages|length - 1) %}{{ ns.n }}|{{ messages[::-1][0].content }}|{{ {'a': [1, 'x']} | tojson }}
                {%- if add_generation_prompt %}<A>{% endif %}{% if flag is defined %}{{ flag }}{% endif %}""", special);
        List<Map<String, Object>> msgs = List.of(Map.of("role", "user", "content", " hi "),
                Map.of("role", "assistant", "content", "yo"), Map.of("role", "user", "content", "last"));
        assertThat(t.render(msgs, true, Map.of("flag", "F")))
                .isEqualTo("<s>    [USER] hi</s>\n    [ASSISTANT] yo</s>\n2|last|{\"a\": [1, \"x\"]}<A>F");
        Map<String, Object> extra = new HashMap<>();
        assertThatThrownBy(() -> t.render(List.of(Map.of("role", "tool", "content", "x")), false, extra))
                .isInstanceOf(ChatTemplate.TemplateException.class).hasMessageContaining("bad role tool");
    }

    @Test
    void adaptsOnlyInsideTags() {
        assertThat(ChatTemplate.adapt("a[::-1] {{ x[::-1] }} {% set n = namespace(a=b|length - 1, c='=(') %}"))
                .isEqualTo("a[::-1] {{ (x|reverse) }} {% set n = namespace(a=(b|length - 1), c=('=(')) %}");
        assertThat(ChatTemplate.adaptExpression(" f(a == b, c) ")).isEqualTo(" f(a == b, c) ");
        assertThat(ChatTemplate.adaptExpression(" m.x[1](2)[::-1][0] ")).isEqualTo(" (m.x[1](2)|reverse)[0] ");
    }

    @Test
    void noTemplateMeansNull(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        assertThat(ChatTemplate.load(dir)).isNull();
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": {\"content\": \"</s>\"}}");
        assertThat(ChatTemplate.load(dir)).isNull();
    }
}
