package dev.gantry.server.http;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The largest request body each path accepts: a default, and limits by path prefix (the longest matching prefix
 * wins). A body over its limit is refused with 413 before it is read whole. Immutable.
 *
 * <p>Limits above the default only help routes that read their body as a stream (blob uploads): the aggregating
 * routes never hold more than the default in memory.
 */
public record BodyLimits(long defaultBytes, Map<String, Long> byPrefix) {
    public static final long DEFAULT_BYTES = 64L << 20;
    /** Blobs are whole model files; the largest GGUFs are a few hundred GiB. */
    public static final long BLOB_BYTES = 1L << 40;

    public BodyLimits {
        if (defaultBytes < 1024) {
            throw new IllegalArgumentException("the default body limit must be >= 1024 bytes, was " + defaultBytes);
        }
        byPrefix = Map.copyOf(byPrefix);
        byPrefix.forEach((p, n) -> {
            if (!p.startsWith("/") || n < 0) {
                throw new IllegalArgumentException("body limit " + p + "=" + n + ": a path starting with / and a size >= 0");
            }
        });
    }

    /** 64 MiB, and 1 TiB under {@code /api/blobs/}. */
    public static BodyLimits defaults() {
        return new BodyLimits(DEFAULT_BYTES, Map.of("/api/blobs/", BLOB_BYTES));
    }

    /**
     * Parses {@code GANTRY_BODY_LIMITS}: comma-separated {@code PREFIX=SIZE} and {@code default=SIZE}, sizes in bytes
     * or with {@code k}, {@code m}, {@code g}, {@code t} (powers of 1024); unnamed paths keep the defaults above.
     */
    public static BodyLimits parse(String spec) {
        long def = DEFAULT_BYTES;
        Map<String, Long> map = new LinkedHashMap<>(defaults().byPrefix());
        for (String part : spec.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            int eq = part.indexOf('=');
            if (eq < 1) {
                throw new IllegalArgumentException("GANTRY_BODY_LIMITS: \"" + part.strip() + "\" is not PATH=SIZE");
            }
            String key = part.substring(0, eq).strip();
            long size = size(part.substring(eq + 1).strip());
            if (key.equals("default")) {
                def = size;
            } else {
                map.put(key, size);
            }
        }
        return new BodyLimits(def, map);
    }

    /** The limit for a request path (without the query). */
    public long limitFor(String path) {
        String best = null;
        for (String prefix : byPrefix.keySet()) {
            if (path.startsWith(prefix) && (best == null || prefix.length() > best.length())) {
                best = prefix;
            }
        }
        return best == null ? defaultBytes : byPrefix.get(best);
    }

    /** The largest limit of any path. */
    public long largest() {
        return byPrefix.values().stream().mapToLong(Long::longValue).reduce(defaultBytes, Math::max);
    }

    @Override
    public String toString() {
        List<String> parts = new ArrayList<>(List.of("default=" + defaultBytes));
        byPrefix.entrySet().stream().sorted(Map.Entry.comparingByKey(Comparator.naturalOrder()))
                .forEach(e -> parts.add(e.getKey() + "=" + e.getValue()));
        return String.join(",", parts);
    }

    static long size(String s) {
        String v = s.toLowerCase(Locale.ROOT);
        int shift = 0;
        if (!v.isEmpty()) {
            switch (v.charAt(v.length() - 1)) {
                case 'k' -> shift = 10;
                case 'm' -> shift = 20;
                case 'g' -> shift = 30;
                case 't' -> shift = 40;
                default -> shift = 0;
            }
        }
        String digits = shift == 0 ? v : v.substring(0, v.length() - 1);
        try {
            long n = Long.parseLong(digits.strip());
            if (n < 0 || (shift > 0 && n > (Long.MAX_VALUE >> shift))) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("GANTRY_BODY_LIMITS: \"" + s + "\" is not a size (bytes, or 64m, 2g, ...)");
        }
    }
}
