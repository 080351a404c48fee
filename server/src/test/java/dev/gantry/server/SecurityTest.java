package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.server.http.BodyLimits;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The edge of a real server on loopback, through real clients: the DNS-rebinding Host guard, CORS, the bearer
 * token and per-path body limits, each answered in Ollama's error shape.
 */
class SecurityTest {
    static final String KEY = "test-key-0123456789";
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults(), c -> c.withEdge(c.edge().withApiKey(KEY)
                .withOrigins(List.of("https://*.example.com"))
                .withBodyLimits(new BodyLimits(BodyLimits.DEFAULT_BYTES, Map.of("/api/show", 2048L)))));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** A raw HTTP/1.1 exchange, so the Host header can be anything (java.net.http will not send a foreign one). */
    static Raw raw(String method, String path, String host, Map<String, String> headers, String body) throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.gantry.port())) {
            s.setSoTimeout(30_000);
            StringBuilder req = new StringBuilder(method + " " + path + " HTTP/1.1\r\n");
            if (host != null) {
                req.append("Host: ").append(host).append("\r\n");
            }
            headers.forEach((k, v) -> req.append(k).append(": ").append(v).append("\r\n"));
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            req.append("Content-Length: ").append(b.length).append("\r\nConnection: close\r\n\r\n");
            OutputStream out = s.getOutputStream();
            out.write(req.toString().getBytes(StandardCharsets.UTF_8));
            out.write(b);
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            String status = in.readLine();
            StringBuilder head = new StringBuilder();
            for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
                head.append(line.toLowerCase(java.util.Locale.ROOT)).append('\n');
            }
            StringBuilder rest = new StringBuilder();
            for (String line; (line = in.readLine()) != null; ) {
                rest.append(line).append('\n');
            }
            return new Raw(Integer.parseInt(status.split(" ")[1]), head.toString(), rest.toString());
        }
    }

    record Raw(int status, String headers, String body) {}

    static final Map<String, String> AUTH = Map.of("Authorization", "Bearer " + KEY);

    @Test
    void aForeignHostIsRefusedWhileOnLoopback() throws Exception {
        Raw r = raw("GET", "/api/tags", "evil.example:11434", AUTH, "");
        assertEquals(403, r.status(), r.body());
        assertTrue(r.body().contains("\"error\""), r.body());
        Raw rebinding = raw("POST", "/api/generate", "attacker.test", AUTH, "{\"model\":\"stories260k\"}");
        assertEquals(403, rebinding.status());
        for (String local : List.of("localhost:11434", "127.0.0.1", "[::1]:11434", "app.localhost")) {
            assertEquals(200, raw("GET", "/api/version", local, AUTH, "").status(), local);
        }
    }

    @Test
    void theTokenIsRequiredButNotOnProbes() throws Exception {
        HttpResponse<String> none = server.get("/api/tags");
        assertEquals(401, none.statusCode());
        assertEquals("unauthorized", TestServer.json(none.body()).get("error").asText());
        assertEquals("Bearer", none.headers().firstValue("WWW-Authenticate").orElse(""));
        HttpResponse<String> wrong = send(HttpRequest.newBuilder(server.uri("/api/tags"))
                .header("Authorization", "Bearer " + KEY + "x").GET());
        assertEquals(401, wrong.statusCode());
        HttpResponse<String> withBody = send(HttpRequest.newBuilder(server.uri("/api/generate"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"stories260k\",\"prompt\":\"hi\"}")));
        assertEquals(401, withBody.statusCode(), "refused after its body is skipped, on a connection still usable");
        HttpResponse<String> waiting = send(HttpRequest.newBuilder(server.uri("/api/generate")).expectContinue(true)
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"stories260k\",\"prompt\":\"hi\"}")));
        assertEquals(401, waiting.statusCode(), "refused before the body a client holds back for 100 Continue");
        assertEquals(200, send(authed("/api/tags").GET()).statusCode());
        assertEquals(200, server.get("/ready").statusCode());
    }

    /** Refusals made before the router (the token, the host, the origin, the body's size) in the path's API shape. */
    @Test
    void openAisPathsAreRefusedInOpenAisShape() throws Exception {
        for (String path : List.of("/v1/models", "/v1/chat/completions", "/rerank")) {
            HttpResponse<String> none = server.get(path);
            assertEquals(401, none.statusCode());
            JsonNode e = TestServer.json(none.body()).get("error");
            assertEquals("unauthorized", e.path("message").asText(), none.body());
            assertEquals("invalid_api_key", e.path("code").asText(), none.body());
        }
        Raw host = raw("GET", "/v1/models", "evil.example:11434", AUTH, "");
        assertEquals(403, host.status(), host.body());
        assertTrue(TestServer.json(host.body()).at("/error/message").asText().contains("not allowed"), host.body());
        HttpResponse<String> origin = send(authed("/v1/models").header("Origin", "https://evil.test").GET());
        assertEquals(403, origin.statusCode());
        assertTrue(TestServer.json(origin.body()).at("/error/message").asText().contains("OLLAMA_ORIGINS"));
        Raw badName = raw("GET", "/v1/models/%ZZ", "localhost", AUTH, ""); // no URI class would send it
        assertEquals(400, badName.status(), badName.body());
        assertTrue(TestServer.json(badName.body()).at("/error/message").asText().contains("percent-encoding"),
                badName.body());
        HttpResponse<String> ollama = server.get("/api/tags");
        assertEquals("unauthorized", TestServer.json(ollama.body()).get("error").asText(), "Ollama's own, as before");
    }

    @Test
    void browserOriginsFollowOllamasRules() throws Exception {
        HttpResponse<String> local = send(authed("/api/version").header("Origin", "http://localhost:5173").GET());
        assertEquals(200, local.statusCode());
        assertEquals("http://localhost:5173", local.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
        HttpResponse<String> configured = send(authed("/api/version").header("Origin", "https://app.example.com").GET());
        assertEquals("https://app.example.com",
                configured.headers().firstValue("Access-Control-Allow-Origin").orElse(""));
        HttpResponse<String> foreign = send(authed("/api/version").header("Origin", "https://evil.test").GET());
        assertEquals(403, foreign.statusCode());
        assertTrue(TestServer.json(foreign.body()).get("error").asText().contains("OLLAMA_ORIGINS"));
        HttpResponse<String> plain = send(authed("/api/version").GET());
        assertFalse(plain.headers().firstValue("Access-Control-Allow-Origin").isPresent());
    }

    @Test
    void preflightIsAnsweredWithoutAToken() throws Exception {
        Raw r = raw("OPTIONS", "/api/chat", "localhost:11434", Map.of("Origin", "http://localhost:3000",
                "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type"), "");
        assertEquals(204, r.status());
        assertTrue(r.headers().contains("access-control-allow-origin: http://localhost:3000"), r.headers());
        assertTrue(r.headers().contains("access-control-allow-methods:") && r.headers().contains("post"), r.headers());
        assertTrue(r.headers().contains("access-control-allow-headers:") && r.headers().contains("authorization"));
        assertTrue(r.headers().contains("openai-beta"), "the OpenAI client's header, as Ollama allows it: "
                + r.headers());
        assertEquals(403, raw("OPTIONS", "/api/chat", "localhost", Map.of("Origin", "http://evil.test",
                "Access-Control-Request-Method", "POST"), "").status());
    }

    @Test
    void bodyLimitsArePerPath() throws Exception {
        String big = "{\"model\":\"stories260k\",\"x\":\"" + "a".repeat(3000) + "\"}";
        HttpResponse<String> show = send(authed("/api/show").POST(HttpRequest.BodyPublishers.ofString(big)));
        assertEquals(413, show.statusCode());
        assertTrue(TestServer.json(show.body()).get("error").asText().contains("2048"), show.body());
        HttpResponse<String> gen = send(authed("/api/generate").POST(HttpRequest.BodyPublishers.ofString(
                "{\"model\":\"stories260k\",\"prompt\":\"" + "a ".repeat(1500) + "\",\"stream\":false,"
                        + "\"options\":{\"num_predict\":2}}")));
        assertEquals(200, gen.statusCode(), gen.body());
    }

    private static HttpRequest.Builder authed(String path) {
        return HttpRequest.newBuilder(server.uri(path)).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + KEY);
    }

    private static HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return server.http.send(b.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
