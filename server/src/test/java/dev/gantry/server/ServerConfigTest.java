package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import dev.gantry.runtime.RuntimeConfig;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Configuration from a map of variables and the command line, never the real environment. */
class ServerConfigTest {
    static final Map<String, String> HOME = Map.of("HOME", "/home/u");

    @Test
    void defaultsAreOllamas() {
        ServerConfig c = ServerConfig.fromEnv(HOME, List.of());
        assertEquals("127.0.0.1", c.host());
        assertEquals(11434, c.port());
        assertEquals(Path.of("/home/u/.ollama/models"), c.modelsDir().orElseThrow());
        assertEquals(512, c.runtime().maxQueue());
        assertEquals(Duration.ofMinutes(5), c.runtime().keepAlive());
        assertTrue(c.gpus().isAll());
        assertEquals(0.85, c.gpuMemoryFraction());
    }

    /**
     * As Ollama reads its variables: values lose surrounding quotes (docker-compose lists keep them), and an
     * OLLAMA_* value that does not parse leaves the default instead of stopping the server.
     */
    @Test
    void quotedAndInvalidOllamaVariablesAreReadAsOllamaReadsThem() {
        ServerConfig quoted = ServerConfig.fromEnv(Map.of("HOME", "/home/u", "OLLAMA_KEEP_ALIVE", "\"10m\"",
                "OLLAMA_MAX_LOADED_MODELS", "'2'", "OLLAMA_NUM_PARALLEL", " \"3\" "), List.of());
        assertEquals(Duration.ofMinutes(10), quoted.runtime().keepAlive());
        assertEquals(2, quoted.runtime().maxLoadedModels());
        assertEquals(3, quoted.runtime().numParallel());
        assertTrue(ServerConfig.fromEnv(Map.of("HOME", "/h", "OLLAMA_KEEP_ALIVE", "'-1'"), List.of())
                .runtime().keepAlive().isNegative(), "'-1' is forever");
        ServerConfig invalid = ServerConfig.fromEnv(Map.of("HOME", "/home/u", "OLLAMA_KEEP_ALIVE", "abc",
                "OLLAMA_MAX_LOADED_MODELS", "many"), List.of());
        assertEquals(Duration.ofMinutes(5), invalid.runtime().keepAlive());
        assertEquals(0, invalid.runtime().maxLoadedModels(), "the default (0: Gantry's own choice)");
        ServerConfig negative = ServerConfig.fromEnv(Map.of("HOME", "/h", "OLLAMA_NUM_PARALLEL", "-1",
                "OLLAMA_MAX_QUEUE", "-5"), List.of());
        assertEquals(RuntimeConfig.defaults().numParallel(), negative.runtime().numParallel(),
                "a negative count is warned about and the default used, as Ollama does (it stopped the server)");
        assertEquals(RuntimeConfig.defaults().maxQueue(), negative.runtime().maxQueue());
        assertThrows(IllegalArgumentException.class,
                () -> ServerConfig.fromEnv(Map.of("HOME", "/h", "GANTRY_THREADS", "x"), List.of()),
                "Gantry's own variables stay strict");
    }

    @Test
    void readsOllamasVariables() {
        ServerConfig c = ServerConfig.fromEnv(Map.of("OLLAMA_HOST", "http://0.0.0.0:8080", "OLLAMA_MODELS", "/m",
                "OLLAMA_NUM_PARALLEL", "8", "OLLAMA_MAX_QUEUE", "16", "OLLAMA_CONTEXT_LENGTH", "2048",
                "OLLAMA_KEEP_ALIVE", "1h", "GANTRY_KV_UNIFIED", "1", "GANTRY_API_KEY", "k"), List.of());
        assertEquals("0.0.0.0", c.host());
        assertEquals(8080, c.port());
        assertEquals(Path.of("/m"), c.modelsDir().orElseThrow());
        assertEquals(8, c.runtime().numParallel());
        assertEquals(16, c.runtime().maxQueue());
        assertEquals(2048, c.runtime().contextLength());
        assertEquals(Duration.ofHours(1), c.runtime().keepAlive());
        assertTrue(c.runtime().kvUnified());
        assertEquals(11434, ServerConfig.fromEnv(Map.of("OLLAMA_HOST", "example.local"), List.of("--insecure-no-auth"))
                .port());
    }

    @Test
    void theCommandLineWins() {
        ServerConfig c = ServerConfig.fromEnv(Map.of("OLLAMA_HOST", "0.0.0.0:1"),
                List.of("serve", "--port", "9000", "--host", "::1", "--gpus", "0,1:2,3", "--num-parallel", "4"));
        assertEquals(9000, c.port());
        assertEquals("::1", c.host());
        assertEquals(List.of(List.of(0, 1), List.of(2, 3)), c.gpus().groups());
        assertTrue(c.gpus().grouped());
        assertEquals(4, c.runtime().numParallel());
    }

    @Test
    void placementSettings() {
        ServerConfig c = ServerConfig.fromEnv(Map.of("GANTRY_PLACEMENT", "split=layer", "GANTRY_GPU_MEMORY_FRACTION",
                "0.4", "GANTRY_GPUS", "0,1,2,3"), List.of());
        assertEquals("split=layer", c.placement().toString().toLowerCase(java.util.Locale.ROOT).replace(" ", ""));
        assertEquals(0.4, c.gpuMemoryFraction());
        assertEquals(java.util.Set.of(0, 1, 2, 3), c.gpus().gpus());
        assertThrows(IllegalArgumentException.class,
                () -> ServerConfig.fromEnv(Map.of("GANTRY_GPU_MEMORY_FRACTION", "1.5"), List.of()));
        assertThrows(IllegalArgumentException.class, () -> ServerConfig.fromEnv(HOME, List.of("--gpus", "0,x")));
        assertThrows(IllegalArgumentException.class, () -> ServerConfig.fromEnv(HOME, List.of("--placement", "magic")));
    }

    @Test
    void badValuesSayWhatIsWrong() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ServerConfig.fromEnv(Map.of("GANTRY_KV_CELLS", "many"), List.of()));
        assertTrue(e.getMessage().contains("GANTRY_KV_CELLS"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ServerConfig.fromEnv(HOME, List.of("--port")));
        assertThrows(IllegalArgumentException.class, () -> ServerConfig.fromEnv(HOME, List.of("--bogus", "1")));
    }

    @Test
    void aNonLoopbackAddressNeedsAKeyOrAnExplicitOptOut() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ServerConfig.fromEnv(Map.of("OLLAMA_HOST", "0.0.0.0"), List.of()));
        assertTrue(e.getMessage().contains("GANTRY_API_KEY") && e.getMessage().contains("--insecure-no-auth"),
                e.getMessage());
        assertTrue(ServerConfig.fromEnv(Map.of("OLLAMA_HOST", "0.0.0.0"), List.of("--insecure-no-auth")).edge()
                .insecureNoAuth());
        assertEquals("secret", ServerConfig.fromEnv(Map.of("OLLAMA_HOST", "0.0.0.0", "GANTRY_API_KEY", " secret "),
                List.of()).edge().apiKey().orElseThrow());
        for (String loopback : List.of("127.0.0.1", "localhost", "::1", "127.0.0.2")) {
            assertTrue(ServerConfig.fromEnv(HOME, List.of("--host", loopback)).edge().apiKey().isEmpty(), loopback);
        }
    }

    @Test
    void edgeSettings() {
        ServerConfig c = ServerConfig.fromEnv(Map.of("OLLAMA_ORIGINS", "https://a.example, chrome-extension://*",
                "GANTRY_BODY_LIMITS", "default=1m,/api/show=4k", "GANTRY_AGENT_PORT", "9100"), List.of());
        assertEquals(List.of("https://a.example", "chrome-extension://*"), c.edge().origins());
        assertEquals(1 << 20, c.maxBodyBytes());
        assertEquals(4096, c.edge().bodyLimits().limitFor("/api/show"));
        assertEquals(1L << 40, c.edge().bodyLimits().limitFor("/api/blobs/sha256:00"));
        assertEquals(1 << 20, c.edge().bodyLimits().limitFor("/api/chat"));
        assertEquals(9100, c.edge().agentPort());
        assertEquals(9200, ServerConfig.fromEnv(HOME, List.of("--agent-port", "9200")).edge().agentPort());
        assertEquals(-1, ServerConfig.fromEnv(HOME, List.of()).edge().agentPort());
        assertEquals(64 << 20, ServerConfig.fromEnv(HOME, List.of()).maxBodyBytes());
        assertThrows(IllegalArgumentException.class,
                () -> ServerConfig.fromEnv(Map.of("GANTRY_BODY_LIMITS", "/api/show=lots"), List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> ServerConfig.fromEnv(Map.of("GANTRY_AGENT_PORT", "x"), List.of()));
    }
}
