package dev.gantry.llama.gpu;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A CUDA driver of made-up devices; a query listed in {@link #failing} throws as JCuda does. */
final class FakeCudaDriver implements CudaDriverApi {
    /** One device: its name, memory and attributes by {@code CUdevice_attribute}. */
    record Device(String name, long totalBytes, Map<Integer, Integer> attributes) {}

    final List<Device> devices;
    final Set<String> failing = new HashSet<>();
    /** Pairs "from>to" with peer access. */
    final Set<String> peers = new HashSet<>();

    FakeCudaDriver(List<Device> devices) {
        this.devices = devices;
    }

    static Device h100(int domain, int bus) {
        Map<Integer, Integer> a = new HashMap<>();
        a.put(CudaTopology.ATTR_COMPUTE_CAPABILITY_MAJOR, 9);
        a.put(CudaTopology.ATTR_COMPUTE_CAPABILITY_MINOR, 0);
        a.put(CudaTopology.ATTR_MULTIPROCESSOR_COUNT, 132);
        a.put(CudaTopology.ATTR_GLOBAL_MEMORY_BUS_WIDTH, 5120);
        a.put(CudaTopology.ATTR_MEMORY_CLOCK_RATE, 2_619_000);
        a.put(CudaTopology.ATTR_PCI_DOMAIN_ID, domain);
        a.put(CudaTopology.ATTR_PCI_BUS_ID, bus);
        a.put(CudaTopology.ATTR_PCI_DEVICE_ID, 0);
        return new Device("NVIDIA H100 80GB HBM3", 85_045_231_616L, a);
    }

    FakeCudaDriver connect(int from, int to) {
        peers.add(from + ">" + to);
        return this;
    }

    @Override
    public int driverVersion() {
        fail("version");
        return 13000;
    }

    @Override
    public int deviceCount() {
        fail("count");
        return devices.size();
    }

    @Override
    public String name(int ordinal) {
        fail("name");
        return devices.get(ordinal).name();
    }

    @Override
    public long totalMemory(int ordinal) {
        fail("memory");
        return devices.get(ordinal).totalBytes();
    }

    @Override
    public int attribute(int attribute, int ordinal) {
        fail("attribute " + attribute);
        Integer v = devices.get(ordinal).attributes().get(attribute);
        if (v == null) {
            throw new IllegalStateException("CUDA_ERROR_INVALID_VALUE");
        }
        return v;
    }

    @Override
    public boolean canAccessPeer(int ordinal, int peerOrdinal) {
        fail("peer " + ordinal + ">" + peerOrdinal);
        return peers.contains(ordinal + ">" + peerOrdinal);
    }

    private void fail(String query) {
        if (failing.contains(query)) {
            throw new IllegalStateException("CUDA_ERROR_UNKNOWN in " + query);
        }
    }
}
