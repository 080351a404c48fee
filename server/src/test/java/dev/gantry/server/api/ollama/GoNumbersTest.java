package dev.gantry.server.api.ollama;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gantry.models.template.JsonValues;
import dev.gantry.server.http.Json;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A tool call's arguments reach the wire as Ollama (Go) writes them: whole numbers without a fraction, nulls kept. */
class GoNumbersTest {
    @SuppressWarnings("unchecked")
    private static String wire(String arguments) {
        Map<String, Object> parsed = (Map<String, Object>) JsonValues.parse(arguments);
        return new String(Json.write(new Responses.WireFunction("f", parsed)), StandardCharsets.UTF_8);
    }

    @Test
    void wholeDoublesLoseTheirFraction() {
        assertEquals("{\"name\":\"f\",\"arguments\":{\"n\":1500,\"big\":12345678901234567000,\"half\":1.5,"
                        + "\"neg\":-2,\"int\":7,\"s\":\"1.0\",\"list\":[1,2.5,{\"x\":3}],\"none\":null}}",
                wire("{\"n\":1.5e3,\"big\":12345678901234567890,\"half\":1.5,\"neg\":-2.0,\"int\":7,\"s\":\"1.0\","
                        + "\"list\":[1.0,2.5,{\"x\":3.0}],\"none\":null}"));
    }

    @Test
    void hugeAndOddNumbersAreLeftAlone() {
        assertEquals("{\"name\":\"f\",\"arguments\":{\"a\":1.0E21,\"b\":1.0E-7}}", wire("{\"a\":1e21,\"b\":1e-7}"));
    }
}
