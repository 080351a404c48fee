package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What a request holds on its model while the model loads, and what it lets go. A load is kept in flight by holding
 * the runner of the copy it replaces: the new copy (another context length) loads once the old one is idle.
 */
class LeaseLifecycleTest {
    private static final String SMALL_CONTEXT = "{\"model\":\"stories260k\",\"options\":{\"num_ctx\":256}}";

    /**
     * An OpenAI client that leaves while its model loads holds nothing once the load is done: a {@code keep_alive: 0}
     * then unloads the model. The lease it took after leaving was once added to its adapted exchange, which was never
     * marked done, and held the model for good (reloads and unloads hung behind it).
     */
    @Test
    void anOpenAiClientThatLeavesDuringTheLoadHoldsNothing() throws Exception {
        try (TestServer server = TestServer.start(TestServer.defaults().withNumParallel(2))) {
            assertEquals(200, server.post("/api/generate", SMALL_CONTEXT).statusCode());
            try (TestServer.Hold hold = server.holdRunner()) {
                for (String path : List.of("/v1/chat/completions", "/v1/completions")) {
                    String body = path.contains("chat")
                            ? "{\"model\":\"stories260k\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                                    + "\"stream\":true,\"max_tokens\":4}"
                            : "{\"model\":\"stories260k\",\"prompt\":\"Hi\",\"max_tokens\":4}";
                    try (Socket s = new Socket("127.0.0.1", server.gantry.port())) {
                        OutputStream out = s.getOutputStream();
                        out.write(("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
                                + "\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n"
                                + body).getBytes(StandardCharsets.UTF_8));
                        out.flush();
                        Thread.sleep(300); // the request waits for the reload, which waits for the held runner
                    }
                }
                Thread.sleep(300); // the server sees both connections close before the load can finish
            }
            // the new copy loads now; its requests are gone, so it is idle and a keep_alive 0 unloads it
            assertEquals(200, server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Hi\","
                    + "\"keep_alive\":0,\"options\":{\"num_predict\":2}}").statusCode());
            awaitUnloaded(server);
        }
    }

    /**
     * {@code keep_alive: 0} that comes while the model loads for earlier requests: those are served, then the model
     * unloads, as in Ollama where the last request's keep-alive counts. It was once answered and ignored.
     */
    @Test
    void keepAliveZeroDuringTheLoadUnloadsAfterTheEarlierRequests() throws Exception {
        try (TestServer server = TestServer.start(TestServer.defaults().withNumParallel(2))) {
            assertEquals(200, server.post("/api/generate", SMALL_CONTEXT).statusCode());
            List<CompletableFuture<HttpResponse<String>>> streams = new ArrayList<>();
            try (TestServer.Hold hold = server.holdRunner()) {
                for (int i = 0; i < 2; i++) {
                    streams.add(OverloadTest.send(server, "/api/generate", "{\"model\":\"stories260k\","
                            + "\"prompt\":\"Once upon a time\",\"options\":{\"num_predict\":20}}"));
                }
                Thread.sleep(300); // both wait for the reload
                HttpResponse<String> unload = server.post("/api/generate",
                        "{\"model\":\"stories260k\",\"keep_alive\":0}");
                assertEquals(200, unload.statusCode(), unload.body());
                assertEquals("unload", TestServer.json(unload.body()).get("done_reason").textValue());
            }
            for (CompletableFuture<HttpResponse<String>> f : streams) {
                HttpResponse<String> r = f.get(60, TimeUnit.SECONDS);
                assertEquals(200, r.statusCode(), r.body());
                JsonNode last = TestServer.ndjson(r.body()).getLast();
                assertTrue(last.get("done").asBoolean(), r.body());
            }
            awaitUnloaded(server);
        }
    }

    private static void awaitUnloaded(TestServer server) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        String ps = "";
        while (System.nanoTime() < deadline) {
            ps = server.get("/api/ps").body();
            if (TestServer.json(ps).get("models").isEmpty()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("still loaded: " + ps);
    }

    /**
     * /api/ps lists a copy replaced by a reload while it finishes its requests (it was missing), and not a model
     * whose load waits for room under OLLAMA_MAX_LOADED_MODELS: that is a queued request, as in Ollama's scheduler.
     */
    @Test
    void psListsACopyBeingReplacedAndAModelStillLoading() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("gantry-models");
        java.nio.file.Files.copy(java.nio.file.Path.of("target", "gantry-cache", "models", "stories260K.gguf"),
                dir.resolve("other.gguf"));
        try (TestServer server = TestServer.start(TestServer.defaults().withNumParallel(2).withMaxLoadedModels(1),
                dir)) {
            assertEquals(200, server.post("/api/generate", SMALL_CONTEXT).statusCode());
            try (TestServer.Hold hold = server.holdRunner()) {
                // a reload for another context waits for the held copy: that copy is still listed
                CompletableFuture<HttpResponse<String>> reload = OverloadTest.send(server, "/api/generate",
                        "{\"model\":\"stories260k\",\"prompt\":\"Hi\",\"stream\":false,"
                                + "\"options\":{\"num_predict\":2}}");
                Thread.sleep(300);
                JsonNode ps = TestServer.json(server.get("/api/ps").body()).get("models");
                assertEquals(1, ps.size(), ps.toString());
                assertEquals("stories260k:latest", ps.get(0).get("name").textValue());
                assertEquals(256, ps.get(0).get("context_length").asInt(), "the copy being replaced");
                hold.close();
                assertEquals(200, reload.get(60, TimeUnit.SECONDS).statusCode());
            }
            try (TestServer.Hold hold = server.holdRunner()) {
                // one model at most: the other waits to load until this one is idle, and is not listed meanwhile
                CompletableFuture<HttpResponse<String>> other = OverloadTest.send(server, "/api/generate",
                        "{\"model\":\"other\",\"prompt\":\"Hi\",\"stream\":false,\"options\":{\"num_predict\":2}}");
                Thread.sleep(300);
                JsonNode ps = TestServer.json(server.get("/api/ps").body()).get("models");
                assertEquals(1, ps.size(), ps.toString());
                assertEquals("stories260k:latest", ps.get(0).get("name").textValue());
                hold.close();
                assertEquals(200, other.get(60, TimeUnit.SECONDS).statusCode());
                ps = TestServer.json(server.get("/api/ps").body()).get("models");
                assertEquals("other:latest", ps.get(0).get("name").textValue(), ps.toString());
            }
        }
    }
}
