package dev.gantry.runtime;

import dev.gantry.runtime.place.SplitMode;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Decode rates measured for a model split over a group of GPUs, by split mode, remembered across restarts: the
 * first load of a split model measures layer against tensor split (two extra loads), later loads reuse the figures.
 * Keyed by the model's content key ({@code LocalModel.contentKey()}) and the group's GPU names, so the same model
 * on other cards measures again. Stored as a properties file (one line per model, group and mode); deleting it
 * measures everything again.
 *
 * <p>Thread-safe: every method holds the instance's lock (loads of different models may measure at once).
 */
final class SplitMeasurements {
    private static final System.Logger LOG = System.getLogger("gantry.models");

    private final Path file;
    private final Map<String, Map<SplitMode, Double>> byKey = new HashMap<>();

    /** @param file where the figures are kept, or null to keep them in memory only */
    SplitMeasurements(Path file) {
        this.file = file;
        if (file != null && Files.isRegularFile(file)) {
            Properties p = new Properties();
            try (Reader in = Files.newBufferedReader(file)) {
                p.load(in);
                for (String name : p.stringPropertyNames()) {
                    int dot = name.lastIndexOf('.');
                    double rate = parse(p.getProperty(name));
                    if (dot > 0 && rate > 0) {
                        try {
                            SplitMode mode = SplitMode.parse(name.substring(dot + 1));
                            byKey.computeIfAbsent(name.substring(0, dot), k -> new EnumMap<>(SplitMode.class))
                                    .put(mode, rate);
                        } catch (IllegalArgumentException unknownMode) {
                            // a line this version does not know: skipped
                        }
                    }
                }
            } catch (IOException | IllegalArgumentException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot read the split measurements in {0} ({1}): measuring "
                        + "again", file, e.getMessage());
            }
        }
    }

    /** The key of a model split over GPUs of these names. */
    static String key(String modelKey, List<String> gpuNames) {
        String digest = modelKey.startsWith("sha256:") ? modelKey.substring(7) : modelKey;
        return digest + "@" + String.join("+", gpuNames).replaceAll("[^A-Za-z0-9+_-]", "_");
    }

    /** The rates measured for a key, by mode; empty when none were. */
    synchronized Map<SplitMode, Double> get(String key) {
        Map<SplitMode, Double> m = byKey.get(key);
        return m == null ? Map.of() : Map.copyOf(m);
    }

    /** Remembers a key's rates (modes that failed to load are left out) and writes the file. */
    synchronized void put(String key, Map<SplitMode, Double> rates) {
        Map<SplitMode, Double> kept = new EnumMap<>(SplitMode.class);
        rates.forEach((mode, rate) -> {
            if (rate != null && rate > 0) {
                kept.put(mode, rate);
            }
        });
        byKey.put(key, kept);
        if (file == null) {
            return;
        }
        Map<String, String> sorted = new TreeMap<>();
        byKey.forEach((k, m) -> m.forEach((mode, rate) -> sorted.put(k + "." + mode.label(),
                String.format(Locale.ROOT, "%.2f", rate))));
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), "split", ".tmp");
            try (Writer out = Files.newBufferedWriter(tmp)) {
                out.write("# decode tokens/s of split models by GPU group and split mode, measured by Gantry"
                        + " at load\n");
                for (Map.Entry<String, String> e : sorted.entrySet()) {
                    out.write(e.getKey() + "=" + e.getValue() + "\n");
                }
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot write the split measurements to {0} ({1}): they hold "
                    + "until the server stops", file, e.getMessage());
        }
    }

    private static double parse(String v) {
        try {
            return Double.parseDouble(v.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
