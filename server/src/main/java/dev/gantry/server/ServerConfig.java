package dev.gantry.server;

import dev.gantry.runtime.RuntimeConfig;
import dev.gantry.runtime.place.GpuSelection;
import dev.gantry.runtime.place.Policy;
import dev.gantry.server.api.ollama.KeepAlive;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Everything the server is configured with, from the environment (Ollama's variable names where Ollama has one,
 * {@code GANTRY_*} otherwise) and the command line, which wins. Immutable; validated when built. The environment
 * comes in as a map, so tests never touch the real one.
 */
public record ServerConfig(String host, int port, Optional<Path> modelsDir, Optional<Path> llamaLib, Path cacheDir,
                           GpuSelection gpus, Policy placement, double gpuMemoryFraction, RuntimeConfig runtime,
                           int maxBodyBytes, int ioThreads, boolean requireGpu, EdgeConfig edge) {

    /** The variables read, with what they mean, for {@code --help}. */
    public static final Map<String, String> VARIABLES = new java.util.LinkedHashMap<>();

    static {
        VARIABLES.put("OLLAMA_HOST", "address to listen on, host[:port] (default 127.0.0.1:11434)");
        VARIABLES.put("OLLAMA_MODELS", "Ollama's model store (manifests/, blobs/), and each *.gguf file in it is a model too (default ~/.ollama/models)");
        VARIABLES.put("OLLAMA_NUM_PARALLEL", "sequences decoded together per model (default: as many as the KV cache allows, up to 64)");
        VARIABLES.put("OLLAMA_MAX_QUEUE", "requests waiting per model before 503 (default 512)");
        VARIABLES.put("OLLAMA_CONTEXT_LENGTH", "tokens per sequence (default 4096, at most the model's training context)");
        VARIABLES.put("OLLAMA_MAX_LOADED_MODELS", "models in memory at once; one more unloads the idle one with the shortest keep-alive, then the least recently used (default 3)");
        VARIABLES.put("OLLAMA_KEEP_ALIVE", "how long an idle model stays loaded (default 5m; negative: forever)");
        VARIABLES.put("GANTRY_GPUS", "GPUs to use, as --gpus: 0,1,2,3 (a replica per GPU) or 0,1:2,3 (groups)");
        VARIABLES.put("GANTRY_PLACEMENT", "auto (default) | replicate | split=layer|row|tensor");
        VARIABLES.put("GANTRY_GPU_MEMORY_FRACTION", "share of each GPU's memory a model may plan for (default 0.85)");
        VARIABLES.put("GANTRY_LLAMA_LIB", "folder with llama.cpp libraries (a CUDA build) instead of the bundled CPU ones");
        VARIABLES.put("GANTRY_THREADS", "llama.cpp CPU threads (default: cores - 1, at most 8)");
        VARIABLES.put("GANTRY_KV_CELLS", "KV cache cells per model (default: eight full sequences)");
        VARIABLES.put("GANTRY_KV_UNIFIED", "1: one KV buffer shared by all sequences of a model; 0 (default): one per sequence");
        VARIABLES.put("GANTRY_ROUTING", "least-loaded (default), round-robin or weighted (by the decode rate measured at load)");
        VARIABLES.put("GANTRY_ITL_TARGET_MS", "inter-token latency adaptive batching keeps under (default 50; 0: fixed batching)");
        VARIABLES.put("GANTRY_BACKEND_SAMPLING", "off | on | auto: off (default) samples on the host in Java; on, on "
                + "the GPU; auto, on the GPU when the model is on one");
        VARIABLES.put("GANTRY_CACHE_DIR", "where the bundled libraries and model are unpacked (default ~/.cache/gantry)");
        VARIABLES.put("GANTRY_DRAIN_SECONDS", "on SIGTERM, how long requests in flight may finish (default 30)");
        VARIABLES.put("GANTRY_ALERT_WEBHOOK", "URL GPU alerts are posted to as JSON (default: only logged)");
        VARIABLES.put("GANTRY_ALERT_GPU_*", "alert thresholds: UTIL_HIGH 90, UTIL_LOW 10 (%), TEMP_C 80, MEMORY 0.95");
        VARIABLES.put("OLLAMA_ORIGINS", "extra browser origins allowed (CORS), comma separated, * wildcards");
        VARIABLES.put("GANTRY_API_KEY", "bearer token every request needs (but /health, /ready, /metrics); required off loopback");
        VARIABLES.put("GANTRY_BODY_LIMITS", "request body limits: default=64m,/api/blobs/=1t (PATH_PREFIX=SIZE, comma separated)");
        VARIABLES.put("GANTRY_AGENT_PORT", "TCP port of the HAProxy agent-check that reports this node's weight (default: none)");
    }

    public static final String USAGE = """
            usage: java -jar runtime.jar [serve] [options]
                   java -jar runtime.jar gpus [--llama-lib DIR] [--gpus LIST]
                   java -jar runtime.jar version

            options:
              --host HOST          listen address (OLLAMA_HOST)
              --port PORT          listen port (default 11434)
              --models DIR         models folder (OLLAMA_MODELS)
              --llama-lib DIR      llama.cpp libraries to load (GANTRY_LLAMA_LIB)
              --gpus LIST          GPUs to use: 0,1,2,3 (placed by --placement) or 0,1:2,3 (a replica per group)
              --placement POLICY   auto (a replica per GPU where the model fits, else the fewest GPUs per
                                   replica), replicate, split=layer|row|tensor
              --num-parallel N     sequences per model (OLLAMA_NUM_PARALLEL)
              --require-gpu        fail at start unless llama.cpp has a GPU backend (no silent CPU fallback)
              --agent-port PORT    serve HAProxy's agent-check on PORT (GANTRY_AGENT_PORT)
              --insecure-no-auth   allow a non-loopback --host without GANTRY_API_KEY
              --help               this text
            """;

    public ServerConfig {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in 0..65535, was " + port);
        }
        if (maxBodyBytes < 1024) {
            throw new IllegalArgumentException("max body must be >= 1024 bytes");
        }
        java.util.Objects.requireNonNull(edge, "edge");
        if (!(gpuMemoryFraction > 0 && gpuMemoryFraction <= 1)) {
            throw new IllegalArgumentException("GANTRY_GPU_MEMORY_FRACTION must be in (0, 1], was " + gpuMemoryFraction);
        }
    }

    public static ServerConfig fromEnv(Map<String, String> rawEnv, List<String> args) {
        Map<String, String> env = unquoted(rawEnv);
        String hostPort = env.getOrDefault("OLLAMA_HOST", "");
        String host = "127.0.0.1";
        int port = 11434;
        if (!hostPort.isBlank()) {
            String hp = hostPort.strip().replaceFirst("^[a-zA-Z]+://", "").replaceFirst("/.*$", "");
            int colon = hp.lastIndexOf(':');
            if (colon >= 0 && !hp.endsWith("]")) {
                port = parseInt("OLLAMA_HOST port", hp.substring(colon + 1));
                hp = hp.substring(0, colon);
            }
            if (!hp.isEmpty()) {
                host = hp.replace("[", "").replace("]", "");
            }
        }
        String home = env.getOrDefault("HOME", System.getProperty("user.home"));
        Optional<Path> models = Optional.of(Path.of(env.getOrDefault("OLLAMA_MODELS", home + "/.ollama/models")));
        Optional<Path> llamaLib = Optional.ofNullable(env.get("GANTRY_LLAMA_LIB")).filter(s -> !s.isBlank()).map(Path::of);
        Path cache = Optional.ofNullable(env.get("GANTRY_CACHE_DIR")).filter(s -> !s.isBlank()).map(Path::of)
                .orElseGet(() -> dev.gantry.models.BuiltinModels.defaultCacheDir(env));
        RuntimeConfig rt = RuntimeConfig.defaults();
        int numParallel = intEnv(env, "OLLAMA_NUM_PARALLEL", rt.numParallel());
        int maxQueue = intEnv(env, "OLLAMA_MAX_QUEUE", rt.maxQueue());
        int ctx = intEnv(env, "OLLAMA_CONTEXT_LENGTH", rt.contextLength());
        int threads = intEnv(env, "GANTRY_THREADS", rt.threads());
        int kvCells = intEnv(env, "GANTRY_KV_CELLS", rt.kvCells());
        Duration keep = keepAliveEnv(env.get("OLLAMA_KEEP_ALIVE"), rt.keepAlive());
        RuntimeConfig.BackendSampling bs = Optional.ofNullable(env.get("GANTRY_BACKEND_SAMPLING"))
                .filter(s -> !s.isBlank()).map(s -> RuntimeConfig.BackendSampling.valueOf(s.strip().toUpperCase(Locale.ROOT)))
                .orElse(rt.backendSampling());
        GpuSelection gpus = GpuSelection.parse(env.get("GANTRY_GPUS"));
        Policy placement = Policy.parse(env.getOrDefault("GANTRY_PLACEMENT", "auto"));
        double fraction = Optional.ofNullable(env.get("GANTRY_GPU_MEMORY_FRACTION")).filter(s -> !s.isBlank())
                .map(v -> parseDouble("GANTRY_GPU_MEMORY_FRACTION", v)).orElse(0.85);
        boolean kvUnified = Optional.ofNullable(env.get("GANTRY_KV_UNIFIED")).map(String::strip)
                .map(v -> v.equals("1") || v.equalsIgnoreCase("true")).orElse(rt.kvUnified());

        boolean requireGpu = false;
        EdgeConfig edge = EdgeConfig.fromEnv(env);
        List<String> rest = new ArrayList<>(args);
        if (!rest.isEmpty() && rest.getFirst().equals("serve")) {
            rest.removeFirst();
        }
        for (int i = 0; i < rest.size(); i++) {
            String a = rest.get(i);
            String value = i + 1 < rest.size() ? rest.get(i + 1) : null;
            switch (a) {
                case "--host" -> host = require(a, value);
                case "--port" -> port = parseInt(a, require(a, value));
                case "--models" -> models = Optional.of(Path.of(require(a, value)));
                case "--llama-lib" -> llamaLib = Optional.of(Path.of(require(a, value)));
                case "--gpus" -> gpus = GpuSelection.parse(require(a, value));
                case "--placement" -> placement = Policy.parse(require(a, value));
                case "--num-parallel" -> numParallel = parseInt(a, require(a, value));
                case "--require-gpu" -> {
                    requireGpu = true;
                    i--; // a flag without a value
                }
                case "--agent-port" -> edge = edge.withAgentPort(parseInt(a, require(a, value)));
                case "--insecure-no-auth" -> {
                    edge = edge.withInsecureNoAuth(true);
                    i--;
                }
                default -> throw new IllegalArgumentException("unknown argument " + a + "\n" + USAGE);
            }
            i++;
        }
        Duration itl = Duration.ofMillis(intEnv(env, "GANTRY_ITL_TARGET_MS", (int) rt.itlTarget().toMillis()));
        RuntimeConfig runtime = new RuntimeConfig(numParallel, ctx, kvCells, maxQueue, rt.promptBudget(), threads,
                bs, keep, rt.gpuLayers(), kvUnified, itl);
        int io = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
        runtime = runtime.withMaxLoadedModels(intEnv(env, "OLLAMA_MAX_LOADED_MODELS", 0));
        edge.checkExposure(host);
        int maxBody = (int) Math.min(Integer.MAX_VALUE, edge.bodyLimits().defaultBytes());
        return new ServerConfig(host, port, models, llamaLib, cache, gpus, placement, fraction, runtime, maxBody, io,
                requireGpu, edge);
    }

    public ServerConfig withPort(int p) {
        return new ServerConfig(host, p, modelsDir, llamaLib, cacheDir, gpus, placement, gpuMemoryFraction, runtime, maxBodyBytes,
                ioThreads, requireGpu, edge);
    }

    public ServerConfig withRuntime(RuntimeConfig r) {
        return new ServerConfig(host, port, modelsDir, llamaLib, cacheDir, gpus, placement, gpuMemoryFraction, r, maxBodyBytes, ioThreads,
                requireGpu, edge);
    }

    public ServerConfig withModelsDir(Path dir) {
        return new ServerConfig(host, port, Optional.of(dir), llamaLib, cacheDir, gpus, placement, gpuMemoryFraction, runtime, maxBodyBytes,
                ioThreads, requireGpu, edge);
    }

    public ServerConfig withMaxBodyBytes(int n) {
        return new ServerConfig(host, port, modelsDir, llamaLib, cacheDir, gpus, placement, gpuMemoryFraction, runtime, n, ioThreads,
                requireGpu, edge);
    }

    public ServerConfig withEdge(EdgeConfig e) {
        return new ServerConfig(host, port, modelsDir, llamaLib, cacheDir, gpus, placement, gpuMemoryFraction, runtime, maxBodyBytes,
                ioThreads, requireGpu, e);
    }

    public static String describe() {
        StringBuilder sb = new StringBuilder("environment:\n");
        VARIABLES.forEach((k, v) -> sb.append(String.format("  %-24s %s%n", k, v)));
        return sb.toString();
    }

    /**
     * The environment as Ollama reads it: each value without surrounding spaces and quotes (a docker-compose
     * {@code environment:} list often quotes them: {@code OLLAMA_KEEP_ALIVE="10m"} arrives with its quotes).
     */
    static Map<String, String> unquoted(Map<String, String> env) {
        Map<String, String> out = new java.util.HashMap<>(env.size());
        env.forEach((k, v) -> out.put(k, v == null ? null : v.strip().replaceAll("^[\"']+|[\"']+$", "")));
        return out;
    }

    /**
     * {@code OLLAMA_KEEP_ALIVE}: a duration, or a number of seconds; as in Ollama, a value that is neither leaves the
     * default, with a warning, rather than stopping the server.
     */
    private static Duration keepAliveEnv(String v, Duration fallback) {
        if (v == null || v.isBlank()) {
            return fallback;
        }
        try {
            return KeepAlive.parse(v);
        } catch (RuntimeException e) {
            System.getLogger("gantry.server").log(System.Logger.Level.WARNING,
                    "invalid OLLAMA_KEEP_ALIVE \"{0}\": using the default, {1}", v, fallback);
            return fallback;
        }
    }

    /** An integer variable; Ollama's own (OLLAMA_*) fall back to the default with a warning when invalid, as there. */
    private static int intEnv(Map<String, String> env, String name, int fallback) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            return fallback;
        }
        if (name.startsWith("OLLAMA_")) {
            // Ollama's are unsigned: a value that is no such number is warned about and the default used, as Ollama
            // does (a negative one stopped the server)
            try {
                int n = Integer.parseInt(v.strip());
                if (n >= 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // warned below
            }
            System.getLogger("gantry.server").log(System.Logger.Level.WARNING, "invalid {0} \"{1}\": using the "
                    + "default{2}", name, v, fallback > 0 ? ", " + fallback : "");
            return fallback;
        }
        return parseInt(name, v.strip());
    }

    private static double parseDouble(String what, String v) {
        try {
            return Double.parseDouble(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " must be a number, was \"" + v + "\"");
        }
    }

    private static int parseInt(String what, String v) {
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + " must be an integer, was \"" + v + "\"");
        }
    }

    private static String require(String flag, String value) {
        if (value == null || value.startsWith("--")) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return value;
    }
}
