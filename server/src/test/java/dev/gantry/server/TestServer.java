package dev.gantry.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.RuntimeConfig;
import dev.gantry.runtime.engine.llama.LlamaCppEngineFactory;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A real Gantry on a free loopback port, with the real llama.cpp libraries and the built-in tiny model on the CPU,
 * and a real HTTP client.
 */
final class TestServer implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String MODEL = "stories260k";

    final Gantry gantry;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private TestServer(Gantry gantry) {
        this.gantry = gantry;
    }

    static TestServer start(RuntimeConfig runtime) throws Exception {
        return start(runtime, Files.createTempDirectory("gantry-models"));
    }

    /** A server whose models folder is {@code models} (for tests that put their own GGUF files there). */
    static TestServer start(RuntimeConfig runtime, Path models) throws Exception {
        return start(runtime, models, dev.gantry.server.ops.OpsConfig.defaults(), c -> c);
    }

    /** With the drain deadline and the alerts of {@code ops}. */
    static TestServer start(RuntimeConfig runtime, dev.gantry.server.ops.OpsConfig ops) throws Exception {
        return start(runtime, Files.createTempDirectory("gantry-models"), ops, c -> c);
    }

    /** With the configuration changed by {@code adjust} (edge settings, body limits, ...). */
    static TestServer start(RuntimeConfig runtime, java.util.function.UnaryOperator<ServerConfig> adjust)
            throws Exception {
        return start(runtime, Files.createTempDirectory("gantry-models"), dev.gantry.server.ops.OpsConfig.defaults(),
                adjust);
    }

    static TestServer start(RuntimeConfig runtime, Path models, dev.gantry.server.ops.OpsConfig ops,
                            java.util.function.UnaryOperator<ServerConfig> adjust)
            throws Exception {
        Path cache = Path.of("target", "gantry-cache").toAbsolutePath();
        LlamaCppEngineFactory engines = LlamaCppEngineFactory.initialize(
                Optional.ofNullable(System.getenv("GANTRY_LLAMA_LIB")).map(Path::of), cache);
        ServerConfig config = ServerConfig.fromEnv(Map.of("GANTRY_CACHE_DIR", cache.toString(), "HOME",
                        System.getProperty("user.home")), List.of())
                .withPort(0).withModelsDir(models).withRuntime(runtime);
        config = adjust.apply(config);
        return new TestServer(Gantry.start(config, engines, dev.gantry.runtime.ReplicaPlanner.llamaDefault(), ops));
    }

    static RuntimeConfig defaults() {
        return RuntimeConfig.defaults().withKeepAlive(Duration.ofMinutes(10));
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + gantry.port() + path);
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * A streamed {@code /api/generate} of {@code body} over a plain socket, read until {@code lines} lines with text
     * came (the test fails otherwise); the caller reads on, stops reading, or closes it as a client that leaves.
     */
    java.net.Socket generateStream(String body, int lines) throws IOException {
        java.net.Socket s = new java.net.Socket("127.0.0.1", gantry.port());
        byte[] bytes = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.io.OutputStream out = s.getOutputStream();
        out.write(("POST /api/generate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        out.write(bytes);
        out.flush();
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                java.nio.charset.StandardCharsets.UTF_8));
        int seen = 0;
        for (String line; seen < lines && (line = in.readLine()) != null; ) {
            if (line.contains("\"response\"")) {
                seen++;
            }
        }
        org.junit.jupiter.api.Assertions.assertEquals(lines, seen, "the stream's first lines");
        return s;
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The body of a 200 answer as JSON (the body in the failure message otherwise). */
    static JsonNode ok(HttpResponse<String> r) throws IOException {
        org.junit.jupiter.api.Assertions.assertEquals(200, r.statusCode(), r.body());
        return json(r.body());
    }

    static JsonNode json(String body) throws IOException {
        return JSON.readTree(body);
    }

    static List<JsonNode> ndjson(String body) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : body.split("\n")) {
            if (!line.isBlank()) {
                out.add(JSON.readTree(line));
            }
        }
        return out;
    }

    LoadedModel model() {
        return gantry.models().loadedModel(MODEL + ":latest").orElseThrow();
    }

    /**
     * Stops the model's runner until the returned hold closes: a one-token generation blocks the runner thread in
     * its token callback. Requests sent meanwhile queue up and start together at the next step, whatever the
     * scheduling of the threads that send them. Its one token and its step count in the runner's counters.
     */
    Hold holdRunner() throws InterruptedException {
        LoadedModel m = model();
        java.util.concurrent.CountDownLatch holding = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        var request = new dev.gantry.runtime.runner.GenerationRequest(m.tokenize("Hold", true, true),
                dev.gantry.runtime.engine.SamplingParams.greedyDefaults(), 1);
        m.generate(request, new dev.gantry.runtime.runner.GenerationObserver() {
            @Override
            public void onToken(int token) {
                holding.countDown();
                try {
                    release.await(120, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }

            @Override
            public void onFinish(dev.gantry.runtime.runner.FinishReason reason,
                                 dev.gantry.runtime.runner.GenerationMetrics metrics) {
                holding.countDown();
            }

            @Override
            public void onError(Throwable error) {
                holding.countDown();
            }
        });
        if (!holding.await(60, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new IllegalStateException("the runner never reached the hold");
        }
        return new Hold(m, release);
    }

    /** See {@link #holdRunner()}. */
    record Hold(LoadedModel model, java.util.concurrent.CountDownLatch release) implements AutoCloseable {
        /** Waits until {@code n} requests wait behind the hold (they are counted as soon as they are submitted). */
        void awaitWaiting(int n) throws InterruptedException {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
            while (model.stats().waiting() < n) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("only " + model.stats().waiting() + " of " + n + " requests came");
                }
                Thread.sleep(5);
            }
        }

        @Override
        public void close() {
            release.countDown();
        }
    }

    @Override
    public void close() {
        gantry.close();
    }
}
