package dev.gantry.runtime.gpu;

import dev.gantry.llama.gpu.GpuTelemetry;
import dev.gantry.llama.gpu.NvmlDevice;
import dev.gantry.llama.gpu.NvmlSample;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Telemetry of made-up GPUs whose readings a test sets while the monitor's thread reads them: thread-safe. Each
 * reading of a device counts, so a test can wait for the sampler to have gone round.
 */
final class FakeTelemetry implements GpuTelemetry {
    final List<NvmlDevice> devices;
    final Map<Integer, NvmlSample> readings = new ConcurrentHashMap<>();
    final Set<Integer> failing = ConcurrentHashMap.newKeySet();
    final AtomicInteger samples = new AtomicInteger();
    final AtomicInteger closes = new AtomicInteger();
    volatile boolean closed;

    FakeTelemetry(List<NvmlDevice> devices) {
        this.devices = devices;
        devices.forEach(d -> readings.put(d.index(), reading(10 * d.index())));
    }

    static NvmlSample reading(int utilization) {
        return new NvmlSample(utilization, 5, 2L << 30, 80L << 30, 40, 150.5);
    }

    @Override
    public List<NvmlDevice> devices() {
        return devices;
    }

    @Override
    public NvmlSample sample(NvmlDevice device) {
        if (closed) {
            throw new AssertionError("sampled after close");
        }
        samples.incrementAndGet();
        if (failing.contains(device.index())) {
            throw new IllegalStateException("nvmlDeviceGetMemoryInfo failed: GPU is lost (NVML error 15)");
        }
        return readings.get(device.index());
    }

    @Override
    public void close() {
        closes.incrementAndGet();
        closed = true;
    }
}
