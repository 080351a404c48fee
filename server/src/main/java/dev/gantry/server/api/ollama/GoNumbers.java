package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.List;
import java.util.Map;

/**
 * A tool call's arguments as Ollama writes them, as a JSON tree the server's mapper writes whole.
 *
 * <ul>
 *   <li><b>Numbers.</b> Ollama decodes the arguments into Go's {@code map[string]any}, where every number is a
 *       float64, and Go writes a whole float64 below 1e21 without a fraction ({@code 1500},
 *       {@code 12345678901234567000}). Gantry parses {@code 1.5e3} as a double, which Jackson writes as
 *       {@code 1500.0}: a Python client got the float 1500.0 where Ollama gives the int 1500. Whole doubles become
 *       integers with the same shortest digits.</li>
 *   <li><b>Nulls.</b> The server's mapper leaves nulls out, as Ollama leaves out empty fields; inside the arguments
 *       a null is a value (Go writes it), and a tree keeps it.</li>
 * </ul>
 */
final class GoNumbers {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private GoNumbers() {}

    /** {@code arguments} as a tree: whole doubles as integers, nulls kept, at any depth. */
    static JsonNode tree(Map<String, Object> arguments) {
        return arguments == null ? NODES.objectNode() : node(arguments);
    }

    private static JsonNode node(Object v) {
        return switch (v) {
            case null -> NODES.nullNode();
            case Double d when Double.isFinite(d) && d == Math.rint(d) && Math.abs(d) < 1e21 ->
                    NODES.numberNode(new BigDecimal(Double.toString(d)).toBigInteger());
            case Double d -> NODES.numberNode(d);
            case Float f -> node(f.doubleValue());
            case Long l -> NODES.numberNode(l);
            case Integer i -> NODES.numberNode(i);
            case BigInteger b -> NODES.numberNode(b);
            case BigDecimal b -> NODES.numberNode(b);
            case Boolean b -> NODES.booleanNode(b);
            case CharSequence s -> NODES.textNode(s.toString());
            case Map<?, ?> m -> {
                ObjectNode o = NODES.objectNode();
                m.forEach((k, x) -> o.set(String.valueOf(k), node(x)));
                yield o;
            }
            case List<?> l -> {
                ArrayNode a = NODES.arrayNode();
                l.forEach(x -> a.add(node(x)));
                yield a;
            }
            default -> NODES.textNode(String.valueOf(v));
        };
    }
}
