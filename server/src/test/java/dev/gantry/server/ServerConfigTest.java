package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
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

    @Test
    void readsOllamasVariables() {
        ServerConfig c = ServerConfig.fromEnv(Map.of("OLLAMA_HOST", "http://0.0.0.0:8080", "OLLAMA_MODELS", "/m",
                "OLLAMA_NUM_PARALLEL", "8", "OLLAMA_MAX_QUEUE", "16", "OLLAMA_CONTEXT_LENGTH", "2048",
                "OLLAMA_KEEP_ALIVE", "1h", "GANTRY_KV_UNIFIED", "1"), List.of());
        assertEquals("0.0.0.0", c.host());
        assertEquals(8080, c.port());
        assertEquals(Path.of("/m"), c.modelsDir().orElseThrow());
        assertEquals(8, c.runtime().numParallel());
        assertEquals(16, c.runtime().maxQueue());
        assertEquals(2048, c.runtime().contextLength());
        assertEquals(Duration.ofHours(1), c.runtime().keepAlive());
        assertTrue(c.runtime().kvUnified());
        assertEquals(11434, ServerConfig.fromEnv(Map.of("OLLAMA_HOST", "example.local"), List.of()).port());
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
                () -> ServerConfig.fromEnv(Map.of("OLLAMA_NUM_PARALLEL", "many"), List.of()));
        assertTrue(e.getMessage().contains("OLLAMA_NUM_PARALLEL"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ServerConfig.fromEnv(HOME, List.of("--port")));
        assertThrows(IllegalArgumentException.class, () -> ServerConfig.fromEnv(HOME, List.of("--bogus", "1")));
    }
}
