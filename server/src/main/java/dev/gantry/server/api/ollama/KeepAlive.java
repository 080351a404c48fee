package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.server.http.ApiException;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Ollama's {@code keep_alive}: a Go duration string ({@code "5m"}, {@code "1h30m"}, {@code "-1"}), or a number of
 * seconds. Negative means "never unload", zero "unload after this request". Pure.
 */
public final class KeepAlive {
    private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|µs|μs|ms|s|m|h)");
    public static final Duration FOREVER = Duration.ofSeconds(-1);

    private KeepAlive() {}

    /** The duration, or null when absent. */
    public static Duration parse(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isNumber()) {
            // whole seconds, as Ollama's Duration reads a number (Go's int of it): 2.5 is 2 s
            double seconds = node.doubleValue();
            return seconds < 0 ? FOREVER : Duration.ofSeconds((long) Math.min(seconds, Long.MAX_VALUE / 1e9));
        }
        if (node.isTextual()) {
            return parseGoDuration(node.textValue());
        }
        throw ApiException.badRequest("invalid keep_alive: expected a duration such as \"5m\" or a number of seconds");
    }

    /**
     * A request's string {@code keep_alive} as Go's {@code time.ParseDuration} reads it in Ollama: units required
     * but for {@code "0"}, nothing empty; a negative duration is "never unload" ({@code "-0s"} is zero).
     */
    static Duration parseGoDuration(String text) {
        String body = text.startsWith("-") || text.startsWith("+") ? text.substring(1) : text;
        if (body.equals("0")) {
            return Duration.ZERO;
        }
        if (body.isEmpty() || Character.isDigit(body.charAt(body.length() - 1))) { // "": invalid; "10": no unit
            throw ApiException.badRequest("time: " + (body.isEmpty() ? "invalid duration" : "missing unit in duration")
                    + " \"" + text + "\"");
        }
        if (!text.strip().equals(text)) {
            throw ApiException.badRequest("time: invalid duration \"" + text + "\"");
        }
        Duration d = parse(body);
        return text.startsWith("-") && d != null && !d.isZero() ? FOREVER : d;
    }

    /**
     * A duration as the environment gives it ({@code OLLAMA_KEEP_ALIVE}): a Go duration, or a bare number of
     * seconds; a negative one is "never unload".
     */
    public static Duration parse(String text) {
        String s = text.strip();
        if (s.isEmpty()) {
            return null;
        }
        boolean negative = s.startsWith("-");
        String body = negative || s.startsWith("+") ? s.substring(1) : s;
        if (body.matches("\\d+(\\.\\d+)?")) {
            double seconds = Double.parseDouble(body);
            return negative ? FOREVER : Duration.ofNanos((long) (seconds * 1e9));
        }
        Matcher m = PART.matcher(body);
        int at = 0;
        double nanos = 0;
        while (at < body.length()) {
            if (!m.find(at) || m.start() != at) {
                throw ApiException.badRequest("invalid keep_alive duration \"" + text + "\"");
            }
            double v = Double.parseDouble(m.group(1));
            nanos += v * switch (m.group(2)) {
                case "ns" -> 1;
                case "us", "µs", "μs" -> 1e3;
                case "ms" -> 1e6;
                case "s" -> 1e9;
                case "m" -> 60e9;
                default -> 3600e9;
            };
            at = m.end();
        }
        if (at == 0) {
            throw ApiException.badRequest("invalid keep_alive duration \"" + text + "\"");
        }
        return negative ? FOREVER : Duration.ofNanos((long) nanos);
    }
}
