package dev.gantry.llama.gpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The CUDA devices this process may use and the peer-to-peer access between them, read once through the CUDA driver
 * API (JCuda). Immutable. The driver applies {@code CUDA_VISIBLE_DEVICES}, so ordinals here are the ones llama.cpp's
 * CUDA backend uses.
 *
 * <p>Reading it creates no CUDA context: attribute and peer queries need none, so no GPU memory is taken.
 *
 * @param driverVersion {@code cuDriverGetVersion} (e.g. 13000 for CUDA 13.0), -1 when unknown
 * @param devices       by ordinal
 * @param peers         over the ordinals
 */
public record CudaTopology(int driverVersion, List<CudaDevice> devices, PeerAccess peers) {
    private static final System.Logger LOG = System.getLogger("gantry.gpu");

    // CUdevice_attribute values, as in cuda.h (and jcuda.driver.CUdevice_attribute)
    static final int ATTR_MULTIPROCESSOR_COUNT = 16;
    static final int ATTR_PCI_BUS_ID = 33;
    static final int ATTR_PCI_DEVICE_ID = 34;
    static final int ATTR_MEMORY_CLOCK_RATE = 36;
    static final int ATTR_GLOBAL_MEMORY_BUS_WIDTH = 37;
    static final int ATTR_PCI_DOMAIN_ID = 50;
    static final int ATTR_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int ATTR_COMPUTE_CAPABILITY_MINOR = 76;

    private static Probe<CudaTopology> system;

    public CudaTopology {
        devices = List.copyOf(devices);
    }

    /**
     * This process's CUDA topology, read on the first call and kept: the visible devices cannot change within a
     * process, and a JCuda that failed to load cannot be retried. Unavailable, with the reason, without
     * {@code libcuda.so.1}, without a visible device ({@code CUDA_ERROR_NO_DEVICE}, also when
     * {@code CUDA_VISIBLE_DEVICES} hides every GPU), or without JCuda on the class path; logged once.
     */
    public static synchronized Probe<CudaTopology> probe() {
        if (system == null) {
            system = probe(JCudaDriverApi::open);
            if (!system.isAvailable()) {
                LOG.log(System.Logger.Level.INFO, "CUDA driver: unavailable ({0}); no GPU topology",
                        system.reason());
            } else {
                LOG.log(System.Logger.Level.DEBUG, "CUDA driver: {0}", system.get());
            }
        }
        return system;
    }

    /**
     * Opens the driver with {@code opener} and reads the topology; any failure to open (a linkage error from JCuda's
     * natives included) or to count the devices makes it unavailable.
     */
    static Probe<CudaTopology> probe(Supplier<? extends CudaDriverApi> opener) {
        try {
            return Probe.found(read(opener.get()));
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            // UnsatisfiedLinkError (no libcuda.so.1), NoClassDefFoundError (no JCuda), CudaException (cuInit failed)
            String reason = Probe.summarise(t);
            if (reason.contains("CUDA_ERROR_NO_DEVICE")) {
                reason = "no CUDA device visible (" + reason + visibleDevices().map(v ->
                        ", CUDA_VISIBLE_DEVICES=" + v).orElse("") + ")";
            }
            return Probe.unavailable(reason, t);
        }
    }

    /**
     * Reads every device and every pair. A device count that fails fails the whole; a single attribute or peer query
     * that fails only makes that figure unknown.
     */
    static CudaTopology read(CudaDriverApi api) {
        int version = intOr(api::driverVersion, "cuDriverGetVersion");
        int n = api.deviceCount();
        List<CudaDevice> devices = new ArrayList<>(n);
        List<Integer> ordinals = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int ordinal = i;
            String name = orElse(() -> api.name(ordinal), "");
            int domain = attribute(api, ATTR_PCI_DOMAIN_ID, i);
            int bus = attribute(api, ATTR_PCI_BUS_ID, i);
            int device = attribute(api, ATTR_PCI_DEVICE_ID, i);
            // a CUDA device is PCI function 0; the bus and device numbers are what tell GPUs apart
            String busId = domain < 0 || bus < 0 || device < 0 ? "" : PciBusId.of(domain, bus, device, 0);
            devices.add(new CudaDevice(i, name.isEmpty() ? "CUDA device " + i : name,
                    longOr(() -> api.totalMemory(ordinal), "cuDeviceTotalMem"),
                    attribute(api, ATTR_COMPUTE_CAPABILITY_MAJOR, i), attribute(api, ATTR_COMPUTE_CAPABILITY_MINOR, i),
                    attribute(api, ATTR_MULTIPROCESSOR_COUNT, i), attribute(api, ATTR_GLOBAL_MEMORY_BUS_WIDTH, i),
                    attribute(api, ATTR_MEMORY_CLOCK_RATE, i), busId));
            ordinals.add(i);
        }
        PeerAccess.Link[][] links = new PeerAccess.Link[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                links[i][j] = i == j ? PeerAccess.Link.SELF : peer(api, i, j);
            }
        }
        return new CudaTopology(version, devices, PeerAccess.of(ordinals, links));
    }

    /** The device with this ordinal. */
    public Optional<CudaDevice> device(int ordinal) {
        return ordinal >= 0 && ordinal < devices.size() ? Optional.of(devices.get(ordinal)) : Optional.empty();
    }

    /** The driver's CUDA version as {@code major.minor}, e.g. {@code 13.0}; {@code ?} when unknown. */
    public String driverVersionText() {
        return driverVersion <= 0 ? "?" : driverVersion / 1000 + "." + driverVersion % 1000 / 10;
    }

    static Optional<String> visibleDevices() {
        return Optional.ofNullable(System.getenv("CUDA_VISIBLE_DEVICES"));
    }

    private static PeerAccess.Link peer(CudaDriverApi api, int from, int to) {
        try {
            return api.canAccessPeer(from, to) ? PeerAccess.Link.OK : PeerAccess.Link.NONE;
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "cuDeviceCanAccessPeer({0}, {1}): {2}", from, to, e.getMessage());
            return PeerAccess.Link.UNKNOWN;
        }
    }

    private static int attribute(CudaDriverApi api, int attribute, int ordinal) {
        return intOr(() -> api.attribute(attribute, ordinal), "cuDeviceGetAttribute(" + attribute + ", " + ordinal
                + ")");
    }

    private static int intOr(IntSupplier query, String what) {
        try {
            return query.getAsInt();
        } catch (RuntimeException e) {
            // one attribute a driver does not know (deprecated in a later CUDA) must not hide the device
            LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", what, e.getMessage());
            return -1;
        }
    }

    private static long longOr(LongSupplier query, String what) {
        try {
            return query.getAsLong();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", what, e.getMessage());
            return -1;
        }
    }

    private static String orElse(Supplier<String> query, String fallback) {
        try {
            String s = query.get();
            return s == null ? fallback : s;
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "cuDeviceGetName: {0}", e.getMessage());
            return fallback;
        }
    }
}
