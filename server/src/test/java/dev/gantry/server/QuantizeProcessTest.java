package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code create} with {@code quantize} runs llama.cpp's quantizer in a process of its own: a client that goes away
 * stops it (no process left, no partial blob, no model), and the server carries on.
 */
class QuantizeProcessTest {
    static TestServer server;
    static Path store;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults());
        store = server.gantry.models().registry().folder().orElseThrow();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** This JVM's child JVMs (the server runs in it; its only child processes are quantizers). */
    private static List<ProcessHandle> quantizers() {
        return ProcessHandle.current().descendants()
                .filter(p -> p.info().command().orElse("").endsWith("/java")).toList();
    }

    @Test
    void aClientThatLeavesStopsTheQuantizingProcess() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(server.uri("/api/create")).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"left-q8\",\"from\":\"stories260k\","
                        + "\"quantize\":\"q8_0\"}")).build();
        HttpResponse<InputStream> r = server.http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        boolean sawProcess = false;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null && !line.contains("quantizing")) {
                // the statuses before the quantizing starts
            }
            assertTrue(line != null, "a quantizing status");
            long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (!sawProcess && System.nanoTime() < until) {
                sawProcess = !quantizers().isEmpty();
                Thread.sleep(5);
            }
        } // closes the connection while the quantizing process runs
        assertTrue(sawProcess, "the quantizer ran in a process of its own");
        long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!quantizers().isEmpty() && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        assertEquals(List.of(), quantizers(), "the process was stopped");
        Thread.sleep(200); // the handler's clean-up after the process ended
        assertFalse(Files.exists(store.resolve("manifests/registry.ollama.ai/library/left-q8/latest")), "no model");
        try (Stream<Path> left = Files.list(store.resolve("blobs"))) {
            assertEquals(List.of(), left.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp"))
                    .toList(), "no partial blob");
        }
        // the server carries on, and a create that stays quantizes
        HttpResponse<String> again = server.post("/api/create", "{\"model\":\"kept-q8\",\"from\":\"stories260k\","
                + "\"quantize\":\"q8_0\",\"stream\":false}");
        assertEquals(200, again.statusCode(), again.body());
        assertEquals(200, server.post("/api/generate", "{\"model\":\"kept-q8\",\"prompt\":\"Once\",\"stream\":false,"
                + "\"options\":{\"num_predict\":2}}").statusCode());
    }
}
