package dev.gantry.server.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class OpsConfigTest {
    @Test
    void defaultsAndVariables() {
        OpsConfig d = OpsConfig.fromEnv(Map.of());
        assertEquals(Duration.ofSeconds(30), d.drainTimeout());
        assertEquals(Optional.empty(), d.alertWebhook());
        OpsConfig c = OpsConfig.fromEnv(Map.of("GANTRY_DRAIN_SECONDS", "2.5",
                "GANTRY_ALERT_WEBHOOK", "http://alerts.local:9000/hook"));
        assertEquals(Duration.ofMillis(2500), c.drainTimeout());
        assertEquals(Optional.of(URI.create("http://alerts.local:9000/hook")), c.alertWebhook());
    }

    @Test
    void badValuesAreClearErrors() {
        assertEquals("GANTRY_DRAIN_SECONDS must be a number, was \"soon\"", assertThrows(IllegalArgumentException.class,
                () -> OpsConfig.fromEnv(Map.of("GANTRY_DRAIN_SECONDS", "soon"))).getMessage());
        assertThrows(IllegalArgumentException.class, () -> OpsConfig.fromEnv(Map.of("GANTRY_DRAIN_SECONDS", "-1")));
        assertThrows(IllegalArgumentException.class,
                () -> OpsConfig.fromEnv(Map.of("GANTRY_ALERT_WEBHOOK", "not a url")));
        assertThrows(IllegalArgumentException.class,
                () -> OpsConfig.fromEnv(Map.of("GANTRY_ALERT_WEBHOOK", "ftp://host/x")));
    }
}
