package dev.gantry.llama.gpu;

import java.nio.charset.StandardCharsets;
import jcuda.driver.CUdevice;
import jcuda.driver.JCudaDriver;

/**
 * {@link CudaDriverApi} through JCuda's driver binding. JCuda's JNI library links {@code libcuda.so.1}, which comes
 * with the NVIDIA driver; where it is missing, the first touch of {@link JCudaDriver} throws an
 * {@link UnsatisfiedLinkError} (and every later touch a {@link NoClassDefFoundError}), so {@link CudaTopology}
 * opens this once and keeps the outcome. Stateless; the driver API is thread-safe.
 */
final class JCudaDriverApi implements CudaDriverApi {
    private JCudaDriverApi() {}

    /** Loads JCuda's natives and calls {@code cuInit(0)}; throws whatever that throws. */
    static JCudaDriverApi open() {
        // errors become CudaExceptions named after the CUresult instead of return codes to check
        JCudaDriver.setExceptionsEnabled(true);
        JCudaDriver.cuInit(0);
        return new JCudaDriverApi();
    }

    @Override
    public int driverVersion() {
        int[] version = new int[1];
        JCudaDriver.cuDriverGetVersion(version);
        return version[0];
    }

    @Override
    public int deviceCount() {
        int[] count = new int[1];
        JCudaDriver.cuDeviceGetCount(count);
        return count[0];
    }

    @Override
    public String name(int ordinal) {
        byte[] name = new byte[256];
        JCudaDriver.cuDeviceGetName(name, name.length, device(ordinal));
        int end = 0;
        while (end < name.length && name[end] != 0) {
            end++;
        }
        return new String(name, 0, end, StandardCharsets.UTF_8).strip();
    }

    @Override
    public long totalMemory(int ordinal) {
        long[] bytes = new long[1];
        JCudaDriver.cuDeviceTotalMem(bytes, device(ordinal));
        return bytes[0];
    }

    @Override
    public int attribute(int attribute, int ordinal) {
        int[] value = new int[1];
        JCudaDriver.cuDeviceGetAttribute(value, attribute, device(ordinal));
        return value[0];
    }

    @Override
    public boolean canAccessPeer(int ordinal, int peerOrdinal) {
        int[] can = new int[1];
        JCudaDriver.cuDeviceCanAccessPeer(can, device(ordinal), device(peerOrdinal));
        return can[0] != 0;
    }

    private static CUdevice device(int ordinal) {
        CUdevice device = new CUdevice();
        JCudaDriver.cuDeviceGet(device, ordinal);
        return device;
    }
}
