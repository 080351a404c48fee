package dev.gantry.runtime.place;

import dev.gantry.models.footprint.KvCacheType;
import dev.gantry.models.footprint.ModelFootprint;

/**
 * The numbers placement needs from a model: weights by part, KV bytes per token in the chosen cache type,
 * and the compute buffer each GPU of a replica allocates.
 *
 * <p>Immutable and thread-safe.
 *
 * @param layers          repeating layers
 * @param layerBytes      all repeating layers' weights together
 * @param outputBytes     weights placed with the output layer (the output matrix and norm, a tied embedding's
 *                        copy, tensors outside the layers); on the GPU only when every layer is
 * @param kvBytesPerToken KV cache bytes per token, all layers
 * @param computeBytes    compute buffer per GPU
 */
public record ModelSize(int layers, long layerBytes, long outputBytes, long kvBytesPerToken, long computeBytes) {

    public ModelSize {
        if (layers < 1) {
            throw new IllegalArgumentException("a model has at least one layer, not " + layers);
        }
        if (layerBytes < 0 || outputBytes < 0 || kvBytesPerToken < 0 || computeBytes < 0) {
            throw new IllegalArgumentException("negative model size");
        }
    }

    /**
     * The size of {@code f} with its KV cache in {@code kv} and micro-batches of {@code ubatch} tokens attending
     * over {@code cellsPerStream} cells (the context of one sequence with a cache stream per sequence).
     */
    public static ModelSize of(ModelFootprint f, KvCacheType kv, int ubatch, long cellsPerStream) {
        return new ModelSize(f.layers(), f.repeatingLayerBytes(), f.placedOutputBytes() + f.otherBytes(),
                f.kvBytesPerToken(kv), f.computeBytes(ubatch, cellsPerStream));
    }

    /** A model given by its total weights, all counted as layers (tables and quick estimates). */
    public static ModelSize ofWeights(long weightBytes, int layers, long kvBytesPerToken, long computeBytes) {
        return new ModelSize(layers, weightBytes, 0, kvBytesPerToken, computeBytes);
    }

    /** Weights on the GPUs when all layers are offloaded. */
    public long weightBytes() {
        return layerBytes + outputBytes;
    }

    /** One layer's weights, rounded up. */
    public long bytesPerLayer() {
        return (layerBytes + layers - 1) / layers;
    }

    /** llama.cpp's {@code n_gpu_layers} that offloads everything: the layers and the output layer. */
    public int allGpuLayers() {
        return layers + 1;
    }
}
