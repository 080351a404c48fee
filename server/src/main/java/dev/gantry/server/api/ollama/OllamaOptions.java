package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.runtime.LoadOptions;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.server.http.ApiException;
import dev.gantry.server.http.Json;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Ollama's {@code options} for one request, mapped to sampling and limits. Pure.
 *
 * <p>Predict-time options are honoured. The load-time options {@code num_ctx}, {@code num_batch}, {@code num_gpu}
 * and {@code main_gpu} go to {@link #load()}: the model is reloaded when they differ from its loaded copy's. Other
 * load-time options and Ollama's obsolete options are logged and ignored, as Ollama logs unknown options; a known
 * option of the wrong type is a 400.
 */
public record OllamaOptions(SamplingParams sampling, int numPredict, List<String> stop, List<String> ignored,
                            LoadOptions load, int numKeep) {
    /** Ollama's default {@code num_keep}: the prompt tokens a cut prompt keeps from its start. */
    public static final int DEFAULT_NUM_KEEP = 4;

    public OllamaOptions(SamplingParams sampling, int numPredict, List<String> stop, List<String> ignored) {
        this(sampling, numPredict, stop, ignored, LoadOptions.UNSET, DEFAULT_NUM_KEEP);
    }

    /**
     * The request's {@code num_ctx}, 0 when not given. A model whose loaded context differs is reloaded with it,
     * so a request's window is then the model's whole context (see {@link ContextWindow}).
     */
    public int numCtx() {
        return load.numCtx() == null ? 0 : load.numCtx();
    }

    private static final System.Logger LOG = System.getLogger("gantry.api");

    private static final Set<String> LOAD_TIME = Set.of("use_mmap",
            "num_thread", "numa", "low_vram", "f16_kv", "vocab_only", "use_mlock", "logits_all", "embedding_only",
            "rope_frequency_base", "rope_frequency_scale", "draft_num_predict");
    private static final Set<String> OBSOLETE = Set.of("mirostat", "mirostat_tau", "mirostat_eta",
            "penalize_newline", "tfs_z");

    public static OllamaOptions defaults() {
        return new OllamaOptions(SamplingParams.DEFAULTS, -1, List.of(), List.of());
    }

    /** Parses {@code options}; null means all defaults. */
    public static OllamaOptions parse(ObjectNode options) {
        SamplingParams d = SamplingParams.DEFAULTS;
        if (options == null) {
            return defaults();
        }
        float temperature = d.temperature();
        int topK = d.topK();
        float topP = d.topP();
        float minP = d.minP();
        float typicalP = d.typicalP();
        long seed = d.seed();
        float repeatPenalty = d.repeatPenalty();
        int repeatLastN = d.repeatLastN();
        float presence = d.presencePenalty();
        float frequency = d.frequencyPenalty();
        int numPredict = -1;
        int numKeep = DEFAULT_NUM_KEEP;
        Integer numCtx = null;
        Integer numGpu = null;
        Integer mainGpu = null;
        Integer numBatch = null;
        boolean ignoreEos = false;
        List<String> stop = new ArrayList<>();
        List<String> ignored = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = options.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String k = e.getKey();
            JsonNode v = e.getValue();
            if (v.isNull()) {
                continue;
            }
            switch (k) {
                case "temperature" -> temperature = number(k, v);
                case "top_k" -> topK = integer(k, v);
                case "top_p" -> topP = number(k, v);
                case "min_p" -> minP = number(k, v);
                case "typical_p" -> typicalP = number(k, v);
                case "seed" -> seed = longInteger(k, v); // Go's int: 64 bits
                case "repeat_penalty" -> repeatPenalty = number(k, v);
                case "repeat_last_n" -> {
                    // below -1 no window: llama.cpp takes a negative window other than -1 as 0, as Ollama passes it
                    int n = integer(k, v);
                    repeatLastN = n < -1 ? 0 : n;
                }
                case "presence_penalty" -> presence = number(k, v);
                case "frequency_penalty" -> frequency = number(k, v);
                case "num_predict" -> numPredict = clampedInteger(k, v); // past the int range: capped later anyway
                case "num_keep" -> numKeep = integer(k, v);
                case "num_ctx" -> numCtx = integer(k, v); // a tiny or negative one is raised to the minimum
                case "num_batch" -> {
                    int n = integer(k, v);
                    numBatch = n >= 1 ? n : null; // 0 or less: the default, as Ollama takes no check on it
                }
                case "num_gpu" -> numGpu = integer(k, v);
                case "main_gpu" -> mainGpu = integer(k, v);
                case "stop" -> stop = strings(k, v);
                case "ignore_eos" -> {
                    if (!v.isBoolean()) {
                        throw wrong(k, "a boolean", v);
                    }
                    ignoreEos = v.booleanValue(); // llama-server's option, for fixed-length benchmarks
                }
                default -> {
                    ignored.add(k);
                    String why = LOAD_TIME.contains(k) ? "needs a model reload, not supported yet"
                            : OBSOLETE.contains(k) ? "no longer supported by llama.cpp" : "unknown option";
                    LOG.log(System.Logger.Level.WARNING, "ignoring option {0}: {1}", k, why);
                }
            }
        }
        // Ollama's sampler takes these as it finds them: a negative temperature is 0 (greedy), top_p and min_p are
        // clamped to [0, 1]; typical_p too (llama.cpp's sampler treats 1 and above as off)
        temperature = Math.max(0f, temperature);
        topP = Math.clamp(topP, 0f, 1f);
        minP = Math.clamp(minP, 0f, 1f);
        typicalP = Math.clamp(typicalP, 0f, 1f);
        try {
            SamplingParams sampling = new SamplingParams(temperature, topK, topP, minP, typicalP, seed, repeatPenalty,
                    repeatLastN, presence, frequency, ignoreEos);
            return new OllamaOptions(sampling, numPredict < -2 ? -1 : numPredict, List.copyOf(stop), List.copyOf(ignored),
                    new LoadOptions(numCtx, numGpu, mainGpu, numBatch), numKeep);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("invalid options: " + e.getMessage());
        }
    }

    private static float number(String k, JsonNode v) {
        if (!v.isNumber()) {
            throw wrong(k, "a number", v);
        }
        double d = v.doubleValue();
        if (!Double.isFinite(d)) {
            throw ApiException.badRequest("invalid option " + k + ": not a finite number");
        }
        return (float) d;
    }

    /** An integer option whose values past the int range mean as much as its ends (num_predict 1e20). */
    private static int clampedInteger(String k, JsonNode v) {
        if (v.isNumber() && (v.isFloatingPointNumber() ? !Double.isFinite(v.doubleValue())
                || Math.abs(v.doubleValue()) >= 0x1p63 : !v.canConvertToLong())) {
            return v.doubleValue() > 0 ? Integer.MAX_VALUE : Integer.MIN_VALUE;
        }
        return (int) Math.clamp(longInteger(k, v), Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    private static int integer(String k, JsonNode v) {
        long l = longInteger(k, v);
        if (l > Integer.MAX_VALUE || l < Integer.MIN_VALUE) {
            throw ApiException.badRequest("invalid option " + k + ": out of range");
        }
        return (int) l;
    }

    /** An integer option; a fraction is cut toward zero, as Ollama's options do ({@code int64(float64)} in Go). */
    private static long longInteger(String k, JsonNode v) {
        if (!v.isNumber()) {
            throw wrong(k, "an integer", v);
        }
        if (v.isFloatingPointNumber() && !Double.isFinite(v.doubleValue())) {
            throw ApiException.badRequest("invalid option " + k + ": out of range");
        }
        if (!v.canConvertToLong() || v.isFloatingPointNumber() && Math.abs(v.doubleValue()) >= 0x1p63) {
            throw ApiException.badRequest("invalid option " + k + ": out of range");
        }
        return v.longValue();
    }

    private static List<String> strings(String k, JsonNode v) {
        List<String> out = new ArrayList<>();
        if (v.isTextual()) {
            out.add(Json.wellFormed(v.textValue()));
            return out;
        }
        if (!v.isArray()) {
            throw wrong(k, "a list of strings", v);
        }
        for (JsonNode s : v) {
            if (!s.isTextual()) {
                throw wrong(k, "a list of strings", v);
            }
            // a lone surrogate (an escape such as U+DE00 alone) is U+FFFD, as Go reads it: never half a character
            out.add(Json.wellFormed(s.textValue()));
        }
        return out;
    }

    private static ApiException wrong(String k, String expected, JsonNode v) {
        return ApiException.badRequest("invalid option " + k + ": expected " + expected + ", got "
                + v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT));
    }
}
