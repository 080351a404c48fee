package dev.gantry.llama;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The buffers llama.cpp reported in its log while a report was open (see {@link LlamaCpp#recordBuffers()}), added
 * up per device name ({@code CUDA0}, {@code CUDA_Host}, {@code CPU_Mapped}, ...). llama.cpp states what it allocated
 * only in these log lines (weights, KV cache, compute and output buffers), so they are the figure an estimate is
 * checked against. Thread-safe.
 */
public final class BufferReport implements AutoCloseable {
    static volatile BufferReport active;

    private static final Pattern LINE = Pattern.compile(
            "(\\S+) (model|KV|compute|output|RS|recurrent) buffer size\\s*=\\s*([0-9.]+) MiB");

    private final Map<String, Long> bytesByDevice = new LinkedHashMap<>();

    BufferReport() {
    }

    /** Reads one log line; ignores every line that is not a buffer size. */
    void accept(String line) {
        Matcher m = LINE.matcher(line);
        if (!m.find()) {
            return;
        }
        long bytes = (long) (Double.parseDouble(m.group(3)) * 1024 * 1024);
        synchronized (bytesByDevice) {
            bytesByDevice.merge(m.group(1), bytes, Long::sum);
        }
    }

    /** Bytes per device name, in the order llama.cpp first named each. */
    public Map<String, Long> bytesByDevice() {
        synchronized (bytesByDevice) {
            return Map.copyOf(new LinkedHashMap<>(bytesByDevice));
        }
    }

    /** Bytes on {@code CUDA<index>} (llama.cpp's name for a CUDA device), 0 when it reported none. */
    public long cudaBytes(int index) {
        synchronized (bytesByDevice) {
            return bytesByDevice.getOrDefault("CUDA" + index, 0L);
        }
    }

    /** Stops recording. */
    @Override
    public void close() {
        if (active == this) {
            active = null;
        }
    }
}
