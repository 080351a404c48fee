package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.models.LocalModel;
import dev.gantry.models.gguf.GgufArray;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.ModelNotFoundException;
import dev.gantry.server.http.ApiException;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** {@code /}, {@code /api/version}, {@code /api/tags}, {@code /api/show} and {@code /api/ps}. */
public final class ModelHandlers {
    /** The Ollama API version Gantry speaks; clients compare it against their minimums. */
    public static final String OLLAMA_API_VERSION = "0.13.0";

    private final ModelManager models;

    public ModelHandlers(ModelManager models) {
        this.models = models;
    }

    public void root(Exchange ex) {
        ex.send(200, "text/plain; charset=utf-8", Exchange.utf8("Ollama is running"));
    }

    public void version(Exchange ex) {
        ex.sendJson(200, Json.write(new Responses.Version(OLLAMA_API_VERSION)));
    }

    public void tags(Exchange ex) {
        List<Responses.TagModel> out = new ArrayList<>();
        // most recently modified first, as Ollama lists them (the registry's name order breaks ties)
        List<LocalModel> listed = new ArrayList<>(models.registry().list());
        listed.sort(java.util.Comparator.comparing(LocalModel::modifiedAt).reversed());
        for (LocalModel m : listed) {
            String name = m.name().shortName();
            out.add(new Responses.TagModel(name, name, m.modifiedAt().toString(), m.listedSize(), hex(m.digest()),
                    details(m.metadata())));
        }
        ex.sendJson(200, Json.write(new Responses.Tags(out)));
    }

    /** Arrays in {@code model_info} up to this length are shown without {@code verbose}, as Ollama shows them. */
    static final int SHOWN_ARRAY = 5;

    public void show(Exchange ex) {
        ObjectNode body = Json.parseObject(ex.body());
        String name = Json.string(body, "model").filter(s -> !s.isEmpty())
                .or(() -> Json.string(body, "name").filter(s -> !s.isEmpty()))
                .orElseThrow(() -> ApiException.badRequest("model is required"));
        boolean verbose = Json.bool(body, "verbose").orElse(false);
        // as Ollama's show: a system prompt in the request stands in for the model's, options go into the Modelfile
        Optional<String> system = Json.string(body, "system").filter(s -> !s.isEmpty());
        Map<String, Object> options = Json.object(body, "options")
                .map(o -> Json.MAPPER.convertValue(o, new com.fasterxml.jackson.core.type.TypeReference<
                        LinkedHashMap<String, Object>>() {}))
                .orElse(new LinkedHashMap<>());
        LocalModel m = models.registry().resolve(name).orElseThrow(() -> new ModelNotFoundException(name));
        ex.sendJson(200, Json.write(ShowView.of(m, verbose, system, options)));
    }

    public void ps(Exchange ex) {
        List<Responses.RunningModel> out = new ArrayList<>();
        // the longest time left first, as Ollama lists them
        // with the copies on their way out that still answer requests (replaced by a reload, or deleted)
        List<LoadedModel> loaded = new ArrayList<>(models.inMemory());
        loaded.sort(java.util.Comparator.comparing(LoadedModel::expiresAt).reversed());
        for (LoadedModel lm : loaded) {
            LocalModel m = lm.model();
            Instant expires = lm.expiresAt();
            String expiresAt = expires.equals(Instant.MAX) ? "2318-08-03T00:00:00Z" : expires.toString();
            List<Responses.ReplicaStatus> replicas = new ArrayList<>();
            long vram = 0;
            for (dev.gantry.runtime.Replica r : lm.replicas()) {
                var st = r.runner().stats();
                vram += vramBytes(r.vramBytesPerGpu(), r.engine().info().vramBytes());
                replicas.add(new Responses.ReplicaStatus(r.index(), r.gpus(), r.engine().info().devices(), r.split(),
                        r.vramBytesPerGpu(), r.bytesPerGpu(), Double.isNaN(r.weight()) ? null : r.weight(),
                        st.active(), st.waiting(), r.runner().config().maxSequences(), st.kvCellsUsed(), st.kvCells(),
                        new Responses.RunnerCounters(st.steps(), st.maxSequencesInStep(), st.promptTokens(),
                                st.generatedTokens(), st.preemptions(), st.decodeNanos() / 1e9,
                                st.waitNanos() / 1e9, st.sampleNanos() / 1e9, st.stepNanos() / 1e9, st.promptBudget(), st.maxActive(),
                                st.reusedPromptTokens(), st.forwardPasses(), st.gapFillers(), st.parkedFillers(),
                                st.idMoves(), st.aheadTokens())));
            }
            // wholly on GPUs, size is size_vram (ollama ps: 100% GPU); llama.cpp keeps a little on the host (the
            // token embeddings) that Ollama's figures do not count either
            long size = vram > 0 && whollyOnGpus(lm) ? vram : Math.max(memoryBytes(lm), vram);
            out.add(new Responses.RunningModel(lm.name(), lm.name(), size,
                    hex(m.digest()), details(m.metadata()), expiresAt, vram, lm.contextLength(), replicas));
        }
        for (dev.gantry.runtime.ModelManager.Loading l : models.loading()) {
            // as Ollama lists a runner from the start of its load: no replicas, no memory in use yet
            LocalModel m = l.model();
            String name = m.name().shortName();
            String expiresAt = l.expiresAt().equals(Instant.MAX) ? "2318-08-03T00:00:00Z" : l.expiresAt().toString();
            Integer ctx = l.options().numCtx();
            out.add(new Responses.RunningModel(name, name, m.sizeBytes(), hex(m.digest()), details(m.metadata()),
                    expiresAt, 0, ctx == null ? 0 : ctx, List.of()));
        }
        ex.sendJson(200, Json.write(new Responses.Running(out)));
    }

    /**
     * Ollama's {@code size_vram} for one replica: all it holds on its GPUs (weights, KV cache, compute buffers: what
     * llama.cpp reported allocating on each, else the placement's estimate), so that a model wholly on GPUs shows
     * {@code size_vram} equal to {@code size} ({@code ollama ps}: 100% GPU). The weights on GPUs alone where the
     * replica names no GPUs (llama.cpp placed it).
     */
    static long vramBytes(List<Long> perGpu, long weightsOnGpus) {
        long sum = 0;
        for (long b : perGpu) {
            sum += Math.max(0, b);
        }
        return sum > 0 ? sum : weightsOnGpus;
    }

    /**
     * Whether every replica sits on GPUs with all its layers (not where the planner or {@code num_gpu} left some on
     * the CPU).
     */
    static boolean whollyOnGpus(LoadedModel lm) {
        return !lm.replicas().isEmpty() && lm.replicas().stream().allMatch(dev.gantry.runtime.Replica::wholeOnGpus);
    }

    /**
     * Ollama's {@code size} in {@code /api/ps}: the memory a loaded model takes, weights and KV cache and compute
     * buffers, for every replica; estimated from the GGUF's shape and each runner's cells (F16 cache, as loaded).
     * The file's size per replica when the shape cannot be read.
     */
    static long memoryBytes(LoadedModel lm) {
        LocalModel m = lm.model();
        dev.gantry.models.footprint.ModelFootprint f;
        try {
            f = dev.gantry.models.footprint.FootprintEstimator.estimate(m.metadata());
        } catch (RuntimeException e) {
            return m.sizeBytes() * lm.replicas().size();
        }
        long total = 0;
        for (dev.gantry.runtime.Replica r : lm.replicas()) {
            var config = r.runner().config();
            long cells = config.kvCells();
            long cellsPerStream = config.kvUnified() ? cells : config.contextPerSequence();
            total += m.sizeBytes() + dev.gantry.models.footprint.FootprintEstimator.adapterBytes(m) + f.kvBytes(dev.gantry.models.footprint.KvCacheType.F16, cells)
                    + f.computeBytes(512, cellsPerStream);
        }
        return total;
    }

    static Responses.Details details(GgufMetadata g) {
        return details(g, "");
    }

    /** With the model its weights came from, Ollama's {@code parent_model} ("" when none is known). */
    static Responses.Details details(GgufMetadata g, String parentModel) {
        String family = g.modelFamily();
        return new Responses.Details(parentModel, "gguf", family, List.of(family), g.parameterSizeLabel(),
                g.quantizationLevel());
    }

    /**
     * The GGUF keys as Ollama shows them: without {@code verbose}, an array of more than five elements is shown
     * empty (a vocabulary or merge list is megabytes that no client reads); with it, every array in full, so
     * {@code g} must then have been read with no array cap.
     */
    static Map<String, Object> modelInfo(GgufMetadata g, boolean verbose) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : g.metadata().entrySet()) {
            Object v = e.getValue();
            if (e.getKey().equals("tokenizer.chat_template") || e.getKey().equals("general.name")) {
                continue; // Ollama leaves both out of model_info
            }
            if (v instanceof GgufArray a) {
                out.put(e.getKey(), !verbose && a.length() > SHOWN_ARRAY ? List.of() : a.values().orElse(List.of()));
            } else {
                out.put(e.getKey(), v);
            }
        }
        out.put("general.parameter_count", g.parameterCount());
        return out;
    }

    private static String hex(String digest) {
        return digest.startsWith("sha256:") ? digest.substring(7) : digest;
    }
}
