package dev.gantry.llama.gpu;

/**
 * The few CUDA driver calls {@link CudaTopology} makes, by ordinal. {@link JCudaDriverApi} on a GPU host; a fake in
 * tests. Every method throws (a RuntimeException) when the driver returns an error.
 */
interface CudaDriverApi {
    /** {@code cuDriverGetVersion}: 1000 × major + 10 × minor, e.g. 13000. */
    int driverVersion();

    /** {@code cuDeviceGetCount}: the devices {@code CUDA_VISIBLE_DEVICES} leaves visible. */
    int deviceCount();

    String name(int ordinal);

    long totalMemory(int ordinal);

    /** {@code cuDeviceGetAttribute}; {@code attribute} is a {@code CUdevice_attribute} value. */
    int attribute(int attribute, int ordinal);

    boolean canAccessPeer(int ordinal, int peerOrdinal);
}
