package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code format} on {@code /api/generate} and {@code /api/chat}, against the real server and the tiny model (which
 * writes stories, not JSON): whatever it samples, the answer parses and validates against the request's schema,
 * checked by an independent JSON Schema validator. The schemas bound their strings and arrays so the small model
 * finishes well within {@code num_predict}.
 */
class StructuredOutputTest {
    private static final SchemaRegistry SCHEMAS = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);
    private static final int NUM_PREDICT = 600;

    /** Each forces a short document: bounded strings, arrays and integers. */
    static final List<String> TEST_SCHEMAS = List.of(
            """
            {"type": "object", "properties": {"answer": {"enum": ["yes", "no"]}}, "required": ["answer"]}""",
            """
            {"type": "object",
             "properties": {
               "name": {"type": "string", "minLength": 1, "maxLength": 8},
               "age": {"type": "integer", "minimum": 0, "maximum": 120},
               "happy": {"type": "boolean"},
               "nickname": {"type": ["string", "null"], "maxLength": 5},
               "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "minItems": 1, "maxItems": 3},
               "home": {"type": "object", "properties": {"city": {"const": "Paris"}, "zip": {"type": "integer",
                        "minimum": 10, "maximum": 99}}, "required": ["city"]}
             },
             "required": ["name", "age", "happy", "tags", "home"]}""",
            """
            {"$defs": {"point": {"type": "object", "properties": {"x": {"$ref": "#/$defs/coord"},
                                                                  "y": {"$ref": "#/$defs/coord"}},
                                 "required": ["x", "y"]},
                       "coord": {"type": "integer", "minimum": -9, "maximum": 9}},
             "type": "object",
             "properties": {"from": {"$ref": "#/$defs/point"}, "to": {"$ref": "#/$defs/point"},
                            "label": {"type": "string", "maxLength": 6, "format": "email"}},
             "required": ["from", "to"]}""",
            """
            {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 9},
                       {"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 3},
                       {"type": "string", "format": "date"}]}""",
            """
            {"type": "array", "items": {"oneOf": [{"type": "null"}, {"type": "object", "properties":
              {"ok": {"type": "boolean"}}, "required": ["ok"]}]}, "maxItems": 2}""");

    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static ObjectNode request(String endpoint, String format, long seed, boolean stream) throws Exception {
        ObjectNode req = TestServer.JSON.createObjectNode();
        req.put("model", TestServer.MODEL);
        req.put("stream", stream);
        if (endpoint.equals("/api/chat")) {
            req.putArray("messages").addObject().put("role", "user").put("content", "Tell me about Lily.");
        } else {
            req.put("prompt", "Once upon a time");
        }
        req.set("format", TestServer.JSON.readTree(format));
        req.putObject("options").put("seed", seed).put("num_predict", NUM_PREDICT);
        return req;
    }

    /** The answer's text and its last line (done_reason, counts), streamed or not. */
    private static JsonNode[] complete(String endpoint, ObjectNode req) throws Exception {
        HttpResponse<String> r = server.post(endpoint, req.toString());
        assertEquals(200, r.statusCode(), r.body());
        String field = endpoint.equals("/api/chat") ? "/message/content" : "/response";
        StringBuilder text = new StringBuilder();
        List<JsonNode> lines = TestServer.ndjson(r.body());
        for (JsonNode l : lines) {
            assertFalse(l.has("error"), r.body());
            text.append(l.at(field).asText());
        }
        return new JsonNode[] {TestServer.JSON.getNodeFactory().textNode(text.toString()), lines.getLast()};
    }

    @Test
    void everyAnswerParsesAndValidatesAgainstItsSchema() throws Exception {
        int checked = 0;
        for (String schemaText : TEST_SCHEMAS) {
            Schema schema = SCHEMAS.getSchema(schemaText, InputFormat.JSON);
            for (String endpoint : List.of("/api/generate", "/api/chat")) {
                for (long seed = 1; seed <= 3; seed++) {
                    boolean stream = seed % 2 == 0;
                    JsonNode[] out = complete(endpoint, request(endpoint, schemaText, seed, stream));
                    String text = out[0].asText();
                    String where = endpoint + " seed " + seed + " schema " + schemaText + "\nanswer: " + text;
                    assertEquals("stop", out[1].get("done_reason").asText(), where);
                    assertTrue(out[1].get("eval_count").asInt() < NUM_PREDICT, where);
                    JsonNode doc = TestServer.JSON.readTree(text);
                    assertEquals(List.of(), schema.validate(doc.toString(), InputFormat.JSON), where);
                    checked++;
                }
            }
        }
        assertEquals(TEST_SCHEMAS.size() * 6, checked);
    }

    /**
     * Free-form JSON has unbounded strings, and the story model rarely closes one within num_predict: each answer is
     * either a parsed object or, cut short, what was generated with done_reason "length".
     */
    @Test
    void formatJsonGivesAnObjectOrSaysItWasCutShort() throws Exception {
        for (long seed = 1; seed <= 6; seed++) {
            for (String endpoint : List.of("/api/generate", "/api/chat")) {
                JsonNode[] out = complete(endpoint, request(endpoint, "\"json\"", seed, false));
                String text = out[0].asText();
                String reason = out[1].get("done_reason").asText();
                if (reason.equals("stop")) {
                    assertTrue(TestServer.JSON.readTree(text).isObject(), text);
                } else {
                    // free-form JSON may run past num_predict: the answer is what was generated, and says so
                    assertEquals("length", reason, text);
                    assertEquals(NUM_PREDICT, out[1].get("eval_count").asInt());
                }
                // the answer starts at its brace, as Ollama's grammar has it: no space before it (this was " {")
                assertTrue(text.startsWith("{"), endpoint + " seed " + seed + ": '" + text + "'");
            }
        }
    }

    @Test
    void aGenerationCutByNumPredictReturnsWhatItHas() throws Exception {
        ObjectNode req = request("/api/generate", TEST_SCHEMAS.get(1), 7, false);
        ((ObjectNode) req.get("options")).put("num_predict", 4);
        JsonNode[] out = complete("/api/generate", req);
        assertEquals("length", out[1].get("done_reason").asText());
        assertEquals(4, out[1].get("eval_count").asInt());
        assertTrue(out[0].asText().startsWith("{"), out[0].asText());
    }

    @Test
    void greedyDecodingWithASchemaIsDeterministic() throws Exception {
        ObjectNode req = request("/api/generate", TEST_SCHEMAS.get(1), 1, false);
        ((ObjectNode) req.get("options")).put("temperature", 0);
        String first = complete("/api/generate", req)[0].asText();
        assertEquals(first, complete("/api/generate", req)[0].asText());
        assertTrue(TestServer.JSON.readTree(first).has("name"), first);
    }

    @Test
    void emptyOrNullFormatIsFreeText() throws Exception {
        for (String format : List.of("\"\"", "null")) {
            ObjectNode req = request("/api/generate", format, 1, false);
            ((ObjectNode) req.get("options")).put("num_predict", 8);
            HttpResponse<String> r = server.post("/api/generate", req.toString());
            assertEquals(200, r.statusCode(), r.body());
        }
    }

    @Test
    void unsupportedOrInvalidFormatsAreA400ThatSaysWhy() throws Exception {
        String[][] cases = {
            {"\"xml\"", "expected \"json\" or a JSON Schema"},
            {"42", "expected \"json\" or a JSON Schema"},
            {"[]", "expected \"json\" or a JSON Schema"},
            {"{\"type\": \"string\", \"pattern\": \"^a+$\"}", "pattern"},
            {"{\"type\": \"text\"}", "unknown type"},
            {"{\"$ref\": \"#/$defs/nope\"}", "points at nothing"},
            {"{\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"number\", \"maximum\": 1}}}", "bounds"},
            {"false", "expected \"json\" or a JSON Schema"},
        };
        for (String endpoint : List.of("/api/generate", "/api/chat")) {
            for (String[] c : cases) {
                HttpResponse<String> r = server.post(endpoint, request(endpoint, c[0], 1, true).toString());
                assertEquals(400, r.statusCode(), c[0] + ": " + r.body());
                String error = TestServer.json(r.body()).get("error").asText();
                assertTrue(error.startsWith("invalid format") && error.contains(c[1]), c[0] + ": " + error);
            }
        }
    }

    /**
     * A stop string that is a lone surrogate (valid as a JSON escape) is U+FFFD, as Go reads it, so it never matches
     * half of an emoji the model writes. It once did, and the stream never ended.
     */
    @Test
    void aLoneSurrogateStopNeverSplitsACharacter() throws Exception {
        String format = "{\"type\":\"object\",\"properties\":{\"e\":{\"type\":\"string\",\"enum\":"
                + "[\"\\uD83D\\uDE00 end\"]}},\"required\":[\"e\"]}";
        for (String endpoint : List.of("/api/generate", "/api/chat")) {
            for (boolean stream : new boolean[] {true, false}) {
                ObjectNode req = request(endpoint, format, 1, stream);
                String body = req.toString().replace("\"options\":{", "\"options\":{\"stop\":[\"\\ude00\"],");
                HttpResponse<String> r = server.http.send(java.net.http.HttpRequest.newBuilder(
                                server.uri(endpoint)).timeout(java.time.Duration.ofSeconds(30))
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), r.body());
                List<JsonNode> lines = TestServer.ndjson(r.body());
                String field = endpoint.equals("/api/chat") ? "/message/content" : "/response";
                StringBuilder text = new StringBuilder();
                lines.forEach(l -> text.append(l.at(field).asText()));
                assertTrue(lines.getLast().get("done").asBoolean(), r.body());
                assertEquals("{\"e\":\"\uD83D\uDE00 end\"}",
                        TestServer.JSON.readTree(text.toString()).toString(), endpoint + " stream " + stream);
            }
        }
    }
}
