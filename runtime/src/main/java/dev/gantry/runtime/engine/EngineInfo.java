package dev.gantry.runtime.engine;

import java.util.List;

/**
 * What a loaded replica is: its shape and where it lives.
 *
 * @param backend     "cpu" or the GPU backend's name
 * @param devices     the devices holding it, for {@code /api/ps}
 * @param vramBytes   bytes of weights on GPUs (0 on the CPU)
 */
public record EngineInfo(int vocabSize, int contextTrainLength, long sizeBytes, long parameterCount, String backend,
                         List<String> devices, long vramBytes, boolean backendSamplingSupported) {
    public EngineInfo {
        devices = List.copyOf(devices);
    }
}
