package dev.gantry.server.api.ollama;

import dev.gantry.models.gguf.GgufMetadata;

/** What Ollama lets a model do, judged from its GGUF before it loads. Pure. */
final class Capabilities {
    private Capabilities() {}

    /**
     * Whether the model completes text: as Ollama judges it, a GGUF that names a pooling type
     * ({@code bert.pooling_type}) is an embedding model and does not, so generate and chat refuse it; nor does an
     * architecture llama.cpp keeps no KV cache for.
     */
    static boolean completes(GgufMetadata g) {
        // an encoder (BERT and kin) cannot generate even where its GGUF names no pooling type
        return g.get(g.architecture() + ".pooling_type").isEmpty() && !GgufMetadata.keepsNoKvCache(g.architecture());
    }

    /** Whether the model's GGUF names rank pooling ({@code bert.pooling_type} 4): a reranker's. */
    static boolean namesRankPooling(GgufMetadata g) {
        return g.get(g.architecture() + ".pooling_type").map(v -> v instanceof Number n && n.intValue() == 4)
                .orElse(false);
    }

    /**
     * Whether the model is a reranker Gantry serves: rank pooling on an encoder, or on a Qwen3 decoder with its
     * classifier head ({@code cls.output}, as Qwen3-Reranker's GGUFs have). llama.cpp scores other decoders at the
     * first token of a micro-batch, not the last, and other decoders load no head: their scores would be wrong.
     */
    static boolean reranks(GgufMetadata g) {
        if (!namesRankPooling(g)) {
            return false;
        }
        String arch = g.architecture();
        return GgufMetadata.keepsNoKvCache(arch) || (arch.equals("qwen3") || arch.equals("qwen3vl"))
                && g.tensors().stream().anyMatch(t -> t.name().equals("cls.output.weight"));
    }

    /**
     * The model named, loaded or in the store, without loading it; empty for an unknown or invalid name (which the
     * request's lease then answers as Ollama does).
     */
    static java.util.Optional<dev.gantry.models.LocalModel> lookUp(dev.gantry.runtime.ModelManager models,
                                                                    String name) {
        try {
            // the store's first: a loaded copy may have been loaded for another model of the same weights, with
            // other layers (template, system prompt)
            return models.registry().resolve(name)
                    .or(() -> models.loadedModel(name).map(dev.gantry.runtime.LoadedModel::model));
        } catch (IllegalArgumentException e) {
            return java.util.Optional.empty();
        }
    }
}
