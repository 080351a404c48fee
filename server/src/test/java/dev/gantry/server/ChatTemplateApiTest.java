package dev.gantry.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.runtime.testing.TestModels;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Chat templates, tools, tool results and thinking through the real server. The tiny model writes random
 * stories, so these tests assert the wiring (what reaches the prompt, what is accepted or refused), not what the
 * model says; the parsing of tool calls and reasoning is tested on recorded outputs in the models module.
 */
class ChatTemplateApiTest {
    /** A Qwen3-style template (tools in the system turn, tool calls as tags, thinking), small enough to read. */
    static final String TEMPLATE = """
            {%- if tools %}<|im_start|>system
            {% if messages[0].role == 'system' %}{{ messages[0].content }}

            {% endif %}# Tools
            <tools>
            {% for tool in tools %}{{ tool | tojson }}
            {% endfor %}</tools><|im_end|>
            {% elif messages[0].role == 'system' %}<|im_start|>system
            {{ messages[0].content }}<|im_end|>
            {% endif %}
            {%- for m in messages %}{% if m.role != 'system' %}
            {%- if m.role == 'tool' %}<|im_start|>user
            <tool_response>
            {{ m.content }}
            </tool_response><|im_end|>
            {% else %}<|im_start|>{{ m.role }}
            {{ m.content }}{% for c in m.tool_calls | default([]) %}<tool_call>
            {"name": "{{ c.function.name }}", "arguments": {{ c.function.arguments | tojson }}}
            </tool_call>{% endfor %}<|im_end|>
            {% endif %}{% endif %}{% endfor %}
            {%- if add_generation_prompt %}<|im_start|>assistant
            {% if enable_thinking is defined and not enable_thinking %}<think>

            </think>

            {% endif %}{% endif %}""";
    static final String MODEL = "tiny-chat";
    private static final String ALL_CONTENT = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}";
    /**
     * A Go template that can reason as Ollama judges it (it writes a message's .Thinking) and opens the reasoning
     * block itself when think is on: all the tiny model writes then is reasoning.
     */
    static final String THINKING_GO = "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}"
            + "{{ .Content }}{{ end }}{{ if .Think }}<think>{{ end }}";
    private static final String TOOLS = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
            + "\"description\":\"Get the weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":"
            + "{\"type\":\"string\"}},\"required\":[\"city\"]}}}]";

    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        Path models = Files.createTempDirectory("gantry-chat-models");
        withTemplate(TestModels.tinyModel(), models.resolve(MODEL + ".gguf"), TEMPLATE);
        // named as Ollama's DeepSeek-R1, whose earlier answers lose their reasoning; a template that writes them all
        withTemplate(TestModels.tinyModel(), models.resolve("deepseek-r1.gguf"), ALL_CONTENT);
        withTemplate(TestModels.tinyModel(), models.resolve("plain-r1.gguf"), ALL_CONTENT);
        Path gptOss = TestModels.sharedDir().resolve("llama-data/chat-templates/openai-gpt-oss-120b.jinja");
        if (Files.isRegularFile(gptOss)) {
            withTemplate(TestModels.tinyModel(), models.resolve("harmony.gguf"), Files.readString(gptOss));
        }
        server = TestServer.start(TestServer.defaults(), models);
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    /** Copies a GGUF with {@code tokenizer.chat_template} set to {@code template}. */
    static void withTemplate(Path source, Path target, String template) throws IOException {
        dev.gantry.runtime.testing.GgufCopy.copy(source, target,
                (meta, w) -> w.putString("tokenizer.chat_template", template));
    }

    /**
     * A model with gpt-oss's template (harmony): it reasons, a think level becomes the template's reasoning effort
     * (read back from generate's context), and an answer without harmony's channels is all content.
     */
    @Test
    void aHarmonyTemplateTakesTheThinkLevelAsItsReasoningEffort() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(server.gantry.models().registry().resolve("harmony").isPresent());
        JsonNode show = TestServer.json(server.post("/api/show", "{\"model\":\"harmony\"}").body());
        assertTrue(show.get("capabilities").toString().contains("\"thinking\""), show.get("capabilities").toString());
        for (String level : new String[] {"high", "low"}) {
            HttpResponse<String> r = server.post("/api/generate", "{\"model\":\"harmony\",\"prompt\":\"Hi\","
                    + "\"think\":\"" + level + "\",\"stream\":false,\"options\":{\"num_predict\":4,\"seed\":1}}");
            assertEquals(200, r.statusCode(), r.body());
            JsonNode g = TestServer.json(r.body());
            int[] context = new int[g.get("context").size()];
            for (int i = 0; i < context.length; i++) {
                context[i] = g.get("context").get(i).intValue();
            }
            String prompt = server.gantry.models().loadedModel("harmony:latest").orElseThrow().detokenize(context);
            assertTrue(prompt.contains("Reasoning: " + level), prompt);
            assertTrue(!g.has("thinking") || g.get("thinking").textValue().isEmpty(), "no analysis channel came");
        }
        HttpResponse<String> c = server.post("/v1/chat/completions", "{\"model\":\"harmony\",\"max_tokens\":4,"
                + "\"reasoning_effort\":\"low\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
        assertEquals(200, c.statusCode(), c.body());
    }

    private static JsonNode chat(String extra) throws Exception {
        HttpResponse<String> r = server.post("/api/chat", "{\"model\":\"" + MODEL + "\",\"stream\":false,"
                + "\"options\":{\"num_predict\":4,\"seed\":1}," + extra + "}");
        assertEquals(200, r.statusCode(), r.body());
        return TestServer.json(r.body());
    }

    @Test
    void toolsReachThePrompt() throws Exception {
        String user = "\"messages\":[{\"role\":\"user\",\"content\":\"What is the weather in Paris?\"}]";
        JsonNode without = chat(user);
        JsonNode with = chat(user + ",\"tools\":" + TOOLS);
        assertEquals("assistant", with.at("/message/role").asText());
        assertTrue(with.get("done").asBoolean());
        assertTrue(with.get("prompt_eval_count").asInt() > without.get("prompt_eval_count").asInt() + 20,
                "the tools' JSON is in the prompt: " + with + " vs " + without);
    }

    @Test
    void generateWithThinkPutsTheReasoningInItsOwnField() throws Exception {
        // a template that opens the reasoning block itself when think is on: all the tiny model writes is reasoning
        String template = THINKING_GO;
        String base = "{\"model\":\"" + MODEL + "\",\"prompt\":\"Once upon a time\",\"template\":\"" + template
                + "\",\"options\":{\"num_predict\":6,\"ignore_eos\":true,\"seed\":2}";
        HttpResponse<String> r = server.post("/api/generate", base + ",\"think\":true,\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode whole = TestServer.json(r.body());
        assertTrue(whole.path("thinking").asText().length() > 0, whole.toString());
        assertEquals("", whole.get("response").asText(), whole.toString());
        List<JsonNode> lines = TestServer.ndjson(server.post("/api/generate", base + ",\"think\":true}").body());
        StringBuilder streamed = new StringBuilder();
        lines.forEach(l -> streamed.append(l.path("thinking").asText()));
        assertEquals(whole.get("thinking").asText(), streamed.toString(), "streamed, the same reasoning");
        JsonNode off = TestServer.json(server.post("/api/generate", base + ",\"think\":false,\"stream\":false}").body());
        assertTrue(!off.has("thinking") && off.get("response").asText().length() > 0, off.toString());
    }

    /**
     * As in Ollama (routes.go): a model that can think does so when the request says nothing, on generate, chat and
     * OpenAI's chat (whose answer carries it as {@code reasoning}); {@code think: false} still turns it off.
     */
    @Test
    void aModelThatCanThinkThinksUnlessToldNot() throws Exception {
        String template = THINKING_GO;
        String base = "{\"model\":\"" + MODEL + "\",\"prompt\":\"Once upon a time\",\"template\":\"" + template
                + "\",\"stream\":false,\"options\":{\"num_predict\":6,\"ignore_eos\":true,\"seed\":2}";
        JsonNode unset = TestServer.json(server.post("/api/generate", base + "}").body());
        assertTrue(unset.path("thinking").asText().length() > 0, unset.toString());
        assertEquals("", unset.get("response").asText(), unset.toString());
        JsonNode off = TestServer.json(server.post("/api/generate", base + ",\"think\":false}").body());
        assertTrue(!off.has("thinking") && off.get("response").asText().length() > 0, off.toString());
        String user = "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]";
        assertEquals(chat(user + ",\"think\":true").get("prompt_eval_count"), chat(user).get("prompt_eval_count"),
                "chat renders think as on");
        HttpResponse<String> openAi = server.post("/v1/chat/completions", "{\"model\":\"" + MODEL + "\","
                + "\"max_tokens\":2," + user + "}");
        assertEquals(200, openAi.statusCode(), openAi.body());
        HttpResponse<String> plain = server.post("/api/chat", "{\"model\":\"stories260k\",\"stream\":false,"
                + "\"options\":{\"num_predict\":2}," + user + "}");
        assertEquals(200, plain.statusCode(), "a model that cannot think is not asked to: " + plain.body());
    }

    /**
     * With a format and no think, a model that can think: generate answers in its content (its format holds from the
     * first token, as Ollama's generate applies it, so reasoning first would leave the JSON inside the reasoning
     * block); chat reasons first, as Ollama's chat turns think on for such a model and holds the answer after it.
     */
    @Test
    void aFormatWithoutThinkIsAnsweredInTheContent() throws Exception {
        JsonNode generate = TestServer.json(server.post("/api/generate", "{\"model\":\"" + MODEL + "\",\"stream\":false,"
                + "\"template\":\"" + THINKING_GO + "\",\"prompt\":\"Hi\",\"format\":\"json\","
                + "\"options\":{\"num_predict\":4,\"seed\":1}}").body());
        assertTrue(generate.path("response").asText().startsWith("{"), generate.toString());
        assertTrue(generate.path("thinking").isMissingNode(), generate.toString());
        JsonNode chat = chat("\"template\":\"" + THINKING_GO + "\",\"format\":\"json\","
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]");
        String thinking = chat.at("/message/thinking").asText();
        assertTrue(!thinking.isBlank() && !thinking.strip().startsWith("{"), chat.toString());
        assertEquals("", chat.at("/message/content").asText(), chat.toString());
    }

    /**
     * With a format and think on, the reasoning is free and the format holds the answer after it, as Ollama's chat
     * applies a format once the reasoning ends. The tiny model never closes the block its prompt opened: all it
     * writes is reasoning, in its own words (held to the format from the first token it had been JSON).
     */
    @Test
    void aFormatWithThinkHoldsTheAnswerAfterTheReasoning() throws Exception {
        JsonNode r = chat("\"template\":\"" + THINKING_GO + "\",\"format\":\"json\",\"think\":true,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]");
        String thinking = r.at("/message/thinking").asText();
        assertTrue(!thinking.isBlank() && !thinking.strip().startsWith("{"), r.toString());
        assertEquals("", r.at("/message/content").asText(), r.toString());
        JsonNode generate = TestServer.json(server.post("/api/generate", "{\"model\":\"" + MODEL + "\",\"stream\":false,"
                + "\"template\":\"" + THINKING_GO + "\",\"prompt\":\"Hi\",\"format\":\"json\",\"think\":true,"
                + "\"options\":{\"num_predict\":4,\"seed\":1}}").body());
        // generate holds the format from the first token, as Ollama's generate does; what it holds is the answer,
        // even though the prompt opened a reasoning block (Ollama files it as reasoning and answers nothing)
        assertTrue(generate.path("response").asText().strip().startsWith("{"), generate.toString());
        assertTrue(generate.path("thinking").asText().isEmpty(), generate.toString());
    }

    /**
     * As Ollama: for DeepSeek-R1 (and the Qwen 3 family) an earlier answer sent back with its reasoning inline loses
     * it before the template sees it; for other models it stays.
     */
    @Test
    void earlierAnswersOfDeepSeekR1LoseTheirReasoning() throws Exception {
        String withReasoning = history("<think>first I weigh every word of the question at great length</think>Hello");
        String without = history("Hello");
        for (String model : List.of("deepseek-r1", "plain-r1")) {
            int a = promptTokens(model, withReasoning);
            int b = promptTokens(model, without);
            if (model.equals("deepseek-r1")) {
                assertEquals(b, a, "the reasoning is cut");
            } else {
                assertTrue(a > b + 8, "other models keep it: " + a + " vs " + b);
            }
        }
    }

    private static String history(String answer) {
        return "[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"" + answer + "\"},"
                + "{\"role\":\"user\",\"content\":\"Again\"}]";
    }

    private static int promptTokens(String model, String messages) throws Exception {
        HttpResponse<String> r = server.post("/api/chat", "{\"model\":\"" + model + "\",\"stream\":false,"
                + "\"options\":{\"num_predict\":1},\"messages\":" + messages + "}");
        assertEquals(200, r.statusCode(), r.body());
        return TestServer.json(r.body()).get("prompt_eval_count").asInt();
    }

    /**
     * Reasoning tags other than {@code <think>} (Command R's): the format cannot wait for a {@code </think>} that
     * never comes, so it holds from the first token (closing a reasoning block the prompt opened first) and an absent
     * think stays off with it.
     */
    @Test
    void aFormatWithOtherReasoningTagsHoldsFromTheStart() throws Exception {
        String template = "{{ range .Messages }}{{ if .Thinking }}<|START_THINKING|>{{ .Thinking }}<|END_THINKING|>"
                + "{{ end }}{{ .Content }}{{ end }}{{ if .Think }}<|START_THINKING|>{{ end }}";
        for (String think : List.of("", "\"think\":true,")) {
            // with think the prompt opens the reasoning block, and the format's document comes after the model closes
            // it (the tiny model spells <|END_THINKING|> in bytes: room for it)
            HttpResponse<String> h = server.post("/api/chat", "{\"model\":\"" + MODEL + "\",\"stream\":false,"
                    + "\"options\":{\"num_predict\":40,\"seed\":1},\"template\":\"" + template + "\",\"format\":\"json\","
                    + think + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
            assertEquals(200, h.statusCode(), h.body());
            JsonNode r = TestServer.json(h.body());
            assertTrue(r.at("/message/content").asText().strip().startsWith("{"), think + r);
            assertTrue(r.at("/message/thinking").asText().isEmpty(), think + r);
        }
    }

    /**
     * A model that may open a reasoning block but does not: its answer is held to the format from its first word, and
     * the format never pushes it into a block (the tiny model never writes "<"; a row restricted to the format and
     * the tag's beginning had led it into "<think>" and left the content empty).
     */
    @Test
    void aFormatNeverLeadsAModelIntoReasoningItDidNotOpen() throws Exception {
        String template = "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}"
                + "{{ .Content }}{{ end }}";
        for (String format : List.of("\"json\"", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},"
                + "\"required\":[\"a\"]}")) {
            for (int seed = 1; seed <= 4; seed++) {
                HttpResponse<String> r = server.post("/api/chat", "{\"model\":\"" + MODEL + "\",\"stream\":false,"
                        + "\"template\":\"" + template + "\",\"format\":" + format + ",\"options\":{\"num_predict\":40,"
                        + "\"seed\":" + seed + "},\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}");
                assertEquals(200, r.statusCode(), r.body());
                JsonNode m = TestServer.json(r.body()).get("message");
                assertTrue(m.path("thinking").asText().isEmpty(), r.body());
                assertTrue(m.path("content").asText().strip().startsWith("{"), r.body());
            }
        }
    }

    /**
     * Thinking on by default takes nothing from an answer that opens no reasoning block: its first token's space
     * stays, as with think off (Ollama's parser hands back the untrimmed text when no opening tag comes).
     */
    @Test
    void anAnswerWithoutReasoningKeepsItsStart() throws Exception {
        String template = "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}"
                + "{{ .Content }}{{ end }}";
        String base = "\"template\":\"" + template + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Once\"}]";
        String on = chat(base).at("/message/content").asText();
        String off = chat(base + ",\"think\":false").at("/message/content").asText();
        assertEquals(off, on);
        assertTrue(on.startsWith(" "), "the first token's space: [" + on + "]");
    }

    @Test
    void aRoleTheServerDoesNotKnowGoesToTheTemplate() throws Exception {
        // older OpenAI clients send "function" results; as in Ollama, the template decides what to make of a role
        String user = "{\"role\":\"user\",\"content\":\"What is the weather in Paris?\"}";
        JsonNode without = chat("\"messages\":[" + user + "]");
        JsonNode with = chat("\"messages\":[" + user + ",{\"role\":\"function\",\"name\":\"get_weather\","
                + "\"content\":\"twenty-one degrees and sunny all afternoon\"}]");
        assertTrue(with.get("prompt_eval_count").asInt() > without.get("prompt_eval_count").asInt() + 8,
                "the function message is in the prompt: " + with + " vs " + without);
        HttpResponse<String> openAi = server.post("/v1/chat/completions", "{\"model\":\"" + MODEL + "\","
                + "\"max_tokens\":2,\"messages\":[" + user + ",{\"role\":\"function\",\"name\":\"f\",\"content\":\"42\"}]}");
        assertEquals(200, openAi.statusCode(), openAi.body());
    }

    @Test
    void toolCallsAndToolResultsAreAcceptedAndRendered() throws Exception {
        String history = "\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
                + "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"get_weather\","
                + "\"arguments\":{\"city\":\"Paris\"}}}]},"
                + "{\"role\":\"tool\",\"content\":\"21 degrees and sunny\",\"tool_name\":\"get_weather\"}]";
        JsonNode short_ = chat("\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}],\"tools\":" + TOOLS);
        JsonNode full = chat(history + ",\"tools\":" + TOOLS);
        assertTrue(full.get("prompt_eval_count").asInt() > short_.get("prompt_eval_count").asInt() + 15, full.toString());
        // Streamed too: every line is an assistant message, the last is done.
        HttpResponse<String> r = server.post("/api/chat", "{\"model\":\"" + MODEL + "\",\"options\":{\"num_predict\":8},"
                + history + ",\"tools\":" + TOOLS + "}");
        assertEquals(200, r.statusCode(), r.body());
        List<JsonNode> lines = TestServer.ndjson(r.body());
        lines.forEach(l -> assertEquals("assistant", l.at("/message/role").asText(), l.toString()));
        assertTrue(lines.getLast().get("done").asBoolean());
    }

    @Test
    void thinkIsAcceptedWhereTheTemplateHasItAndRefusedElsewhere() throws Exception {
        String user = "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]";
        JsonNode on = chat(user + ",\"think\":true");
        JsonNode off = chat(user + ",\"think\":false");
        assertTrue(off.get("prompt_eval_count").asInt() > on.get("prompt_eval_count").asInt(),
                "think:false closes an empty think block in the prompt: " + on + " vs " + off);
        HttpResponse<String> r = server.post("/api/chat", "{\"model\":\"stories260k\",\"think\":true," + user + "}");
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("\"stories260k\" does not support thinking", TestServer.json(r.body()).get("error").asText());
    }

    @Test
    void badToolInputIsA400() throws Exception {
        String user = "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]";
        for (String body : List.of(user + ",\"tools\":{\"a\":1}", user + ",\"tools\":[1]",
                "\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{}}]}]",
                "\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"f\","
                        + "\"arguments\":\"not json\"}}]}]",
                user + ",\"think\":\"sometimes\"", user + ",\"template\":7")) {
            HttpResponse<String> r = server.post("/api/chat", "{\"model\":\"" + MODEL + "\"," + body + "}");
            assertEquals(400, r.statusCode(), body + " -> " + r.body());
            assertTrue(TestServer.json(r.body()).has("error"), r.body());
        }
        HttpResponse<String> r = server.post("/api/chat", "{\"model\":\"stories260k\"," + user + ",\"tools\":" + TOOLS + "}");
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(r.body().contains("does not support tools"), r.body());
    }

    @Test
    void aRequestTemplateInGoSyntaxIsUsed() throws Exception {
        String base = "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"stream\":false,"
                + "\"options\":{\"temperature\":0,\"num_predict\":8}";
        JsonNode plain = TestServer.json(server.post("/api/generate", base + "}").body());
        JsonNode same = TestServer.json(server.post("/api/generate", base + ",\"template\":\"{{ .Prompt }}\"}").body());
        assertEquals(plain.get("prompt_eval_count").asInt(), same.get("prompt_eval_count").asInt(), same.toString());
        assertEquals(plain.get("response").asText(), same.get("response").asText());
        HttpResponse<String> r = server.post("/api/generate", base
                + ",\"system\":\"Tell a story.\",\"template\":\"{{ if .System }}{{ .System }} {{ end }}{{ .Prompt }}\"}");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(TestServer.json(r.body()).get("prompt_eval_count").asInt() > plain.get("prompt_eval_count").asInt());
        // The template also applies to /api/chat, and an unsupported one falls back (here to ChatML) with a log line.
        r = server.post("/api/chat", "{\"model\":\"stories260k\",\"stream\":false,\"options\":{\"num_predict\":4},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"template\":\"{{ block \\\"x\\\" . }}{{ end }}\"}");
        assertEquals(200, r.statusCode(), r.body());
    }
}
