package dev.gantry.models.footprint;

import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufTensorInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * Builds a {@link ModelFootprint} from a GGUF header: sums tensor sizes by layer from the tensor names
 * ({@code blk.N.*}, {@code token_embd.*}, {@code output.*}, {@code output_norm.*}) and reads the attention
 * shape from the architecture's keys. Reads no weights and does no I/O.
 *
 * <p>Stateless and thread-safe.
 */
public final class FootprintEstimator {

    private FootprintEstimator() {
    }

    /**
     * The footprint of the model {@code md} describes.
     *
     * @throws IllegalArgumentException when the header lacks what sizing needs (tensors, embedding length,
     *                                  head count), e.g. for a vocabulary-only file
     */
    /**
     * A model's footprint with its LoRA adapters ({@link dev.gantry.models.ModelLayers#adapters()}): llama.cpp puts
     * each adapter's matrices beside the weights they adapt, so their bytes count as weights (the files' sizes; an
     * unreadable file counts nothing).
     */
    public static ModelFootprint estimate(dev.gantry.models.LocalModel model) {
        ModelFootprint f = estimate(model.metadata());
        if (model.layers().adapters().isEmpty()) {
            return f;
        }
        // a block's matrices count with its layer (they go where the layer goes); the rest with the other tensors
        long[] layers = f.layerBytes().stream().mapToLong(Long::longValue).toArray();
        long other = f.otherBytes();
        for (java.nio.file.Path p : model.layers().adapters()) {
            GgufMetadata a;
            try {
                a = new dev.gantry.models.gguf.GgufReader().read(p);
            } catch (java.io.IOException | RuntimeException e) {
                continue; // a missing or broken adapter fails the load itself
            }
            for (dev.gantry.models.gguf.GgufTensorInfo t : a.tensors()) {
                long bytes = t.byteSize().orElse(0);
                int layer = layerIndex(t.name());
                if (layer >= 0 && layer < layers.length) {
                    layers[layer] += bytes;
                } else {
                    other += bytes;
                }
            }
        }
        List<Long> layerBytes = java.util.Arrays.stream(layers).boxed().toList();
        long added = other - f.otherBytes() + layerBytes.stream().mapToLong(Long::longValue).sum()
                - f.repeatingLayerBytes();
        return new ModelFootprint(f.architecture(), f.layers(), f.embedding(), f.heads(), f.kvHeads(), f.keyLength(),
                f.valueLength(), f.vocabulary(), f.contextLength(), f.weightBytes() + added, layerBytes,
                f.inputBytes(), f.outputBytes(), other, f.tiedOutput());
    }

    /** The sizes of a model's adapter files added up. */
    public static long adapterBytes(dev.gantry.models.LocalModel model) {
        long bytes = 0;
        for (java.nio.file.Path p : model.layers().adapters()) {
            try {
                bytes += java.nio.file.Files.size(p);
            } catch (java.io.IOException e) {
                // a missing adapter fails the load itself
            }
        }
        return bytes;
    }

    public static ModelFootprint estimate(GgufMetadata md) {
        String arch = md.architecture();
        if (md.tensors().isEmpty()) {
            throw new IllegalArgumentException("no tensors in this GGUF (a vocabulary-only file?): nothing to size");
        }
        long embedding = require(md.embeddingLength(), arch + ".embedding_length");
        long heads = require(md.headCount(), arch + ".attention.head_count");
        long kvHeads = md.headCountKv().orElse(heads);
        if (embedding < 1 || heads < 1 || kvHeads < 1) {
            throw new IllegalArgumentException("embedding " + embedding + ", heads " + heads + ", KV heads "
                    + kvHeads + ": all must be positive");
        }
        long headDim = embedding / heads;
        long keyLength = md.getLong(arch + ".attention.key_length").orElse(headDim);
        long valueLength = md.getLong(arch + ".attention.value_length").orElse(headDim);

        int layers = (int) md.blockCount().orElse(0);
        for (GgufTensorInfo t : md.tensors()) {
            layers = Math.max(layers, layerIndex(t.name()) + 1);
        }
        if (layers < 1) {
            throw new IllegalArgumentException("no " + arch + ".block_count and no blk.N tensors: no layers to size");
        }

        long[] perLayer = new long[layers];
        long input = 0;
        long output = 0;
        long other = 0;
        long known = 0;
        boolean unknownTypes = false;
        boolean hasOutputWeight = false;
        for (GgufTensorInfo t : md.tensors()) {
            OptionalLong size = t.byteSize();
            if (size.isEmpty()) {
                unknownTypes = true;
                continue;
            }
            long bytes = size.getAsLong();
            known += bytes;
            String name = t.name();
            int layer = layerIndex(name);
            if (layer >= 0) {
                perLayer[layer] += bytes;
            } else if (name.startsWith("token_embd.") || name.startsWith("token_embd_norm.")) {
                input += bytes;
            } else if (name.startsWith("output.") || name.startsWith("output_norm.")) {
                output += bytes;
                hasOutputWeight |= name.equals("output.weight");
            } else {
                other += bytes;
            }
        }
        long weights = known;
        if (unknownTypes) {
            // a tensor type newer than this build: its size is unknown, but the data section bounds all of them
            long remainder = Math.max(0, md.tensorDataBytes() - known);
            other += remainder;
            weights += remainder;
        }
        List<Long> layerBytes = new ArrayList<>(layers);
        for (long b : perLayer) {
            layerBytes.add(b);
        }
        // without an output.weight a model's output is a copy of its input embedding, on the GPU; a BERT-family
        // encoder has no output layer at all, and its input embedding stays on the host (bench/RESULTS.md:
        // BERT-large's 60 MiB of it made the estimate 10 to 15% above what llama.cpp allocated)
        boolean tied = !hasOutputWeight && !NO_OUTPUT_LAYER.contains(arch);
        return new ModelFootprint(arch, layers, embedding, heads, kvHeads, keyLength, valueLength,
                md.vocabularySize(), md.contextLength().orElse(0), weights, layerBytes, input, output, other, tied);
    }

    /**
     * Architectures whose llama.cpp loaders create no output layer (encoders with a pooled or classifier output);
     * other encoders (EmbeddingGemma, the diffusion models) copy the input embedding as theirs.
     */
    private static final java.util.Set<String> NO_OUTPUT_LAYER = java.util.Set.of("bert", "modern-bert", "nomic-bert",
            "nomic-bert-moe", "neo-bert", "jina-bert-v2", "jina-bert-v3", "eurobert");

    /** N for a tensor named {@code blk.N.*}, else -1. */
    static int layerIndex(String name) {
        if (!name.startsWith("blk.")) {
            return -1;
        }
        int end = name.indexOf('.', 4);
        if (end <= 4) {
            return -1;
        }
        int n = 0;
        for (int i = 4; i < end; i++) {
            char c = name.charAt(i);
            if (c < '0' || c > '9' || n > 100_000) {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }

    private static long require(OptionalLong v, String key) {
        if (v.isEmpty()) {
            throw new IllegalArgumentException("no " + key + " in this GGUF: cannot size the model");
        }
        return v.getAsLong();
    }
}
