package dev.gantry.runtime.place;

import java.util.List;
import java.util.Locale;

/**
 * Memory arithmetic of one replica on a group of GPUs. The model's weights (and KV cache) are spread in
 * proportion to each GPU's usable memory, as the replica's tensor split says; every GPU also allocates its
 * own compute buffer. With a row split llama.cpp keeps the KV cache on the main GPU.
 *
 * <p>Stateless and thread-safe.
 */
final class Sizing {

    private static final double GIB = 1 << 30;

    private Sizing() {
    }

    /** Each GPU's share of the group: its usable memory over the group's; equal shares if none has any. */
    static double[] shares(List<Device> group, double fraction) {
        double[] s = new double[group.size()];
        double sum = 0;
        for (Device d : group) {
            sum += d.usableBytes(fraction);
        }
        for (int i = 0; i < s.length; i++) {
            s[i] = sum > 0 ? group.get(i).usableBytes(fraction) / sum : 1.0 / s.length;
        }
        return s;
    }

    /** {@link #shares} as llama.cpp's float {@code tensor_split}. */
    static float[] tensorSplit(List<Device> group, double fraction) {
        double[] s = shares(group, fraction);
        float[] f = new float[s.length];
        for (int i = 0; i < s.length; i++) {
            f[i] = (float) s[i];
        }
        return f;
    }

    /**
     * Bytes each GPU of {@code group} needs for {@code gpuLayers} (llama.cpp's {@code n_gpu_layers}) of the
     * model with {@code cells} KV cells in all.
     */
    static long[] bytes(List<Device> group, ModelSize m, SplitMode mode, int gpuLayers, long cells, double fraction) {
        int k = Math.min(gpuLayers, m.layers());
        boolean output = gpuLayers > m.layers();
        double weights = (k == m.layers() ? m.layerBytes() : (double) k * m.bytesPerLayer())
                + (output ? m.outputBytes() : 0);
        // each offloaded layer keeps its own KV cache on its GPU (llama.cpp's offload_kqv)
        double kv = (double) m.kvBytesPerToken() * cells * k / m.layers();
        double[] share = shares(group, fraction);
        long[] b = new long[group.size()];
        for (int i = 0; i < b.length; i++) {
            double kvHere = mode == SplitMode.ROW ? (i == 0 ? kv : 0) : kv * share[i];
            b[i] = (long) Math.ceil(weights * share[i] + kvHere) + m.computeBytes();
        }
        return b;
    }

    /** Whether every GPU's bytes stay within its usable memory. */
    static boolean fits(List<Device> group, long[] bytes, double fraction) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] > group.get(i).usableBytes(fraction)) {
                return false;
            }
        }
        return true;
    }

    /** Whether the whole model fits {@code group}. */
    static boolean fitsFully(List<Device> group, ModelSize m, SplitMode mode, long cells, double fraction) {
        return fits(group, bytes(group, m, mode, m.allGpuLayers(), cells, fraction), fraction);
    }

    /** The most repeating layers (not the output layer) that fit {@code group}: 0 to the model's layer count. */
    static int layersThatFit(List<Device> group, ModelSize m, SplitMode mode, long cells, double fraction) {
        int k = 0;
        while (k < m.layers() && fits(group, bytes(group, m, mode, k + 1, cells, fraction), fraction)) {
            k++;
        }
        return k;
    }

    /** Usable bytes of the group together. */
    static long usable(List<Device> group, double fraction) {
        return group.stream().mapToLong(d -> d.usableBytes(fraction)).sum();
    }

    /** Bytes needed in all, over the group. */
    static long total(long[] bytes) {
        long sum = 0;
        for (long b : bytes) {
            sum += b;
        }
        return sum;
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB", bytes / GIB);
    }
}
