package dev.gantry.server.api.ollama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.server.http.ApiException;
import dev.gantry.server.http.Json;
import org.junit.jupiter.api.Test;

/** Ollama's format field: the size a schema may have. */
class FormatOptionTest {
    private static JsonNode enumOf(int n) throws Exception {
        StringBuilder sb = new StringBuilder("{\"type\":\"string\",\"enum\":[");
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : ",").append("\"v").append(i).append('"');
        }
        return Json.MAPPER.readTree(sb.append("]}").toString());
    }

    @Test
    void aSchemaCountsEveryValue() throws Exception {
        assertEquals(1, FormatOption.size(Json.MAPPER.readTree("{}"), 100));
        // the object, "type"'s value, the enum array and its 3 entries
        assertEquals(6, FormatOption.size(enumOf(3), 100));
        assertTrue(FormatOption.size(enumOf(100_000), 10) <= 12, "counting stops past the limit");
    }

    @Test
    void aSchemaOfMoreThan5000ValuesIsRefusedAtOnce() throws Exception {
        long t0 = System.nanoTime();
        ApiException e = assertThrows(ApiException.class, () -> FormatOption.grammar(enumOf(50_000)));
        assertEquals(400, e.status());
        assertTrue(e.getMessage().startsWith("invalid format: the schema has more than 5000 values"), e.getMessage());
        // a bound that catches a grammar written for 50,000 values, wide enough for a loaded CI machine
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "refused before any grammar is written");
        assertTrue(FormatOption.grammar(enumOf(4_000)).contains("v3999"), "4,000 values are fine");
    }
}
