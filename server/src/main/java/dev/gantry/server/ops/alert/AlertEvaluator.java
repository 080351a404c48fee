package dev.gantry.server.ops.alert;

import dev.gantry.runtime.gpu.GpuSample;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns a stream of GPU readings into alert episodes: an event when a rule has held for its time ({@code FIRING})
 * and one when it stops holding ({@code RESOLVED}), nothing in between, so each episode is reported once however
 * long it lasts. Pure apart from its own memory of open episodes: the same readings give the same events; the time
 * is the caller's. Not thread-safe: one evaluating thread.
 *
 * <p>A stale reading (NVML failed; the figures are the previous ones) and an unknown figure (-1) change nothing: an
 * open episode stays open and a pending one keeps its start.
 */
public final class AlertEvaluator {
    private final AlertRules rules;
    /** Per GPU and rule: since when it has held (null: it does not), and whether its episode was reported. */
    private final Map<Integer, Map<AlertKind, Episode>> episodes = new HashMap<>();

    private static final class Episode {
        Instant since;
        boolean firing;
    }

    public AlertEvaluator(AlertRules rules) {
        this.rules = rules;
    }

    public AlertRules rules() {
        return rules;
    }

    /**
     * Evaluates one round of readings.
     *
     * @param now             the time of the readings
     * @param samples         each GPU's latest reading, by index
     * @param waitingRequests requests queued for a sequence slot, over every loaded model
     * @return the episodes that start or end now, by GPU then rule
     */
    public List<AlertEvent> evaluate(Instant now, Map<Integer, GpuSample> samples, int waitingRequests) {
        List<AlertEvent> out = new ArrayList<>();
        for (GpuSample s : new TreeMap<>(samples).values()) {
            if (s.stale()) {
                continue;
            }
            int gpu = s.gpu();
            if (s.utilizationPercent() >= 0) {
                double u = s.utilizationPercent();
                check(out, now, gpu, AlertKind.GPU_UTILIZATION_HIGH, u > rules.utilizationHighPercent(), u,
                        rules.utilizationHighPercent(), rules.utilizationHighFor(),
                        String.format(Locale.ROOT, "GPU %d utilisation %.0f%% above %.0f%%", gpu, u,
                                rules.utilizationHighPercent()));
                check(out, now, gpu, AlertKind.GPU_IDLE_WHILE_WAITING,
                        u < rules.utilizationLowPercent() && waitingRequests > 0, u, rules.utilizationLowPercent(),
                        rules.utilizationLowFor(),
                        String.format(Locale.ROOT, "GPU %d utilisation %.0f%% below %.0f%% while %d request(s) wait",
                                gpu, u, rules.utilizationLowPercent(), waitingRequests));
            }
            if (s.temperatureCelsius() >= 0) {
                double t = s.temperatureCelsius();
                check(out, now, gpu, AlertKind.GPU_TEMPERATURE_HIGH, t > rules.temperatureHighCelsius(), t,
                        rules.temperatureHighCelsius(), rules.holdFor(),
                        String.format(Locale.ROOT, "GPU %d temperature %.0f C above %d C", gpu, t,
                                rules.temperatureHighCelsius()));
            }
            if (s.memoryUsedBytes() >= 0 && s.memoryTotalBytes() > 0) {
                double used = s.memoryUsedBytes() / (double) s.memoryTotalBytes();
                check(out, now, gpu, AlertKind.GPU_MEMORY_HIGH, used > rules.memoryCeiling(), used,
                        rules.memoryCeiling(), rules.holdFor(),
                        String.format(Locale.ROOT, "GPU %d memory %.1f%% used, above the ceiling of %.1f%%", gpu,
                                100 * used, 100 * rules.memoryCeiling()));
            }
        }
        return out;
    }

    /** Whether {@code kind}'s episode on {@code gpu} is open (has fired and not resolved). */
    public boolean isFiring(int gpu, AlertKind kind) {
        Episode e = episodes.getOrDefault(gpu, Map.of()).get(kind);
        return e != null && e.firing;
    }

    private void check(List<AlertEvent> out, Instant now, int gpu, AlertKind kind, boolean holds, double value,
                       double threshold, Duration holdFor, String message) {
        Episode e = episodes.computeIfAbsent(gpu, g -> new HashMap<>()).computeIfAbsent(kind, k -> new Episode());
        if (holds) {
            if (e.since == null) {
                e.since = now;
            }
            if (!e.firing && Duration.between(e.since, now).compareTo(holdFor) >= 0) {
                e.firing = true;
                out.add(new AlertEvent(kind, AlertEvent.State.FIRING, gpu, value, threshold, now, message));
            }
        } else {
            e.since = null;
            if (e.firing) {
                e.firing = false;
                out.add(new AlertEvent(kind, AlertEvent.State.RESOLVED, gpu, value, threshold, now,
                        String.format(Locale.ROOT, "GPU %d recovered from %s (now %s)", gpu, kind.wire(),
                                kind == AlertKind.GPU_MEMORY_HIGH ? String.format(Locale.ROOT, "%.1f%%", 100 * value)
                                        : String.format(Locale.ROOT, "%.0f", value))));
            }
        }
    }
}
