package dev.gantry.server.ops;

import dev.gantry.server.ops.alert.AlertRules;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * How Gantry behaves as a service: how long a SIGTERM waits for requests in flight ({@code GANTRY_DRAIN_SECONDS},
 * default 30), and where GPU alerts go ({@code GANTRY_ALERT_WEBHOOK}) under which thresholds. Immutable.
 */
public record OpsConfig(Duration drainTimeout, Optional<URI> alertWebhook, AlertRules alertRules) {
    public static final Duration DEFAULT_DRAIN = Duration.ofSeconds(30);

    public OpsConfig {
        if (drainTimeout.isNegative()) {
            throw new IllegalArgumentException("GANTRY_DRAIN_SECONDS must be >= 0, was " + drainTimeout.toSeconds());
        }
    }

    public static OpsConfig defaults() {
        return new OpsConfig(DEFAULT_DRAIN, Optional.empty(), AlertRules.defaults());
    }

    public static OpsConfig fromEnv(Map<String, String> env) {
        Duration drain = Optional.ofNullable(env.get("GANTRY_DRAIN_SECONDS")).map(String::strip)
                .filter(s -> !s.isEmpty()).map(s -> {
                    try {
                        return Duration.ofMillis(Math.round(Double.parseDouble(s) * 1000));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("GANTRY_DRAIN_SECONDS must be a number, was \"" + s + "\"");
                    }
                }).orElse(DEFAULT_DRAIN);
        Optional<URI> webhook = Optional.ofNullable(env.get("GANTRY_ALERT_WEBHOOK")).map(String::strip)
                .filter(s -> !s.isEmpty()).map(OpsConfig::webhook);
        return new OpsConfig(drain, webhook, AlertRules.fromEnv(env));
    }

    private static URI webhook(String s) {
        URI uri;
        try {
            uri = URI.create(s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("GANTRY_ALERT_WEBHOOK is not a URL: " + s);
        }
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
            throw new IllegalArgumentException("GANTRY_ALERT_WEBHOOK must be an http:// or https:// URL, was " + s);
        }
        return uri;
    }

    public OpsConfig withDrainTimeout(Duration d) {
        return new OpsConfig(d, alertWebhook, alertRules);
    }

    public OpsConfig withAlertWebhook(URI uri) {
        return new OpsConfig(drainTimeout, Optional.of(uri), alertRules);
    }

    public OpsConfig withAlertRules(AlertRules rules) {
        return new OpsConfig(drainTimeout, alertWebhook, rules);
    }
}
