package dev.gantry.runtime.gpu;

import dev.gantry.llama.BackendDevice;
import dev.gantry.llama.gpu.CudaDevice;
import dev.gantry.llama.gpu.CudaTopology;
import dev.gantry.llama.gpu.NvmlDevice;
import dev.gantry.llama.gpu.PeerAccess;
import dev.gantry.llama.gpu.PeerAccess.Link;
import dev.gantry.llama.gpu.Probe;
import java.util.List;

/** Made-up hosts for the runtime's GPU tests. */
final class GpuHosts {
    static final long GIB = 1L << 30;
    static final BackendDevice CPU = new BackendDevice(0, "CPU", "CPU", BackendDevice.Type.CPU, 0, 0);

    private GpuHosts() {}

    static Probe<List<BackendDevice>> llama(int gpus) {
        List<BackendDevice> devices = new java.util.ArrayList<>(List.of(CPU));
        for (int i = 0; i < gpus; i++) {
            devices.add(new BackendDevice(i + 1, "CUDA" + i, "NVIDIA H100 80GB HBM3", BackendDevice.Type.GPU,
                    (70 + i) * GIB, 79 * GIB));
        }
        return Probe.found(devices);
    }

    /** Two H100s on buses 0x18 and 0x2a, peer access one way only, so the matrix shows both answers. */
    static Probe<CudaTopology> twoH100s() {
        return Probe.found(new CudaTopology(13000, List.of(
                new CudaDevice(0, "NVIDIA H100 80GB HBM3", 85_045_231_616L, 9, 0, 132, 5120, 2_619_000,
                        "0000:18:00.0"),
                new CudaDevice(1, "NVIDIA H100 80GB HBM3", 85_045_231_616L, 9, 0, 132, 5120, 2_619_000,
                        "0000:2a:00.0")),
                PeerAccess.of(List.of(0, 1), new Link[][] {{Link.SELF, Link.OK}, {Link.NONE, Link.SELF}})));
    }

    /** NVML's view of the same host, listed the other way round. */
    static List<NvmlDevice> nvml() {
        return List.of(new NvmlDevice(0, "NVIDIA H100 80GB HBM3", "GPU-b", "0000:2a:00.0"),
                new NvmlDevice(1, "NVIDIA H100 80GB HBM3", "GPU-a", "0000:18:00.0"));
    }
}
