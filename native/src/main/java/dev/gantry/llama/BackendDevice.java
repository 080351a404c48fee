package dev.gantry.llama;

/** One device in llama.cpp's backend registry, with its memory at the time it was read. */
public record BackendDevice(int index, String name, String description, Type type, long freeBytes, long totalBytes) {
    /** {@code enum ggml_backend_dev_type}. */
    public enum Type {
        CPU, GPU, IGPU, ACCEL, META, UNKNOWN;

        static Type of(int value) {
            Type[] all = values();
            return value >= 0 && value < all.length - 1 ? all[value] : UNKNOWN;
        }
    }

    public boolean isGpu() {
        return type == Type.GPU || type == Type.IGPU;
    }
}
