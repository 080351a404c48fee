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
}
