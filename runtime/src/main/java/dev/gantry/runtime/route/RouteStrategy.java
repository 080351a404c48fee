package dev.gantry.runtime.route;

import java.util.Locale;

/** How a {@link Router} spreads requests over a model's replicas. */
public enum RouteStrategy {
    /** The replica with the lowest {@link RoutePolicy#score load score} (default). */
    LEAST_LOADED,
    /** Each replica in turn. */
    ROUND_ROBIN,
    /** In proportion to each replica's measured weight, regardless of load. */
    WEIGHTED;

    /** Lower-case, dashed name: {@code least-loaded}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * Parses {@code least-loaded}, {@code round-robin} or {@code weighted} (any case; {@code _} for {@code -}).
     * Blank is the default, {@link #LEAST_LOADED}.
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static RouteStrategy parse(String s) {
        if (s == null || s.isBlank()) {
            return LEAST_LOADED;
        }
        String v = s.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (RouteStrategy r : values()) {
            if (r.name().equals(v)) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown routing strategy \"" + s
                + "\": expected least-loaded, round-robin or weighted");
    }
}
