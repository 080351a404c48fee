package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * SIGTERM to a real server process ({@link Main} in a child JVM, as {@code java -jar runtime.jar} runs it): it stops
 * taking requests (503 with {@code Retry-After}), lets the stream in flight finish, and exits 0; past
 * {@code GANTRY_DRAIN_SECONDS} it ends the stream with an in-band error and still exits 0.
 */
class SigtermDrainTest {
    private static final Pattern LISTENING = Pattern.compile("listening on [^ ]+:(\\d+)\\s*$");
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private Process process;

    @AfterEach
    void stop() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
        }
    }

    @Test
    void drainsTheStreamInFlightThenExitsZero() throws Exception {
        int port = start("30");
        try (SlowStream held = SlowStream.open(port, "/api/generate", SlowStream.LONG_GENERATION)) {
            process.toHandle().destroy(); // SIGTERM
            HealthAndReadinessTest.waitFor(() -> get(port, "/health").statusCode() == 503);
            HttpResponse<String> refused = post(port, "{\"model\":\"stories260k\",\"prompt\":\"Hi\"}");
            assertEquals(503, refused.statusCode(), refused.body());
            assertTrue(refused.headers().firstValue("Retry-After").isPresent(), refused.headers().toString());
            assertTrue(process.isAlive(), "waits for the stream in flight");

            List<String> lines = held.finish();
            JsonNode last = TestServer.json(lines.getLast());
            assertTrue(last.get("done").asBoolean(), lines.getLast());
            assertEquals("length", last.get("done_reason").asText());
        }
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "exits once drained");
        assertEquals(0, process.exitValue(), log());
    }

    @Test
    void endsWhatIsStillRunningAtTheDeadlineWithAnInBandError() throws Exception {
        int port = start("0");
        try (SlowStream held = SlowStream.open(port, "/api/generate", SlowStream.LONG_GENERATION);
             SlowStream openAi = SlowStream.open(port, "/v1/chat/completions", "{\"model\":\"stories260k\","
                     + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true,"
                     + "\"max_tokens\":100000}")) {
            process.toHandle().destroy(); // SIGTERM: the deadline is now
            List<String> lines = held.finish();
            JsonNode last = TestServer.json(lines.getLast());
            assertTrue(last.has("error"), lines.getLast());
            assertTrue(last.get("error").asText().contains("shutting down"), lines.getLast());
            assertTrue(lines.size() > 1, "the stream had started");
            // an OpenAI stream ends with an event in OpenAI's error shape, not a bare Ollama line
            List<String> events = openAi.finish();
            String end = events.getLast();
            assertTrue(end.startsWith("data: {"), end);
            JsonNode error = TestServer.json(end.substring("data: ".length())).get("error");
            assertTrue(error.isObject() && error.get("message").asText().contains("shutting down"), end);
        }
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "exits after the deadline");
        assertEquals(0, process.exitValue(), log());
    }

    /** Starts Gantry in a child JVM on a free port; returns the port once it listens. */
    private int start(String drainSeconds) throws Exception {
        Path cache = Path.of("target", "gantry-cache").toAbsolutePath();
        Path models = Files.createTempDirectory("gantry-models");
        Path log = Files.createTempFile("gantry-sigterm", ".log");
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "--port", "0")
                .redirectError(log.toFile());
        Map<String, String> env = pb.environment();
        env.put("GANTRY_CACHE_DIR", cache.toString());
        env.put("OLLAMA_MODELS", models.toString());
        env.put("OLLAMA_HOST", "127.0.0.1");
        env.put("GANTRY_DRAIN_SECONDS", drainSeconds);
        this.logFile = log;
        process = pb.start();
        CompletableFuture<Integer> port = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) {
                    stdout.add(line);
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        port.complete(Integer.parseInt(m.group(1)));
                    }
                }
                port.completeExceptionally(new IllegalStateException("the server exited: " + log()));
            } catch (IOException e) {
                port.completeExceptionally(e);
            }
        });
        int p = port.get(120, TimeUnit.SECONDS);
        HttpResponse<String> load = post(p, "{\"model\":\"stories260k\"}");
        assertEquals(200, load.statusCode(), load.body());
        return p;
    }

    private Path logFile;
    private final List<String> stdout = java.util.Collections.synchronizedList(new ArrayList<>());

    private String log() {
        try {
            return "stdout: " + stdout + "\nstderr:\n" + Files.readString(logFile);
        } catch (IOException e) {
            return e.toString();
        }
    }

    private HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(int port, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/generate"))
                .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
