package dev.gantry.server.ops.alert;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * When a GPU alert fires. Each rule holds for a while before it fires (a moment's spike is not an episode) and
 * resolves the first reading it no longer holds. Immutable.
 *
 * @param utilizationHighPercent above this share of busy time a GPU is saturated ...
 * @param utilizationHighFor     ... once it has been for this long (default 90% for a minute)
 * @param utilizationLowPercent  below this a GPU idles ...
 * @param utilizationLowFor      ... and, while requests wait, for this long it is an imbalance (default 10%, 30 s)
 * @param temperatureHighCelsius above this the GPU runs hot (default 80 °C)
 * @param memoryCeiling          above this share of its memory a GPU is full: the router's memory guard (0.95)
 * @param holdFor                how long the temperature and memory rules must hold before firing (default 0: the
 *                               first reading)
 */
public record AlertRules(double utilizationHighPercent, Duration utilizationHighFor, double utilizationLowPercent,
                         Duration utilizationLowFor, int temperatureHighCelsius, double memoryCeiling,
                         Duration holdFor) {

    public AlertRules {
        if (!(utilizationLowPercent >= 0 && utilizationLowPercent < utilizationHighPercent
                && utilizationHighPercent <= 100)) {
            throw new IllegalArgumentException("alert utilisation thresholds must satisfy 0 <= low < high <= 100, were "
                    + utilizationLowPercent + " and " + utilizationHighPercent);
        }
        if (!(memoryCeiling > 0 && memoryCeiling <= 1)) {
            throw new IllegalArgumentException("the alert memory ceiling must be in (0, 1], was " + memoryCeiling);
        }
        for (Duration d : new Duration[] {utilizationHighFor, utilizationLowFor, holdFor}) {
            if (d.isNegative()) {
                throw new IllegalArgumentException("alert durations must not be negative, was " + d);
            }
        }
    }

    public static AlertRules defaults() {
        return new AlertRules(90, Duration.ofMinutes(1), 10, Duration.ofSeconds(30), 80,
                dev.gantry.runtime.route.RoutePolicy.DEFAULT_MEMORY_CEILING, Duration.ZERO);
    }

    /**
     * The defaults, overridden by {@code GANTRY_ALERT_GPU_UTIL_HIGH} (percent), {@code GANTRY_ALERT_GPU_UTIL_LOW}
     * (percent), {@code GANTRY_ALERT_GPU_TEMP_C} and {@code GANTRY_ALERT_GPU_MEMORY} (a fraction).
     */
    public static AlertRules fromEnv(Map<String, String> env) {
        AlertRules d = defaults();
        return new AlertRules(number(env, "GANTRY_ALERT_GPU_UTIL_HIGH", d.utilizationHighPercent()),
                d.utilizationHighFor(), number(env, "GANTRY_ALERT_GPU_UTIL_LOW", d.utilizationLowPercent()),
                d.utilizationLowFor(), (int) number(env, "GANTRY_ALERT_GPU_TEMP_C", d.temperatureHighCelsius()),
                number(env, "GANTRY_ALERT_GPU_MEMORY", d.memoryCeiling()), d.holdFor());
    }

    private static double number(Map<String, String> env, String name, double fallback) {
        Optional<String> v = Optional.ofNullable(env.get(name)).map(String::strip).filter(s -> !s.isEmpty());
        try {
            return v.map(Double::parseDouble).orElse(fallback);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a number, was \"" + v.get() + "\"");
        }
    }
}
