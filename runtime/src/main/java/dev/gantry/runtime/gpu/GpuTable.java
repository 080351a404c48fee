package dev.gantry.runtime.gpu;

import dev.gantry.llama.gpu.GpuInfo;
import dev.gantry.llama.gpu.GpuInventory;
import dev.gantry.llama.gpu.GpuSource;
import dev.gantry.llama.gpu.PeerAccess;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The text of {@code java -jar runtime.jar gpus}: one row per GPU, the peer-to-peer matrix, what each source said
 * and what the merge noticed. Pure: the same input gives the same text. Plain ASCII, so it survives any terminal.
 */
public final class GpuTable {
    private static final double GIB = 1024.0 * 1024 * 1024;
    private static final String UNKNOWN = "-";
    private static final List<String> HEADER = List.of("GPU", "BACKEND", "NAME", "PCI BUS ID", "MEMORY FREE/TOTAL",
            "CC", "SMS", "BUS", "BANDWIDTH", "UTIL", "TEMP", "POWER");

    private GpuTable() {}

    /** The whole report: the GPUs (or that there are none), the matrix, the sources and the notes. */
    public static String render(GpuInventory inventory, Optional<Map<Integer, GpuSample>> samples) {
        StringBuilder out = new StringBuilder(render(inventory.gpus(), inventory.peers(), samples));
        out.append('\n');
        for (GpuSource s : inventory.sources()) {
            out.append(s).append('\n');
        }
        for (GpuInventory.Note n : inventory.notes()) {
            out.append("note: ").append(n.text()).append('\n');
        }
        return out.toString();
    }

    /** The GPU table and, for two GPUs or more, the peer-to-peer matrix. */
    public static String render(List<GpuInfo> gpus, PeerAccess peers, Optional<Map<Integer, GpuSample>> samples) {
        if (gpus.isEmpty()) {
            return "No GPU found: models run on the CPU.\n";
        }
        StringBuilder out = new StringBuilder(table(gpus, samples.orElse(Map.of())));
        if (gpus.size() > 1) {
            out.append('\n').append(peerMatrix(peers));
        }
        return out.toString();
    }

    static String table(List<GpuInfo> gpus, Map<Integer, GpuSample> samples) {
        List<List<String>> rows = new ArrayList<>();
        rows.add(HEADER);
        boolean anyStale = false;
        for (GpuInfo g : gpus) {
            GpuSample s = samples.get(g.index());
            anyStale |= s != null && s.stale();
            String mark = s != null && s.stale() ? "*" : "";
            long free = g.freeBytes() >= 0 ? g.freeBytes() : s == null ? -1 : s.memoryFreeBytes();
            long total = g.totalBytes() >= 0 ? g.totalBytes() : s == null ? -1 : s.memoryTotalBytes();
            rows.add(List.of(
                    String.valueOf(g.index()),
                    text(g.backendName()),
                    text(g.name()),
                    text(g.pciBusId()),
                    gib(free) + " / " + gib(total) + " GiB",
                    g.computeMajor() < 0 ? UNKNOWN : g.computeCapability(),
                    g.smCount() < 0 ? UNKNOWN : String.valueOf(g.smCount()),
                    g.memoryBusWidthBits() < 0 ? UNKNOWN : g.memoryBusWidthBits() + "-bit",
                    g.bandwidthBytesPerSecond() < 0 ? UNKNOWN
                            : String.format(Locale.ROOT, "%.0f GB/s", g.bandwidthBytesPerSecond() / 1e9),
                    s == null || s.utilizationPercent() < 0 ? UNKNOWN : s.utilizationPercent() + "%" + mark,
                    s == null || s.temperatureCelsius() < 0 ? UNKNOWN : s.temperatureCelsius() + "C" + mark,
                    s == null || Double.isNaN(s.powerWatts()) ? UNKNOWN
                            : String.format(Locale.ROOT, "%.0fW", s.powerWatts()) + mark));
        }
        String text = align(rows);
        return anyStale ? text + "* stale: the last reading of this GPU failed; these are the previous figures\n"
                : text;
    }

    /** {@code OK}: direct access from the row's GPU to the column's; {@code --}: none; {@code X}: itself. */
    static String peerMatrix(PeerAccess peers) {
        List<List<String>> rows = new ArrayList<>();
        List<String> header = new ArrayList<>();
        header.add("");
        peers.ids().forEach(id -> header.add("GPU" + id));
        rows.add(header);
        for (int from : peers.ids()) {
            List<String> row = new ArrayList<>();
            row.add("GPU" + from);
            for (int to : peers.ids()) {
                row.add(switch (peers.link(from, to)) {
                    case SELF -> "X";
                    case OK -> "OK";
                    case NONE -> "--";
                    case UNKNOWN -> "?";
                });
            }
            rows.add(row);
        }
        return "Peer-to-peer access, row to column (OK: direct, --: through the host, X: self, ?: unknown):\n"
                + align(rows);
    }

    private static String align(List<List<String>> rows) {
        int columns = rows.getFirst().size();
        int[] width = new int[columns];
        for (List<String> row : rows) {
            for (int c = 0; c < columns; c++) {
                width[c] = Math.max(width[c], row.get(c).length());
            }
        }
        StringBuilder out = new StringBuilder();
        for (List<String> row : rows) {
            StringBuilder line = new StringBuilder();
            for (int c = 0; c < columns; c++) {
                line.append(row.get(c)).append(" ".repeat(width[c] - row.get(c).length() + 2));
            }
            out.append(line.toString().stripTrailing()).append('\n');
        }
        return out.toString();
    }

    private static String gib(long bytes) {
        return bytes < 0 ? "?" : String.format(Locale.ROOT, "%.1f", bytes / GIB);
    }

    private static String text(String s) {
        return s == null || s.isEmpty() ? UNKNOWN : s;
    }
}
