package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Pulls and pushes against a registry that asks for a token, as public registries built on Docker's token
 * authentication do (401 with a Bearer challenge, an anonymous token from its realm), and that redirects blob
 * downloads to another host, which must not see the token. A token service that wants a login ends the operation
 * with a clear error.
 */
class RegistryTokenTest {
    static TestServer server;
    static TestRegistry registry;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults());
        registry = new TestRegistry();
        registry.token = "t0k3n-abc";
        registry.redirectBlobs = true;
    }

    @AfterAll
    static void stop() {
        registry.close();
        server.close();
    }

    @Test
    void aPullTakesTheAnonymousTokenAndKeepsItOffTheRedirectedDownloads() throws Exception {
        byte[] gguf = Files.readAllBytes(Path.of("target", "gantry-cache", "models", "stories260K.gguf"));
        byte[] template = "{{ .Prompt }} (tokened)".getBytes(StandardCharsets.UTF_8);
        byte[] config = "{\"model_format\":\"gguf\",\"model_family\":\"llama\"}".getBytes(StandardCharsets.UTF_8);
        registry.manifest("library", "tokened", "latest",
                new String[] {"application/vnd.docker.container.image.v1+json", registry.blob(config),
                        String.valueOf(config.length)},
                new String[] {"application/vnd.ollama.image.model", registry.blob(gguf), String.valueOf(gguf.length)},
                new String[] {"application/vnd.ollama.image.template", registry.blob(template),
                        String.valueOf(template.length)});
        String name = registry.host() + "/library/tokened";
        HttpResponse<String> r = server.post("/api/pull", "{\"model\":\"" + name + "\",\"insecure\":true,"
                + "\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("success", TestServer.json(r.body()).get("status").asText());
        assertTrue(registry.tokenRequests.contains("service=test-registry&scope=repository:library/tokened:pull"),
                registry.tokenRequests.toString());
        assertFalse(registry.cdnAuthorizations.isEmpty(), "the blobs came from the other host");
        assertTrue(registry.cdnAuthorizations.stream().allMatch("none"::equals), registry.cdnAuthorizations.toString());
        JsonNode g = TestServer.json(server.post("/api/generate", "{\"model\":\"" + name + "\",\"prompt\":\"Once\","
                + "\"stream\":false,\"options\":{\"num_predict\":2}}").body());
        assertEquals(2, g.get("eval_count").asInt(), g.toString());
    }

    @Test
    void aPushTakesATokenForPushingAndALoginIsAClearError() throws Exception {
        String name = registry.host() + "/library/pushed-with-token:v1";
        assertEquals(200, server.post("/api/create", "{\"model\":\"" + name + "\",\"from\":\"stories260k\","
                + "\"system\":\"Tokened.\",\"stream\":false}").statusCode());
        HttpResponse<String> r = server.post("/api/push", "{\"model\":\"" + name + "\",\"insecure\":true,"
                + "\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(registry.tokenRequests.stream().anyMatch(q -> q.endsWith(":pull,push")),
                registry.tokenRequests.toString());
        assertTrue(registry.manifestAt("library", "pushed-with-token", "v1") != null, "the manifest went up");

        registry.tokenNeedsLogin = true;
        try {
            String other = registry.host() + "/library/pushed-with-token:v2";
            assertEquals(200, server.post("/api/create", "{\"model\":\"" + other + "\",\"from\":\"" + name + "\","
                    + "\"system\":\"Other.\",\"stream\":false}").statusCode());
            HttpResponse<String> refused = server.post("/api/push", "{\"model\":\"" + other + "\",\"insecure\":true,"
                    + "\"stream\":false}");
            assertEquals(500, refused.statusCode(), refused.body());
            assertTrue(TestServer.json(refused.body()).get("error").asText().contains("wants a login"),
                    refused.body());
        } finally {
            registry.tokenNeedsLogin = false;
        }
    }
}
