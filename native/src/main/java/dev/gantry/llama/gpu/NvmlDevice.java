package dev.gantry.llama.gpu;

/**
 * One GPU as NVML lists it. NVML sees every GPU of the host in PCI order and ignores {@code CUDA_VISIBLE_DEVICES}, so
 * {@code index} is NVML's own and may differ from the CUDA ordinal: match the two by {@code pciBusId}.
 *
 * @param index    NVML's index, what {@code nvidia-smi} shows
 * @param name     the product name, e.g. {@code NVIDIA H100 80GB HBM3}
 * @param uuid     {@code GPU-xxxxxxxx-...}; empty when NVML would not tell
 * @param pciBusId lower-case {@code dddd:bb:dd.f} ({@link PciBusId}); empty when NVML would not tell
 */
public record NvmlDevice(int index, String name, String uuid, String pciBusId) {}
