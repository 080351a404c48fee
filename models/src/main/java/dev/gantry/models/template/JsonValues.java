package dev.gantry.models.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON to and from the plain values templates work on ({@code null}, {@link Boolean}, {@link Long},
 * {@link Double}, {@link String}, {@link List}, {@link Map} in insertion order). Written here, not taken from the
 * server's JSON library, because templates need Python's {@code json.dumps} layout byte for byte ({@code ", "}
 * and {@code ": "} separators, non-ASCII kept) and the models module has no dependencies.
 */
public final class JsonValues {
    private JsonValues() {}

    /** Python's {@code json.dumps(value, ensure_ascii=False)}; {@code indent} &gt; 0 pretty-prints as it does. */
    public static String write(Object value, int indent) {
        StringBuilder out = new StringBuilder();
        write(out, value, indent, 0);
        return out.toString();
    }

    /** Compact JSON ({@code ,} and {@code :} with no spaces), as a wire format. */
    public static String writeCompact(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value, -1, 0);
        return out.toString();
    }

    private static void write(StringBuilder out, Object v, int indent, int depth) {
        v = Py.unwrap(v);
        switch (v) {
            case null -> out.append("null");
            case Undefined u -> out.append("null");
            case Boolean b -> out.append(b);
            case Long l -> out.append(l);
            case Integer i -> out.append(i);
            case Double d -> out.append(Double.isFinite(d) ? Py.floatRepr(d) : d.isNaN() ? "NaN"
                    : d > 0 ? "Infinity" : "-Infinity");
            case Number n -> out.append(n);
            case CharSequence s -> quote(out, s.toString());
            case Map<?, ?> m -> {
                if (m.isEmpty()) {
                    out.append("{}");
                    return;
                }
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        out.append(indent < 0 ? "," : indent == 0 ? ", " : ",");
                    }
                    first = false;
                    newline(out, indent, depth + 1);
                    Object k = e.getKey();
                    quote(out, k instanceof String s ? s : Py.str(k));
                    out.append(indent < 0 ? ":" : ": ");
                    write(out, e.getValue(), indent, depth + 1);
                }
                newline(out, indent, depth);
                out.append('}');
            }
            case Iterable<?> list -> {
                if (!list.iterator().hasNext()) {
                    out.append("[]");
                    return;
                }
                out.append('[');
                boolean first = true;
                for (Object o : list) {
                    if (!first) {
                        out.append(indent < 0 ? "," : indent == 0 ? ", " : ",");
                    }
                    first = false;
                    newline(out, indent, depth + 1);
                    write(out, o, indent, depth + 1);
                }
                newline(out, indent, depth);
                out.append(']');
            }
            default -> quote(out, Py.str(v));
        }
    }

    private static void newline(StringBuilder out, int indent, int depth) {
        if (indent > 0) {
            out.append('\n').repeat(' ', indent * depth);
        }
    }

    static void quote(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /** Parses one JSON value (the whole text, surrounding whitespace allowed). */
    public static Object parse(String text) {
        Reader r = new Reader(text, 0);
        Object v = r.value();
        r.skipSpace();
        if (r.pos != text.length()) {
            throw new IllegalArgumentException("unexpected text after JSON value at offset " + r.pos);
        }
        return v;
    }

    /**
     * Parses the JSON value that starts at {@code offset}; returns it and where it ends, or {@code null} when no
     * complete value starts there (malformed or cut short).
     */
    public static Parsed parsePrefix(String text, int offset) {
        try {
            Reader r = new Reader(text, offset);
            r.skipSpace();
            Object v = r.value();
            return new Parsed(v, r.pos);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** A value and the offset just after it. */
    public record Parsed(Object value, int end) {}

    private static final class Reader {
        private final String s;
        private int pos;
        private int depth;

        Reader(String s, int pos) {
            this.s = s;
            this.pos = pos;
        }

        void skipSpace() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        IllegalArgumentException error(String what) {
            return new IllegalArgumentException(what + " at offset " + pos);
        }

        Object value() {
            skipSpace();
            if (pos >= s.length()) {
                throw error("unexpected end of JSON");
            }
            char c = s.charAt(pos);
            return switch (c) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't' -> word("true", Boolean.TRUE);
                case 'f' -> word("false", Boolean.FALSE);
                case 'n' -> word("null", null);
                default -> {
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        yield number();
                    }
                    throw error("unexpected character '" + c + "'");
                }
            };
        }

        private Object word(String w, Object v) {
            if (!s.startsWith(w, pos)) {
                throw error("expected " + w);
            }
            pos += w.length();
            return v;
        }

        private Object number() {
            int start = pos;
            if (s.charAt(pos) == '-') {
                pos++;
            }
            boolean real = false;
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c >= '0' && c <= '9') {
                    pos++;
                } else if (c == '.' || c == 'e' || c == 'E' || ((c == '+' || c == '-') && real)) {
                    real = true;
                    pos++;
                } else {
                    break;
                }
            }
            String n = s.substring(start, pos);
            try {
                if (!real) {
                    try {
                        return Long.parseLong(n);
                    } catch (NumberFormatException big) {
                        return Double.parseDouble(n);
                    }
                }
                return Double.parseDouble(n);
            } catch (NumberFormatException e) {
                throw error("bad number " + n);
            }
        }

        private String string() {
            pos++;
            StringBuilder b = new StringBuilder();
            while (true) {
                if (pos >= s.length()) {
                    throw error("unterminated string");
                }
                char c = s.charAt(pos++);
                if (c == '"') {
                    return b.toString();
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                if (pos >= s.length()) {
                    throw error("unterminated string");
                }
                char e = s.charAt(pos++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        if (pos + 4 > s.length()) {
                            throw error("bad unicode escape");
                        }
                        try {
                            b.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
                        } catch (NumberFormatException ex) {
                            throw error("bad unicode escape");
                        }
                        pos += 4;
                    }
                    default -> b.append(e);
                }
            }
        }

        private List<Object> array() {
            enter();
            pos++;
            List<Object> out = new ArrayList<>();
            skipSpace();
            if (pos < s.length() && s.charAt(pos) == ']') {
                pos++;
                depth--;
                return out;
            }
            while (true) {
                out.add(value());
                skipSpace();
                if (pos >= s.length()) {
                    throw error("unterminated array");
                }
                char c = s.charAt(pos++);
                if (c == ']') {
                    depth--;
                    return out;
                }
                if (c != ',') {
                    throw error("expected , or ]");
                }
            }
        }

        private Map<String, Object> object() {
            enter();
            pos++;
            Map<String, Object> out = new LinkedHashMap<>();
            skipSpace();
            if (pos < s.length() && s.charAt(pos) == '}') {
                pos++;
                depth--;
                return out;
            }
            while (true) {
                skipSpace();
                if (pos >= s.length() || s.charAt(pos) != '"') {
                    throw error("expected a key");
                }
                String key = string();
                skipSpace();
                if (pos >= s.length() || s.charAt(pos++) != ':') {
                    throw error("expected :");
                }
                out.put(key, value());
                skipSpace();
                if (pos >= s.length()) {
                    throw error("unterminated object");
                }
                char c = s.charAt(pos++);
                if (c == '}') {
                    depth--;
                    return out;
                }
                if (c != ',') {
                    throw error("expected , or }");
                }
            }
        }

        private void enter() {
            if (++depth > 512) {
                throw error("JSON nested too deeply");
            }
        }
    }
}
