package dev.gantry.server.api.openai;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.server.http.Json;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** The pure mapping between OpenAI's API and Ollama's, both ways. */
class OpenAiMappingTest {
    private static ObjectNode json(String s) throws Exception {
        return (ObjectNode) Json.MAPPER.readTree(s);
    }

    /** The {@code /api/generate} body of a completion request's first prompt. */
    private static ObjectNode generate(ObjectNode req) {
        return OpenAiMapping.toOllamaGenerate(req, OpenAiInputs.prompts(req).getFirst());
    }

    @Test
    void chatRequestBecomesAnOllamaChatWithItsOptions() throws Exception {
        ObjectNode o = OpenAiMapping.toOllamaChat(json("""
                {"model":"m","messages":[{"role":"developer","content":"be brief"},
                  {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
                 "stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"max_completion_tokens":7,
                 "temperature":0.2,"seed":42,"stop":"x","frequency_penalty":0.5,"presence_penalty":0.25,"n":1}"""));
        assertEquals("m", o.get("model").textValue());
        assertTrue(o.get("stream").booleanValue());
        assertEquals("system", o.at("/messages/0/role").textValue());
        assertEquals("a\nb", o.at("/messages/1/content").textValue());
        JsonNode opt = o.get("options");
        assertEquals(7, opt.get("num_predict").intValue(), "max_completion_tokens wins over max_tokens");
        assertEquals(0.2, opt.get("temperature").doubleValue(), 1e-9);
        assertEquals(1.0, opt.get("top_p").doubleValue(), 1e-9, "OpenAI's default top_p");
        assertEquals(42, opt.get("seed").intValue());
        assertEquals("x", opt.at("/stop/0").textValue());
        assertEquals(0.5, opt.get("frequency_penalty").doubleValue(), 1e-9);
        assertEquals(0.25, opt.get("presence_penalty").doubleValue(), 1e-9);
        assertFalse(o.has("format"));
        assertTrue(OpenAiMapping.includeUsage(json("{\"stream_options\":{\"include_usage\":true}}")));
    }

    /** OpenAI takes any 64-bit seed; counts stay 32-bit, and the error says which range. */
    @Test
    void seedsAre64BitAndOutOfRangeCountsSaySo() throws Exception {
        String base = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],";
        ObjectNode o = OpenAiMapping.toOllamaChat(json(base + "\"seed\":9223372036854775807}"));
        assertEquals(Long.MAX_VALUE, o.at("/options/seed").longValue());
        OpenAiError big = assertThrows(OpenAiError.class,
                () -> OpenAiMapping.toOllamaChat(json(base + "\"seed\":9223372036854775808}")));
        assertTrue(big.getMessage().contains("64 bits"), big.getMessage());
        assertThrows(OpenAiError.class, () -> OpenAiMapping.toOllamaChat(json(base + "\"seed\":1.5}")));
        OpenAiError tokens = assertThrows(OpenAiError.class,
                () -> OpenAiMapping.toOllamaChat(json(base + "\"max_tokens\":4294967296}")));
        assertTrue(tokens.getMessage().contains("2147483647"), tokens.getMessage());
    }

    @Test
    void defaultsAreOllamasForOpenAi() throws Exception {
        ObjectNode o = OpenAiMapping.toOllamaChat(json("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
        assertFalse(o.get("stream").booleanValue(), "OpenAI does not stream unless asked");
        assertEquals(1.0, o.at("/options/temperature").doubleValue(), 1e-9);
        assertFalse(o.get("options").has("num_predict"));
    }

    @Test
    void responseFormatsMapToOllamasFormat() throws Exception {
        String base = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"response_format\":";
        assertEquals("json", OpenAiMapping.toOllamaChat(json(base + "{\"type\":\"json_object\"}}")).get("format").textValue());
        JsonNode schema = OpenAiMapping.toOllamaChat(json(base
                + "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\"}}}}"))
                .get("format");
        assertEquals("object", schema.get("type").textValue());
        assertFalse(OpenAiMapping.toOllamaChat(json(base + "{\"type\":\"text\"}}")).has("format"));
        // as Ollama: json_schema without a schema, and any other type, leave the output unconstrained
        assertFalse(OpenAiMapping.toOllamaChat(json(base + "{\"type\":\"json_schema\"}}")).has("format"));
        assertFalse(OpenAiMapping.toOllamaChat(json(base + "{\"type\":\"xml\"}}")).has("format"));
        OpenAiError e = assertThrows(OpenAiError.class, () -> OpenAiMapping.toOllamaChat(json(base
                + "{\"type\":\"json_schema\",\"json_schema\":{\"schema\":\"object\"}}}")));
        assertEquals("response_format.json_schema.schema", e.param());
        assertThrows(OpenAiError.class, () -> OpenAiMapping.toOllamaChat(json(base + "\"json\"}")));
    }

    @Test
    void toolsAndToolCallsPassThroughInOllamasShape() throws Exception {
        ObjectNode o = OpenAiMapping.toOllamaChat(json("""
                {"model":"m","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
                 "messages":[{"role":"user","content":"weather?"},
                  {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                    "function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]},
                  {"role":"tool","tool_call_id":"call_1","content":"sunny"}],
                 "reasoning_effort":"low"}"""));
        assertEquals("get_weather", o.at("/tools/0/function/name").textValue());
        assertEquals("Paris", o.at("/messages/1/tool_calls/0/function/arguments/city").textValue(),
                "arguments become an object, as Ollama takes them");
        assertEquals("", o.at("/messages/1/content").textValue());
        assertEquals("get_weather", o.at("/messages/2/tool_name").textValue(), "found by tool_call_id");
        assertEquals("low", o.get("think").textValue());
        OpenAiError bad = assertThrows(OpenAiError.class, () -> OpenAiMapping.toOllamaChat(json("""
                {"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{"}}]}]}""")));
        assertTrue(bad.getMessage().contains("invalid tool call arguments"), bad.getMessage());
    }

    @Test
    void badRequestsNameTheirParameter() throws Exception {
        String msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        assertEquals("model", assertThrows(OpenAiError.class,
                () -> OpenAiMapping.toOllamaChat(json("{" + msgs + "}"))).param());
        assertEquals("messages", assertThrows(OpenAiError.class,
                () -> OpenAiMapping.toOllamaChat(json("{\"model\":\"m\",\"messages\":[]}"))).param());
        assertEquals("temperature", assertThrows(OpenAiError.class,
                () -> OpenAiMapping.toOllamaChat(json("{\"model\":\"m\"," + msgs + ",\"temperature\":\"hot\"}"))).param());
        // a stop that is not a string: chat drops it, completions refuse it, either ignores a stop of another type
        assertEquals("[\"x\"]", OpenAiMapping.toOllamaChat(json("{\"model\":\"m\"," + msgs + ",\"stop\":[1,\"x\"]}"))
                .at("/options/stop").toString());
        assertFalse(OpenAiMapping.toOllamaChat(json("{\"model\":\"m\"," + msgs + ",\"stop\":5}")).has("stop"));
        OpenAiError stop = assertThrows(OpenAiError.class,
                () -> generate(json("{\"model\":\"m\",\"prompt\":\"a\",\"stop\":[1]}")));
        assertEquals("invalid type for 'stop' field: float64", stop.getMessage());
        // content may be left out only by a message that calls tools (Ollama's words)
        assertEquals("invalid message content type: <nil>", assertThrows(OpenAiError.class,
                () -> OpenAiMapping.toOllamaChat(json("{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}")))
                .getMessage());
        // a missing role is passed on as "", as Ollama does
        assertEquals("", OpenAiMapping.toOllamaChat(json("{\"model\":\"m\",\"messages\":[{\"content\":\"hi\"}]}"))
                .at("/messages/0/role").textValue());
        assertEquals("invalid reasoning value: 'bogus' (must be \"high\", \"medium\", \"low\", or \"none\")",
                assertThrows(OpenAiError.class, () -> OpenAiMapping.toOllamaChat(json("{\"model\":\"m\"," + msgs
                        + ",\"reasoning_effort\":\"bogus\"}"))).getMessage());
        // top_logprobs without logprobs asks for nothing
        assertFalse(OpenAiMapping.toOllamaChat(json("{\"model\":\"m\"," + msgs + ",\"top_logprobs\":2}"))
                .has("logprobs"));
        // completions take top_p 0 as not set (1), chat keeps it
        assertEquals(1.0, generate(json("{\"model\":\"m\",\"prompt\":\"a\",\"top_p\":0}"))
                .at("/options/top_p").doubleValue());
        assertEquals(0.0, OpenAiMapping.toOllamaChat(json("{\"model\":\"m\"," + msgs + ",\"top_p\":0}"))
                .at("/options/top_p").doubleValue());
        assertEquals("prompt", assertThrows(OpenAiError.class,
                () -> generate(json("{\"model\":\"m\",\"prompt\":[1,2.5]}"))).param());
        assertEquals("prompt", assertThrows(OpenAiError.class,
                () -> generate(json("{\"model\":\"m\",\"prompt\":{}}"))).param());
        // token ids: one prompt, raw, its ids handed to the handler apart
        ObjectNode req = json("{\"model\":\"m\",\"prompt\":[1,2]}");
        assertArrayEquals(new int[] {1, 2}, OpenAiInputs.prompts(req).getFirst().tokens());
        assertTrue(generate(req).get("raw").booleanValue());
        assertFalse(generate(req).has("prompt"));
        assertEquals(3, OpenAiInputs.prompts(json("{\"model\":\"m\",\"prompt\":[\"a\",[1],\"b\"]}")).size());
        // no prompt is an empty one, as Ollama passes it on: the model is only loaded
        assertEquals("", generate(json("{\"model\":\"m\"}")).get("prompt").textValue());
        assertEquals("[[1,2]]", OpenAiMapping.toOllamaEmbed(json("{\"model\":\"m\",\"input\":[[1,2]]}"))
                .get("input").toString());
        assertEquals("[[1,2]]", OpenAiMapping.toOllamaEmbed(json("{\"model\":\"m\",\"input\":[1,2]}"))
                .get("input").toString(), "one list of ids is one input");
        assertEquals("input", assertThrows(OpenAiError.class,
                () -> OpenAiMapping.toOllamaEmbed(json("{\"model\":\"m\",\"input\":[1,\"a\"]}"))).param());
        assertEquals("input[0]", assertThrows(OpenAiError.class,
                () -> OpenAiMapping.toOllamaEmbed(json("{\"model\":\"m\",\"input\":[[-1]]}"))).param());
        assertEquals("encoding_format", assertThrows(OpenAiError.class,
                () -> OpenAiMapping.toOllamaEmbed(json("{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"hex\"}"))).param());
        // Ollama truncates only to a positive number: 0 (Go's zero value) and below are the model's whole width
        assertTrue(!OpenAiMapping.toOllamaEmbed(json("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":-1}"))
                .has("dimensions"));
        assertTrue(!OpenAiMapping.toOllamaEmbed(json("{\"model\":\"m\",\"input\":\"x\",\"dimensions\":0}"))
                .has("dimensions"));
    }

    @Test
    void completionAndEmbeddingRequestsMap() throws Exception {
        ObjectNode g = generate(json(
                "{\"model\":\"m\",\"prompt\":[\"Once\"],\"max_tokens\":3,\"stop\":[\"a\",\"b\"],\"stream\":true}"));
        assertEquals("Once", g.get("prompt").textValue());
        assertEquals(3, g.at("/options/num_predict").intValue());
        assertEquals(2, g.at("/options/stop").size());
        ObjectNode e = OpenAiMapping.toOllamaEmbed(json("{\"model\":\"m\",\"input\":[\"a\",\"b\"],\"dimensions\":8}"));
        assertEquals(2, e.get("input").size());
        assertEquals(8, e.get("dimensions").intValue());
        assertTrue(e.get("truncate").booleanValue());
        assertTrue(OpenAiMapping.base64(json("{\"encoding_format\":\"base64\"}")));
        assertFalse(OpenAiMapping.base64(json("{}")));
    }

    @Test
    void ollamaChatAnswersMapBack() throws Exception {
        JsonNode done = json("""
                {"model":"m","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"hi",
                 "tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]},"done":true,"done_reason":"stop",
                 "prompt_eval_count":3,"eval_count":4}""");
        ObjectNode c = OpenAiMapping.chatCompletion("chatcmpl-1", 7, done);
        assertEquals("chat.completion", c.get("object").textValue());
        assertEquals(7, c.get("created").longValue());
        assertEquals("hi", c.at("/choices/0/message/content").textValue());
        assertEquals("tool_calls", c.at("/choices/0/finish_reason").textValue());
        assertEquals("{\"a\":1}", c.at("/choices/0/message/tool_calls/0/function/arguments").textValue());
        assertEquals("function", c.at("/choices/0/message/tool_calls/0/type").textValue());
        assertTrue(c.at("/choices/0/message/tool_calls/0/id").textValue().startsWith("call_"));
        assertEquals(7, c.at("/usage/total_tokens").intValue());

        JsonNode line = json("{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"x\"},\"done\":false}");
        ObjectNode chunk = OpenAiMapping.chatChunk("chatcmpl-1", 7, line, false);
        assertEquals("chat.completion.chunk", chunk.get("object").textValue());
        assertEquals("x", chunk.at("/choices/0/delta/content").textValue());
        assertTrue(chunk.at("/choices/0/finish_reason").isNull());
        JsonNode last = json("{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
                + "\"done_reason\":\"length\",\"prompt_eval_count\":1,\"eval_count\":2}");
        assertEquals("length", OpenAiMapping.chatChunk("i", 7, last, false).at("/choices/0/finish_reason").textValue());
        assertEquals("tool_calls", OpenAiMapping.chatChunk("i", 7, last, true).at("/choices/0/finish_reason").textValue());
        ObjectNode usage = OpenAiMapping.usageChunk("i", "chat.completion.chunk", 7, last);
        assertEquals(0, usage.get("choices").size());
        assertEquals(3, usage.at("/usage/total_tokens").intValue());
    }

    @Test
    void generateAnswersMapToTextCompletions() throws Exception {
        JsonNode done = json("{\"model\":\"m\",\"response\":\"abc\",\"done\":true,\"done_reason\":\"length\","
                + "\"prompt_eval_count\":2,\"eval_count\":3}");
        ObjectNode c = OpenAiMapping.completion("cmpl-1", 1, done);
        assertEquals("text_completion", c.get("object").textValue());
        assertEquals("abc", c.at("/choices/0/text").textValue());
        assertEquals("length", c.at("/choices/0/finish_reason").textValue());
        assertEquals(5, c.at("/usage/total_tokens").intValue());
        ObjectNode chunk = OpenAiMapping.completionChunk("cmpl-1", 1, json("{\"model\":\"m\",\"response\":\"a\",\"done\":false}"),
                0);
        assertTrue(chunk.at("/choices/0/finish_reason").isNull());
    }

    @Test
    void embeddingsMapAsFloatsOrLittleEndianBase64() throws Exception {
        JsonNode embed = json("{\"model\":\"m\",\"embeddings\":[[0.5,-1.25],[1,0]],\"prompt_eval_count\":6}");
        ObjectNode floats = OpenAiMapping.embeddingList("m", embed, false);
        assertEquals("list", floats.get("object").textValue());
        assertEquals(1, floats.at("/data/1/index").intValue());
        assertEquals(-1.25, floats.at("/data/0/embedding/1").doubleValue(), 1e-9);
        assertEquals(6, floats.at("/usage/prompt_tokens").intValue());
        ObjectNode b64 = OpenAiMapping.embeddingList("m", embed, true);
        ByteBuffer b = ByteBuffer.wrap(Base64.getDecoder().decode(b64.at("/data/0/embedding").textValue()))
                .order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0.5f, b.getFloat());
        assertEquals(-1.25f, b.getFloat());
    }

    @Test
    void modelsAndErrorsHaveOpenAisShape() throws Exception {
        ObjectNode list = OpenAiMapping.modelList(json(
                "{\"models\":[{\"name\":\"stories260k:latest\",\"modified_at\":\"2025-01-02T03:04:05Z\"}]}"));
        assertEquals("list", list.get("object").textValue());
        assertEquals("stories260k:latest", list.at("/data/0/id").textValue());
        assertEquals(1735787045L, list.at("/data/0/created").longValue());
        assertEquals("library", list.at("/data/0/owned_by").textValue());
        assertEquals("someone", OpenAiMapping.model("someone/m:7b", "").get("owned_by").textValue());
        ObjectNode err = OpenAiMapping.error(400, "bad", "n", "unsupported_value");
        assertEquals("invalid_request_error", err.at("/error/type").textValue());
        assertEquals("n", err.at("/error/param").textValue());
        assertTrue(OpenAiMapping.error(500, "x", null, null).at("/error/param").isNull());
        assertEquals("api_error", OpenAiMapping.error(500, "x", null, null).at("/error/type").textValue());
        assertEquals("not_found_error", OpenAiMapping.error(404, "x", null, null).at("/error/type").textValue());
        assertEquals("api_error", OpenAiMapping.error(503, "x", null, null).at("/error/type").textValue());
    }

    @Test
    void maxTokensBelowOneIsRefusedButForOllamasNoLimitValues() throws Exception {
        for (String field : new String[] {"max_tokens", "max_completion_tokens"}) {
            for (int bad : new int[] {0, -3, -100}) {
                OpenAiError e = assertThrows(OpenAiError.class, () -> OpenAiMapping.toOllamaChat(json(
                        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"" + field + "\":"
                                + bad + "}")), field + " " + bad);
                assertTrue(e.getMessage().contains(field), e.getMessage());
            }
            for (int ok : new int[] {1, -1, -2}) {
                ObjectNode o = OpenAiMapping.toOllamaChat(json("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                        + "\"content\":\"x\"}],\"" + field + "\":" + ok + "}"));
                assertEquals(ok, o.at("/options/num_predict").intValue());
            }
        }
        assertThrows(OpenAiError.class, () -> generate(json("{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":0}")));
        assertEquals(-1, generate(json("{\"model\":\"m\",\"prompt\":\"x\",\"max_tokens\":-1}"))
                .at("/options/num_predict").intValue());
    }

    @Test
    void aNumberTooLargeForADoubleIsNamed() throws Exception {
        OpenAiError e = assertThrows(OpenAiError.class, () -> OpenAiMapping.toOllamaChat(json(
                "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":1e400}")));
        assertTrue(e.getMessage().contains("temperature must be a finite number"), e.getMessage());
    }

    @Test
    void theOlderFunctionsApisMessagesAreTakenAsToolCalls() throws Exception {
        ObjectNode o = OpenAiMapping.toOllamaChat(json("""
                {"model":"m","messages":[{"role":"user","content":"hi"},
                  {"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{\\"a\\":1}"}},
                  {"role":"function","name":"f","content":"1"}]}"""));
        assertEquals("f", o.at("/messages/1/tool_calls/0/function/name").textValue());
        assertEquals(1, o.at("/messages/1/tool_calls/0/function/arguments/a").intValue());
        assertEquals("tool", o.at("/messages/2/role").textValue());
        assertEquals("f", o.at("/messages/2/tool_name").textValue());
    }

    @Test
    void anUnknownPathIsNotAMissingModel() {
        assertTrue(OpenAiMapping.error(404, "404 page not found", null, null).at("/error/code").isNull());
        assertEquals("model_not_found", OpenAiMapping.error(404, "model \"x\" not found", null, null)
                .at("/error/code").textValue());
        assertEquals("invalid_api_key", OpenAiMapping.error(401, "unauthorized", null, null).at("/error/code")
                .textValue());
    }
}
