package dev.gantry.models.footprint;

import dev.gantry.models.gguf.GgufMetadata;
import java.util.List;
import java.util.Objects;

/**
 * What a model costs in memory, from its GGUF header alone: the weights (in total, per layer, and the
 * tensors outside the layers), the KV cache per token, and an estimate of llama.cpp's compute buffer. The
 * placement planner sizes replicas and layer splits with it; {@link FootprintEstimator} builds one.
 *
 * <p>Estimates are upper bounds where the header leaves a choice: per-layer head counts use the largest,
 * sliding-window layers are sized as full-context ones.
 *
 * <p>Immutable and thread-safe.
 *
 * @param architecture  {@code general.architecture}
 * @param layers        repeating layers ({@code block_count}, or the highest {@code blk.N} plus one)
 * @param embedding     {@code <arch>.embedding_length}
 * @param heads         attention heads
 * @param kvHeads       KV heads (grouped-query attention), {@code heads} when the file does not say
 * @param keyLength     elements per key head: {@code <arch>.attention.key_length}, else embedding / heads
 * @param valueLength   elements per value head: {@code <arch>.attention.value_length}, else embedding / heads
 * @param vocabulary    tokens in the vocabulary (0 when unknown)
 * @param contextLength the training context (0 when unknown)
 * @param weightBytes   all tensor data: the sum of the tensors' sizes
 * @param layerBytes    bytes of the {@code blk.N.*} tensors, index N
 * @param inputBytes    {@code token_embd*}: llama.cpp always keeps the input embedding in host memory
 * @param outputBytes   {@code output.*} and {@code output_norm.*}: the output layer, offloaded with the last layer
 * @param otherBytes    the rest (e.g. {@code rope_freqs}), and data of tensor types this build does not know
 * @param tiedOutput    the file has no {@code output.weight}: llama.cpp then reuses {@code token_embd} for the
 *                      output and copies it to the output layer's device
 */
public record ModelFootprint(String architecture, int layers, long embedding, long heads, long kvHeads,
                             long keyLength, long valueLength, long vocabulary, long contextLength,
                             long weightBytes, List<Long> layerBytes, long inputBytes, long outputBytes,
                             long otherBytes, boolean tiedOutput) {

    /**
     * An encoder's runner's batch (its pass) on a GPU where its context is shorter: a pass packs whole inputs up to
     * this many tokens, or holds one longer input alone (bench/RESULTS.md, embeddings).
     */
    public static final int ENCODER_BATCH = 1024;

    /** Small graph tensors the two big terms of {@link #computeBytes} leave out: norms, RoPE, views, ids. */
    public static final long COMPUTE_OVERHEAD_BYTES = 16L << 20;

    public ModelFootprint {
        Objects.requireNonNull(architecture, "architecture");
        layerBytes = List.copyOf(layerBytes);
        if (layers < 1 || layerBytes.size() != layers) {
            throw new IllegalArgumentException("layers " + layers + " with " + layerBytes.size() + " layer sizes");
        }
        if (embedding < 1 || heads < 1 || kvHeads < 1 || keyLength < 1 || valueLength < 1) {
            throw new IllegalArgumentException("embedding, heads, KV heads and head sizes must be positive");
        }
        if (weightBytes < 0 || inputBytes < 0 || outputBytes < 0 || otherBytes < 0 || vocabulary < 0) {
            throw new IllegalArgumentException("negative size");
        }
    }

    /** Bytes of layer {@code i}'s tensors. */
    public long layerBytes(int i) {
        return layerBytes.get(i);
    }

    /** Bytes of all repeating layers together. */
    public long repeatingLayerBytes() {
        long sum = 0;
        for (long b : layerBytes) {
            sum += b;
        }
        return sum;
    }

    /**
     * Bytes of the output layer as placed: {@link #outputBytes()}, plus a copy of the input embedding when the
     * output is tied to it.
     */
    public long placedOutputBytes() {
        return outputBytes + (tiedOutput ? inputBytes : 0);
    }

    /**
     * Weight bytes on the GPUs when every layer is offloaded: the layers, the output layer (with the tied
     * copy) and the other tensors. The input embedding stays in host memory, as llama.cpp keeps it.
     */
    public long gpuWeightBytes() {
        return repeatingLayerBytes() + placedOutputBytes() + otherBytes;
    }

    /**
     * KV cache bytes one token takes over all layers: per layer, a key row of kvHeads x keyLength elements
     * and a value row of kvHeads x valueLength elements, each in {@code type}. For Llama-3-8B in F16 that is
     * 32 x (1024 + 1024) x 2 = 131072.
     */
    public long kvBytesPerToken(KvCacheType type) {
        if (GgufMetadata.keepsNoKvCache(architecture)) {
            return 0; // an encoder: llama.cpp allocates no cache
        }
        long perLayer = type.rowBytes(kvHeads * keyLength) + type.rowBytes(kvHeads * valueLength);
        return Math.multiplyExact(perLayer, (long) layers);
    }

    /** KV cache bytes of one layer for one token. */
    public long kvBytesPerTokenPerLayer(KvCacheType type) {
        return kvBytesPerToken(type) / layers;
    }

    /** KV cache bytes for {@code cells} tokens. */
    public long kvBytes(KvCacheType type, long cells) {
        return Math.multiplyExact(kvBytesPerToken(type), cells);
    }

    /** {@link #computeBytes(int, long, boolean)} with flash attention, as Gantry runs on GPUs. */
    public long computeBytes(int ubatch, long kvCells) {
        return computeBytes(ubatch, kvCells, true);
    }

    /**
     * An estimate of llama.cpp's compute buffer on one device for micro-batches of {@code ubatch} tokens
     * attending over {@code kvCells} cells (one stream's cells). The heuristic, in F32 (4-byte) activations:
     * <ul>
     *   <li>the largest intermediate: the output matmul's {@code ubatch x vocabulary} logits next to the
     *       {@code ubatch x embedding} hidden state, or, without flash attention, one layer's
     *       {@code ubatch x kvCells x heads} attention scores. Only the largest counts: ggml's graph allocator
     *       reuses a tensor's memory once nothing reads it, so the peak is one big tensor plus small ones;</li>
     *   <li>the attention mask, {@code ubatch x kvCells}, alive for the whole graph (F16 with flash
     *       attention, F32 without);</li>
     *   <li>{@link #COMPUTE_OVERHEAD_BYTES} for everything small.</li>
     * </ul>
     * For Llama-3-8B at ubatch 512 the first term is 258.5 MiB, what llama.cpp reports for its CUDA compute
     * buffer with flash attention; long contexts without flash attention are dominated by the scores.
     */
    public long computeBytes(int ubatch, long kvCells, boolean flashAttention) {
        if (ubatch < 1 || kvCells < 0) {
            throw new IllegalArgumentException("ubatch " + ubatch + " and kvCells " + kvCells);
        }
        boolean encoder = GgufMetadata.keepsNoKvCache(architecture);
        if (encoder) {
            // an encoder's pass is its runner's whole batch (ENCODER_BATCH, or one context where longer, and a GPU's
            // filler token), whose tokens attend over the batch itself
            ubatch = (int) Math.max(ubatch, Math.max(ENCODER_BATCH, contextLength)) + 1;
            kvCells = ubatch;
        }
        // an encoder outputs embeddings, no logits: its largest activation is the feed-forward's (about 4 times the
        // embedding in BERTs)
        long logits = encoder ? 4L * ubatch * embedding * 5 : 4L * ubatch * (embedding + vocabulary);
        long scores = flashAttention ? 0 : Math.multiplyExact(4L * ubatch * kvCells, heads);
        long mask = (flashAttention ? 2L : 4L) * ubatch * kvCells;
        return Math.max(logits, scores) + mask + COMPUTE_OVERHEAD_BYTES;
    }
}
