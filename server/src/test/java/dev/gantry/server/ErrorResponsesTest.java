package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Bad input gets a 4xx in Ollama's {@code {"error": "..."}} shape, never a 500. */
class ErrorResponsesTest {
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static Stream<Arguments> badRequests() {
        return Stream.of(
                Arguments.of("/api/generate", "{bad json", 400, "invalid JSON"),
                Arguments.of("/api/generate", "", 400, "missing request body"),
                Arguments.of("/api/generate", "[1,2]", 400, "must be a JSON object"),
                Arguments.of("/api/generate", "{\"prompt\":\"x\"}", 400, "model is required"),
                Arguments.of("/api/generate", "{\"model\":42,\"prompt\":\"x\"}", 400, "invalid value for model"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":7}", 400, "invalid value for prompt"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"stream\":\"yes\"}", 400, "stream"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"options\":[]}", 400, "options"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"options\":{\"temperature\":\"hot\"}}", 400, "temperature"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"options\":{\"top_k\":\"many\"}}", 400, "top_k"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"shift\":\"x\"}", 400, "shift"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"options\":{\"stop\":5}}", 400, "stop"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"keep_alive\":\"soon\"}", 400, "keep_alive"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"format\":\"yaml\"}", 400, "invalid format"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"format\":{\"not\":{}}}", 400, "\"not\""),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"options\":{\"num_ctx\":\"big\"}}", 400, "num_ctx"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"images\":[\"aGk=\"]}", 400, "images"),
                Arguments.of("/api/chat", "{\"model\":\"stories260k\",\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"images\":[\"aGk=\"]}]}", 400, "images"),
                // an unknown model is a 404 before its images are looked at, as in Ollama
                Arguments.of("/api/generate", "{\"model\":\"nope\",\"prompt\":\"x\",\"images\":[\"aGk=\"]}", 404, "not found"),
                Arguments.of("/api/chat", "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"images\":[\"aGk=\"]}]}", 404, "not found"),
                // Ollama's generate answers a name that does not parse with 404 "not found"; its chat with 400
                Arguments.of("/api/generate", "{\"model\":\"../../etc/passwd\",\"prompt\":\"x\"}", 404, "not found"),
                Arguments.of("/api/generate", "{\"model\":\"bad name!\",\"prompt\":\"x\"}", 404, "not found"),
                Arguments.of("/api/chat", "{\"model\":\"bad name!\",\"messages\":[]}", 400, "invalid model name"),
                Arguments.of("/api/generate", "{\"model\":\"nope\",\"prompt\":\"x\"}", 404, "model \"nope\" not found, try pulling it first"),
                Arguments.of("/api/chat", "{\"model\":\"stories260k\",\"messages\":\"hi\"}", 400, "messages"),
                Arguments.of("/api/chat", "{\"model\":\"stories260k\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400, "content"),
                Arguments.of("/api/chat", "{\"model\":\"stories260k\",\"messages\":[],\"tools\":[{\"type\":\"function\"}]}", 400, "registry.ollama.ai/library/stories260k:latest does not support tools"),
                Arguments.of("/api/chat", "{\"model\":\"nope\",\"messages\":[]}", 404, "not found"),
                // an unknown model first, as Ollama looks it up before it reads the options
                Arguments.of("/api/generate", "{\"model\":\"nope\",\"prompt\":\"x\",\"options\":{\"temperature\":\"x\"}}", 404, "not found"),
                Arguments.of("/api/chat", "{\"model\":\"nope\",\"messages\":[],\"options\":{\"top_k\":\"x\"}}", 404, "not found"),
                Arguments.of("/api/show", "{}", 400, "model is required"),
                Arguments.of("/api/show", "{\"model\":\"a/b/c/d/e\"}", 400, ""));
    }

    /** What Ollama takes without a check, Gantry takes too (it would only refuse what Ollama refuses). */
    static Stream<Arguments> acceptedAsOllamaAcceptsThem() {
        return Stream.of(
                Arguments.of("/api/chat", "{\"model\":\"stories260k\",\"stream\":false,\"options\":{\"num_predict\":2},"
                        + "\"messages\":[{\"content\":\"hi\"}]}"),
                Arguments.of("/api/chat", "{\"model\":\"stories260k\",\"stream\":false,\"options\":{\"num_predict\":2},"
                        + "\"messages\":[{\"role\":\" \",\"content\":\"hi\"}]}"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"stream\":false,"
                        + "\"options\":{\"num_predict\":2,\"repeat_last_n\":-5,\"num_batch\":0}}"),
                Arguments.of("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\",\"stream\":false,"
                        + "\"options\":{\"num_predict\":1e20,\"stop\":[\"the\"]}}"),
                Arguments.of("/api/embed", "{\"model\":\"stories260k\",\"input\":\"x\",\"dimensions\":-1}"));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("acceptedAsOllamaAcceptsThem")
    void takesWhatOllamaTakes(String path, String body) throws Exception {
        HttpResponse<String> r = server.post(path, body);
        assertEquals(200, r.statusCode(), r.body());
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @MethodSource("badRequests")
    void answersClientMistakesWithA4xxInOllamasShape(String path, String body, int status, String message)
            throws Exception {
        HttpResponse<String> r = server.post(path, body);
        assertEquals(status, r.statusCode(), r.body());
        JsonNode error = TestServer.json(r.body()).get("error");
        assertTrue(error != null && error.isTextual(), r.body());
        assertTrue(error.asText().contains(message), r.body());
    }

    @Test
    void unknownPathIs404AndWrongMethodIs405() throws Exception {
        assertEquals(404, server.get("/api/nothing").statusCode());
        HttpResponse<String> r = server.get("/api/generate");
        assertEquals(405, r.statusCode());
        assertTrue(TestServer.json(r.body()).has("error"));
    }

    @Test
    void anOversizedBodyIs413() throws Exception {
        byte[] big = new byte[65 << 20];
        java.util.Arrays.fill(big, (byte) 'a');
        HttpResponse<String> r = server.http.send(HttpRequest.newBuilder(server.uri("/api/generate"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(big)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(413, r.statusCode());
        assertTrue(TestServer.json(r.body()).has("error"));
    }

    /**
     * A client that goes on sending a body the server refused by its declared length can still read the 413: the
     * server keeps reading (and dropping) what comes after its answer instead of closing on it, which would reset
     * the connection under the client's writes and lose the answer.
     */
    @Test
    void aClientStillSendingARefusedBodyReadsThe413() throws Exception {
        java.net.URI u = server.uri("/api/generate");
        try (java.net.Socket socket = new java.net.Socket(u.getHost(), u.getPort())) {
            socket.setSoTimeout(10_000);
            java.io.OutputStream out = socket.getOutputStream();
            out.write(("POST /api/generate HTTP/1.1\r\nHost: " + u.getHost() + ":" + u.getPort()
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + (1L << 30) + "\r\n\r\n")
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.flush();
            Thread.sleep(200); // the answer is sent, the server's side shut
            byte[] chunk = new byte[1 << 20];
            for (int i = 0; i < 32; i++) { // far more than the socket buffers hold: the server must be reading
                out.write(chunk);
            }
            out.flush();
            socket.shutdownOutput();
            String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(answer.startsWith("HTTP/1.1 413"), answer);
            assertTrue(answer.contains("{\"error\""), answer);
        }
    }

    /** Ollama's words for a raw prompt with a system prompt, a template or an earlier context: they would be lost. */
    @Test
    void rawWithSystemTemplateOrContextIs400() throws Exception {
        for (String extra : java.util.List.of("\"system\":\"Be brief.\"", "\"template\":\"{{ .Prompt }}\"",
                "\"context\":[1,2,3]")) {
            HttpResponse<String> r = server.post("/api/generate",
                    "{\"model\":\"stories260k\",\"prompt\":\"Hi\",\"raw\":true,\"stream\":false," + extra + "}");
            assertEquals(400, r.statusCode(), r.body());
            assertEquals("raw mode does not support template, system, or context",
                    TestServer.json(r.body()).get("error").textValue());
        }
        HttpResponse<String> fine = server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Hi\","
                + "\"raw\":true,\"stream\":false,\"system\":\"\",\"context\":[],\"options\":{\"num_predict\":2}}");
        assertEquals(200, fine.statusCode(), fine.body());
    }

    /** An integer option given as a fraction is cut toward zero, as Ollama's options take it (Go's int64 of it). */
    @Test
    void aFractionalIntegerOptionIsCutTowardZero() throws Exception {
        assertEquals(5, evalCount("{\"model\":\"stories260k\",\"prompt\":\"Once\",\"stream\":false,"
                + "\"options\":{\"num_predict\":5.7,\"ignore_eos\":true,\"top_k\":1.5}}"));
    }

    /** What follows a body's JSON value is ignored, as Go's json.Decoder reads Ollama's requests. */
    @Test
    void dataAfterTheJsonBodyIsIgnored() throws Exception {
        assertEquals(2, evalCount("{\"model\":\"stories260k\",\"prompt\":\"Once\",\"stream\":false,"
                + "\"options\":{\"num_predict\":2}} xyz"));
    }

    /** A generate that must succeed, and how many tokens it generated. */
    private static int evalCount(String body) throws Exception {
        HttpResponse<String> r = server.post("/api/generate", body);
        assertEquals(200, r.statusCode(), r.body());
        return TestServer.json(r.body()).get("eval_count").asInt();
    }
}
