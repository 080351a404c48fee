package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.runtime.testing.TestModels;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * OpenAI's {@code tool_choice} through the real server and the tiny model (which writes random stories, so only a
 * grammar makes it call a tool): {@code required} and a named function make the answer a call that parses, with
 * arguments of the tool's schema; {@code none} sends no tools; bad values are OpenAI's 400s.
 */
class ToolChoiceApiTest {
    private static final String MODEL = "tiny-tools";
    private static final String TOOLS = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
            + "\"parameters\":{\"type\":\"object\",\"properties\":{\"unit\":{\"enum\":[\"c\",\"f\"]}},"
            + "\"required\":[\"unit\"]}}},{\"type\":\"function\",\"function\":{\"name\":\"get_time\","
            + "\"parameters\":{\"type\":\"object\",\"properties\":{\"zone\":{\"enum\":[\"utc\",\"cet\"]}},"
            + "\"required\":[\"zone\"]}}}]";
    private static final String ASK = "\"messages\":[{\"role\":\"user\",\"content\":\"What is the weather?\"}]";
    private static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        Path models = Files.createTempDirectory("gantry-tool-choice");
        ChatTemplateApiTest.withTemplate(TestModels.tinyModel(), models.resolve(MODEL + ".gguf"),
                ChatTemplateApiTest.TEMPLATE);
        ChatTemplateApiTest.withTemplate(TestModels.tinyModel(), models.resolve("tiny-mistral.gguf"), Files.readString(
                TestModels.sharedDir().resolve("llama-data/chat-templates/Mistral-Small-3.2-24B-Instruct-2506.jinja")));
        ChatTemplateApiTest.withTemplate(TestModels.tinyModel(), models.resolve("tiny-command.gguf"), Files.readString(
                TestModels.sharedDir().resolve("llama-data/chat-templates/CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja")));
        ChatTemplateApiTest.withTemplate(TestModels.tinyModel(), models.resolve("tiny-harmony.gguf"), Files.readString(
                TestModels.sharedDir().resolve("llama-data/chat-templates/openai-gpt-oss-120b.jinja")));
        server = TestServer.start(TestServer.defaults(), models);
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static HttpResponse<String> openai(String extra) throws Exception {
        return server.post("/v1/chat/completions", "{\"model\":\"" + MODEL + "\",\"max_tokens\":120,\"seed\":3,"
                + ASK + "," + extra + "}");
    }

    @Test
    void requiredMakesTheAnswerACallOfOneOfTheTools() throws Exception {
        // reasoning off: with it on, the call is held after the reasoning, which the tiny model never ends
        HttpResponse<String> r = openai("\"tools\":" + TOOLS + ",\"tool_choice\":\"required\",\"reasoning_effort\":\"none\"");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode c = TestServer.json(r.body()).at("/choices/0");
        assertEquals("tool_calls", c.get("finish_reason").asText(), c.toString());
        JsonNode call = c.at("/message/tool_calls/0/function");
        assertTrue(call.get("name").asText().equals("get_weather") || call.get("name").asText().equals("get_time"),
                call.toString());
        JsonNode args = TestServer.json(call.get("arguments").asText());
        assertTrue(args.has(call.get("name").asText().equals("get_weather") ? "unit" : "zone"), args.toString());
    }

    /** Each choice's calls have ids of their own: they were the same in every choice (call_ID_0 each). */
    @Test
    void callIdsDifferBetweenChoices() throws Exception {
        for (boolean stream : new boolean[] {false, true}) {
            HttpResponse<String> r = openai("\"tools\":" + TOOLS + ",\"tool_choice\":\"required\",\"n\":3,"
                    + "\"reasoning_effort\":\"none\",\"stream\":" + stream);
            assertEquals(200, r.statusCode(), r.body());
            java.util.Set<String> ids = new java.util.HashSet<>();
            int calls = 0;
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"id\":\"(call_[^\"]*)\"").matcher(r.body());
            while (m.find()) {
                ids.add(m.group(1));
                calls++;
            }
            assertTrue(calls >= 3, r.body());
            assertEquals(calls, ids.size(), "stream " + stream + ": " + ids);
        }
    }

    @Test
    void aNamedFunctionIsTheOneCalled() throws Exception {
        for (String name : new String[] {"get_time", "get_weather"}) {
            HttpResponse<String> r = openai("\"tools\":" + TOOLS + ",\"tool_choice\":{\"type\":\"function\","
                    + "\"function\":{\"name\":\"" + name + "\"}},\"stream\":true,\"reasoning_effort\":\"none\"");
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("\"name\":\"" + name + "\""), r.body());
            assertTrue(r.body().contains("\"finish_reason\":\"tool_calls\""), r.body());
        }
    }

    /** OpenAI's allowed_tools: of the declared tools, only those it names; required makes the answer a call of one. */
    @Test
    void allowedToolsNarrowTheTools() throws Exception {
        for (String tool : new String[] {"{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}",
            "{\"type\":\"function\",\"name\":\"get_time\"}"}) {
            HttpResponse<String> r = openai("\"tools\":" + TOOLS + ",\"tool_choice\":{\"type\":\"allowed_tools\","
                    + "\"allowed_tools\":{\"mode\":\"required\",\"tools\":[" + tool + "]}},\"reasoning_effort\":\"none\"");
            assertEquals(200, r.statusCode(), r.body());
            JsonNode c = TestServer.json(r.body()).at("/choices/0");
            assertEquals("tool_calls", c.get("finish_reason").asText(), c.toString());
            assertEquals("get_time", c.at("/message/tool_calls/0/function/name").asText(), c.toString());
        }
        HttpResponse<String> auto = openai("\"tools\":" + TOOLS + ",\"tool_choice\":{\"type\":\"allowed_tools\","
                + "\"allowed_tools\":{\"mode\":\"auto\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                + "\"get_weather\"}}]}}");
        assertEquals(200, auto.statusCode(), auto.body());
        // the template renders only the allowed tool: the prompt is shorter than with both
        HttpResponse<String> both = openai("\"tools\":" + TOOLS + ",\"tool_choice\":\"auto\"");
        assertTrue(TestServer.json(auto.body()).at("/usage/prompt_tokens").intValue()
                < TestServer.json(both.body()).at("/usage/prompt_tokens").intValue(), auto.body() + both.body());
    }

    /** Parameters with $defs (as Pydantic writes nested models) and a recursive "#": their refs still resolve. */
    @Test
    void parametersWithDefsAndRefsAreHeld() throws Exception {
        String tools = "[{\"type\":\"function\",\"function\":{\"name\":\"greet\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"who\":{\"$ref\":\"#/$defs/Person\"}},\"required\":[\"who\"],\"$defs\":{\"Person\":"
                + "{\"type\":\"object\",\"properties\":{\"title\":{\"enum\":[\"dr\",\"ms\"]}},\"required\":[\"title\"]}}}}},"
                + "{\"type\":\"function\",\"function\":{\"name\":\"nest\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"more\":{\"$ref\":\"#\"}}}}}]";
        HttpResponse<String> r = openai("\"tools\":" + tools + ",\"tool_choice\":{\"type\":\"function\","
                + "\"function\":{\"name\":\"greet\"}},\"reasoning_effort\":\"none\"");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode call = TestServer.json(r.body()).at("/choices/0/message/tool_calls/0/function");
        assertEquals("greet", call.get("name").asText(), r.body());
        String title = TestServer.json(call.get("arguments").asText()).at("/who/title").asText();
        assertTrue(title.equals("dr") || title.equals("ms"), call.toString());
        r = openai("\"tools\":" + tools + ",\"tool_choice\":\"required\",\"reasoning_effort\":\"none\"");
        assertEquals(200, r.statusCode(), r.body());
    }

    /** Mistral Small 3.2's template calls as [TOOL_CALLS]name[ARGS]{...}: the grammar writes calls so. */
    @Test
    void newerMistralTemplatesGetTheirOwnCallSyntax() throws Exception {
        HttpResponse<String> r = server.post("/api/chat", "{\"model\":\"tiny-mistral\"," + ASK + ",\"tools\":" + TOOLS
                + ",\"tool_choice\":\"required\",\"stream\":false,\"raw\":false,\"options\":{\"num_predict\":120,"
                + "\"seed\":3}}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode call = TestServer.json(r.body()).at("/message/tool_calls/0/function");
        assertTrue(call.get("name").asText().startsWith("get_"), r.body());
        assertTrue(call.get("arguments").isObject() && call.get("arguments").size() == 1, r.body());
    }

    /** A pattern (which the grammar writer does not take) goes; the rest of the schema still holds the arguments. */
    @Test
    void unsupportedKeywordsGoAndTheRestHolds() throws Exception {
        String tools = "[{\"type\":\"function\",\"function\":{\"name\":\"zip\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"code\":{\"type\":\"string\",\"pattern\":\"^[0-9]{5}$\",\"maxLength\":5},"
                + "\"kind\":{\"enum\":[\"home\",\"work\"],\"not\":{\"const\":\"x\"}}},\"required\":[\"code\",\"kind\"]}}},"
                + "{\"type\":\"function\",\"function\":{\"name\":\"ping\"}}]";
        HttpResponse<String> r = openai("\"tools\":" + tools + ",\"tool_choice\":{\"type\":\"function\","
                + "\"function\":{\"name\":\"zip\"}},\"reasoning_effort\":\"none\"");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode args = TestServer.json(TestServer.json(r.body())
                .at("/choices/0/message/tool_calls/0/function/arguments").asText());
        assertTrue(args.get("code").asText().length() <= 5, args.toString());
        assertTrue(args.get("kind").asText().equals("home") || args.get("kind").asText().equals("work"), args.toString());
        r = openai("\"tools\":" + tools + ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"ping\"}},"
                + "\"reasoning_effort\":\"none\"");
        assertEquals("{}", TestServer.json(r.body()).at("/choices/0/message/tool_calls/0/function/arguments").asText(),
                "a function without parameters takes none: " + r.body());
    }

    /** gpt-oss calls as a commentary message to functions.NAME, which the harmony parser reads back. */
    @Test
    void gptOssCallsInAHarmonyMessage() throws Exception {
        for (String choice : List.of("\"required\"", "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}")) {
            HttpResponse<String> r = server.post("/v1/chat/completions", "{\"model\":\"tiny-harmony\",\"max_tokens\":160,"
                    + "\"seed\":3," + ASK + ",\"tools\":" + TOOLS + ",\"tool_choice\":" + choice + "}");
            assertEquals(200, r.statusCode(), r.body());
            JsonNode c = TestServer.json(r.body()).at("/choices/0");
            assertEquals("tool_calls", c.get("finish_reason").asText(), c.toString());
            String name = c.at("/message/tool_calls/0/function/name").asText();
            assertTrue(choice.contains("get_time") ? name.equals("get_time") : name.startsWith("get_"), c.toString());
            assertTrue(TestServer.json(c.at("/message/tool_calls/0/function/arguments").asText())
                    .has(name.equals("get_time") ? "zone" : "unit"), c.toString());
        }
    }

    /** Command R7B calls in an action block, which its own parser reads back. */
    @Test
    void commandR7bCallsInItsActionBlock() throws Exception {
        HttpResponse<String> r = server.post("/v1/chat/completions", "{\"model\":\"tiny-command\",\"max_tokens\":160,"
                + "\"seed\":3," + ASK + ",\"tools\":" + TOOLS + ",\"tool_choice\":{\"type\":\"function\","
                + "\"function\":{\"name\":\"get_weather\"}},\"reasoning_effort\":\"none\"}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode c = TestServer.json(r.body()).at("/choices/0");
        assertEquals("tool_calls", c.get("finish_reason").asText(), c.toString());
        assertEquals("get_weather", c.at("/message/tool_calls/0/function/name").asText(), c.toString());
        assertTrue(TestServer.json(c.at("/message/tool_calls/0/function/arguments").asText()).has("unit"), c.toString());
        // with reasoning on the prompt opens the reasoning block: the call closes it first
        r = server.post("/v1/chat/completions", "{\"model\":\"tiny-command\",\"max_tokens\":160,\"seed\":3," + ASK
                + ",\"tools\":" + TOOLS + ",\"tool_choice\":\"required\",\"reasoning_effort\":\"high\"}");
        assertEquals(200, r.statusCode(), r.body());
        c = TestServer.json(r.body()).at("/choices/0");
        assertEquals("tool_calls", c.get("finish_reason").asText(), c.toString());
    }

    @Test
    void noneSendsNoToolsAndAutoLeavesThemToTheModel() throws Exception {
        int plain = TestServer.json(openai("\"max_tokens\":1").body()).at("/usage/prompt_tokens").asInt();
        JsonNode none = TestServer.json(openai("\"tools\":" + TOOLS + ",\"tool_choice\":\"none\"").body());
        assertEquals(plain, none.at("/usage/prompt_tokens").asInt(), "no tools in the prompt: " + none);
        assertFalse(none.at("/choices/0/message").has("tool_calls"), none.toString());
        JsonNode auto = TestServer.json(openai("\"tools\":" + TOOLS + ",\"tool_choice\":\"auto\"").body());
        assertTrue(auto.at("/usage/prompt_tokens").asInt() > plain + 20, "the tools are in the prompt: " + auto);
    }

    @Test
    void badToolChoicesAreOpenAisErrors() throws Exception {
        String[][] cases = {
            {"\"tools\":" + TOOLS + ",\"tool_choice\":\"sometimes\"", "tool_choice must be"},
            {"\"tools\":" + TOOLS + ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}",
                "not among the tools"},
            {"\"tool_choice\":\"required\"", "needs tools"},
            {"\"tools\":" + TOOLS + ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{\"mode\":\"auto\","
                + "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}]}}", "not among the tools"},
            {"\"tools\":" + TOOLS + ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{\"mode\":\"often\","
                + "\"tools\":[]}}", "needs \"allowed_tools\""},
            {"\"tools\":" + TOOLS + ",\"tool_choice\":{\"type\":\"allowed_tools\",\"allowed_tools\":{"
                + "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]}}", "needs \"allowed_tools\""},
            {"\"tools\":" + TOOLS + ",\"tool_choice\":\"required\",\"response_format\":{\"type\":\"json_object\"}",
                "cannot be combined with a required tool call"},
        };
        for (String[] c : cases) {
            HttpResponse<String> r = openai(c[0]);
            assertEquals(400, r.statusCode(), r.body());
            assertTrue(TestServer.json(r.body()).at("/error/message").asText().contains(c[1]), r.body());
        }
        // Ollama's chat ignores the field: a value Gantry does not know is auto there, not an error
        HttpResponse<String> r = server.post("/api/chat", "{\"model\":\"" + MODEL + "\"," + ASK
                + ",\"tool_choice\":7,\"stream\":false,\"options\":{\"num_predict\":2}}");
        assertEquals(200, r.statusCode(), r.body());
        // where it names a function, that function is called
        r = server.post("/api/chat", "{\"model\":\"" + MODEL + "\"," + ASK + ",\"tools\":" + TOOLS + ",\"think\":false,"
                + "\"stream\":false,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}},"
                + "\"options\":{\"num_predict\":120}}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("get_time", TestServer.json(r.body()).at("/message/tool_calls/0/function/name").asText(),
                r.body());
    }
}
