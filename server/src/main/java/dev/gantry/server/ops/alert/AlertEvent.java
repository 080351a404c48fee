package dev.gantry.server.ops.alert;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An alert's episode starting ({@link State#FIRING}) or ending ({@link State#RESOLVED}). Immutable.
 *
 * @param value     the figure that crossed (or came back under) the threshold: percent, °C, or a memory fraction
 * @param threshold the rule's threshold, in the same unit
 * @param at        when the reading that decided it was taken
 */
public record AlertEvent(AlertKind kind, State state, int gpu, double value, double threshold, Instant at,
                         String message) {

    /** Whether an episode starts or ends. */
    public enum State {
        FIRING, RESOLVED;

        public String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The webhook's JSON object, as a map in a stable field order. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", "gantry");
        m.put("alert", kind.wire());
        m.put("state", state.wire());
        m.put("gpu", gpu);
        m.put("value", value);
        m.put("threshold", threshold);
        m.put("at", at.toString());
        m.put("message", message);
        return m;
    }
}
