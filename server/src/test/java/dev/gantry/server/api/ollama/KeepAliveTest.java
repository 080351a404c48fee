package dev.gantry.server.api.ollama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.gantry.server.http.ApiException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A request's keep_alive as Ollama's api.Duration reads it; the environment's as Ollama's envconfig does. */
class KeepAliveTest {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    @Test
    void aRequestsStringIsAGoDuration() {
        assertEquals(Duration.ofMinutes(5), KeepAlive.parse(F.textNode("5m")));
        assertEquals(Duration.ofMinutes(90), KeepAlive.parse(F.textNode("1h30m")));
        assertEquals(Duration.ZERO, KeepAlive.parse(F.textNode("0")));
        assertEquals(Duration.ZERO, KeepAlive.parse(F.textNode("-0")), "Go reads -0 as zero");
        assertEquals(Duration.ZERO, KeepAlive.parse(F.textNode("0s")));
        assertEquals(KeepAlive.FOREVER, KeepAlive.parse(F.textNode("-1m")));
        for (String bad : new String[] {"10", "-1", "", "1.5", " 5m", "soon"}) {
            assertEquals(400, assertThrows(ApiException.class, () -> KeepAlive.parse(F.textNode(bad))).status(),
                    bad);
        }
    }

    @Test
    void aRequestsNumberIsWholeSeconds() {
        assertEquals(Duration.ofSeconds(2), KeepAlive.parse(F.numberNode(2.5)));
        assertEquals(Duration.ZERO, KeepAlive.parse(F.numberNode(0)));
        assertEquals(KeepAlive.FOREVER, KeepAlive.parse(F.numberNode(-1)));
        assertNull(KeepAlive.parse(F.nullNode()));
    }

    @Test
    void theEnvironmentAlsoTakesBareSeconds() {
        assertEquals(Duration.ofSeconds(10), KeepAlive.parse("10"));
        assertEquals(KeepAlive.FOREVER, KeepAlive.parse("-1"));
        assertEquals(Duration.ofMinutes(5), KeepAlive.parse("5m"));
    }
}
