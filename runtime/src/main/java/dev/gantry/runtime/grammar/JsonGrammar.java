package dev.gantry.runtime.grammar;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes llama.cpp grammars (GBNF) that only admit JSON: any object (Ollama's {@code "format": "json"}) or the
 * documents a JSON Schema describes. Pure: no I/O, no native code.
 *
 * <p>A schema is the parsed JSON as plain Java values ({@link Map} with string keys, {@link List}, {@link String},
 * {@link Number}, {@link Boolean}, null), so this class needs no JSON library. Supported: {@code type} (one or a
 * list), {@code properties} with {@code required} (properties come in the declared order; optional ones may be
 * left out), {@code additionalProperties} (false when absent, as Ollama's and llama.cpp's converters do; extra
 * members follow the declared ones), {@code items}, {@code minItems}/{@code maxItems}, {@code enum},
 * {@code const}, {@code minLength}/{@code maxLength}, the string formats {@code date}, {@code time},
 * {@code date-time} and {@code uuid} (other formats are annotations and are ignored), {@code anyOf}/{@code oneOf}
 * (as alternatives; {@code oneOf}'s exclusivity is not enforced), a one-element {@code allOf}, local {@code $ref}s
 * into {@code $defs}/{@code definitions} (recursion included), and integer/number bounds where a grammar stays
 * small: a range of at most {@value #MAX_ENUMERATED_RANGE} integers, or a minimum of 0 (or 1 for integers).
 * Keywords that constrain documents in ways a grammar here cannot ({@code pattern}, {@code not}, {@code multipleOf},
 * {@code uniqueItems}, ...) make the schema unsupported: {@link SchemaException} rather than output that may not
 * validate. Unknown keywords are ignored, as JSON Schema says.
 *
 * <p>Whitespace: the document may start with, and its tokens may be separated by, one space or one newline and up to
 * {@value #MAX_INDENT} spaces or tabs of indentation, so a model can pretty-print but cannot spend its tokens on
 * whitespace (a small model, left to itself, fills every gap it may). Nothing may follow
 * the document: once it is complete only an end-of-generation token is allowed, so generation stops there. Numbers
 * have at most 16 integer digits, 15 fraction digits and a 3-digit exponent for the same reason.
 */
public final class JsonGrammar {
    static final int MAX_INDENT = 12;
    static final int MAX_ENUMERATED_RANGE = 1000;

    private static final Map<String, String> PRIMITIVES = new LinkedHashMap<>();
    private static final Map<String, List<String>> PRIMITIVE_DEPS = new HashMap<>();

    static {
        primitive("ws", "( \" \" | \"\\n\" [ \\t]{0," + MAX_INDENT + "} )?");
        primitive("value", "object | array | string | number | boolean | null",
                "object", "array", "string", "number", "boolean", "null");
        primitive("object", "\"{\" ws ( string ws \":\" ws value ws ( \",\" ws string ws \":\" ws value ws )* )? \"}\"",
                "ws", "string", "value");
        primitive("array", "\"[\" ws ( value ws ( \",\" ws value ws )* )? \"]\"", "ws", "value");
        primitive("string", "\"\\\"\" char* \"\\\"\"", "char");
        primitive("char", "[^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} )");
        primitive("natural", "\"0\" | [1-9] [0-9]{0,15}");
        primitive("integer", "\"-\"? natural", "natural");
        primitive("unsigned", "natural ( \".\" [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,3} )?", "natural");
        primitive("number", "\"-\"? unsigned", "unsigned");
        primitive("boolean", "\"true\" | \"false\"");
        primitive("null", "\"null\"");
        primitive("digit2", "[0-9] [0-9]");
        primitive("date", "\"\\\"\" [0-9] [0-9] [0-9] [0-9] \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" "
                + "( \"0\" [1-9] | [1-2] [0-9] | \"3\" [0-1] ) \"\\\"\"");
        primitive("clock", "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{1,9} )? "
                + "( \"Z\" | [+-] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )");
        primitive("time", "\"\\\"\" clock \"\\\"\"", "clock");
        primitive("date-time", "\"\\\"\" [0-9] [0-9] [0-9] [0-9] \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" "
                + "( \"0\" [1-9] | [1-2] [0-9] | \"3\" [0-1] ) \"T\" clock \"\\\"\"", "clock");
        primitive("uuid", "\"\\\"\" [0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" "
                + "[0-9a-fA-F]{12} \"\\\"\"");
    }

    /** Keywords that say nothing about which documents are valid. */
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "$schema",
            "$id", "$comment", "$defs", "definitions", "deprecated", "readOnly", "writeOnly", "contentMediaType",
            "contentEncoding", "$anchor", "format");
    /** Validation keywords a grammar here does not enforce: refused rather than ignored. */
    private static final Set<String> UNSUPPORTED = Set.of("pattern", "patternProperties", "propertyNames", "not",
            "if", "then", "else", "multipleOf", "minProperties", "maxProperties", "dependentRequired",
            "dependentSchemas", "dependencies", "contains", "minContains", "maxContains", "prefixItems",
            "additionalItems", "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef");
    private static final Set<String> TYPES = Set.of("string", "number", "integer", "boolean", "null", "object",
            "array");

    private JsonGrammar() {}

    /**
     * Any JSON object: Ollama's {@code "format": "json"}. The document starts at its brace, as Ollama's grammar and
     * llama.cpp's schema grammars have it (a leading space let the answer begin with one).
     */
    public static String anyObject() {
        Builder b = new Builder(null);
        b.use("object");
        return b.render("object");
    }

    /**
     * The grammar of the documents {@code schema} describes.
     *
     * @throws SchemaException when the schema is malformed or uses what this class cannot enforce
     */
    public static String fromSchema(Object schema) {
        return fromSchema(schema, "", "");
    }

    /**
     * One of several documents, each after its own text: {@code before.get(i)} then a document of
     * {@code schemas.get(i)}; {@code root} is what their local {@code $ref}s point into.
     */
    public static String alternatives(Object root, List<String> before, List<Object> schemas) {
        if (before.size() != schemas.size() || schemas.isEmpty()) {
            throw new IllegalArgumentException(before.size() + " texts for " + schemas.size() + " schemas");
        }
        Builder b = new Builder(root);
        List<String> alternatives = new ArrayList<>();
        for (int i = 0; i < schemas.size(); i++) {
            String expr = b.visit(schemas.get(i), "alternative", "#/" + i);
            alternatives.add(before.get(i).isEmpty() ? expr : literal(before.get(i)) + " " + expr);
        }
        return b.render(alternatives.size() == 1 ? alternatives.getFirst()
                : "(" + String.join(" | ", alternatives) + ")");
    }

    /** A grammar this class wrote, its documents after {@code text}. */
    public static String prefixed(String grammar, String text) {
        String head = "root ::= ";
        if (!grammar.startsWith(head)) {
            throw new IllegalArgumentException("not a grammar of this class: " + grammar.lines().findFirst().orElse(""));
        }
        int end = grammar.indexOf('\n');
        String root = end < 0 ? grammar.substring(head.length()) : grammar.substring(head.length(), end);
        return head + literal(text) + " ( " + root + " )" + (end < 0 ? "" : grammar.substring(end));
    }

    /** The documents of {@code schema} with {@code before} and {@code after} around them, as they are. */
    public static String fromSchema(Object schema, String before, String after) {
        Builder b = new Builder(schema);
        String expr = b.visit(schema, "schema", "#");
        if (!before.isEmpty()) {
            expr = literal(before) + " " + expr;
        }
        if (!after.isEmpty()) {
            expr = expr + " " + literal(after);
        }
        return b.render(expr);
    }

    private static void primitive(String name, String body, String... deps) {
        PRIMITIVES.put(name, body);
        PRIMITIVE_DEPS.put(name, List.of(deps));
    }

    /** A GBNF string literal that matches exactly {@code text}. */
    static String literal(String text) {
        StringBuilder sb = new StringBuilder("\"");
        text.codePoints().forEach(c -> {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x7F) {
                        sb.append(String.format("\\x%02X", c));
                    } else {
                        sb.appendCodePoint(c);
                    }
                }
            }
        });
        return sb.append('"').toString();
    }

    /** Compact JSON for a plain Java value (what {@code const} and {@code enum} values must be written as). */
    static String json(Object v) {
        StringBuilder sb = new StringBuilder();
        writeJson(v, sb);
        return sb.toString();
    }

    private static void writeJson(Object v, StringBuilder sb) {
        switch (v) {
            case null -> sb.append("null");
            case String s -> {
                sb.append('"');
                for (int i = 0; i < s.length(); i++) {
                    char c = s.charAt(i);
                    switch (c) {
                        case '"' -> sb.append("\\\"");
                        case '\\' -> sb.append("\\\\");
                        case '\n' -> sb.append("\\n");
                        case '\r' -> sb.append("\\r");
                        case '\t' -> sb.append("\\t");
                        case '\b' -> sb.append("\\b");
                        case '\f' -> sb.append("\\f");
                        default -> {
                            if (c < 0x20) {
                                sb.append(String.format("\\u%04x", (int) c));
                            } else {
                                sb.append(c);
                            }
                        }
                    }
                }
                sb.append('"');
            }
            case Boolean b -> sb.append(b);
            case BigDecimal d -> sb.append(d.toString());
            case Double d -> sb.append(d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString(d.longValue())
                    : d.toString());
            case Float f -> writeJson(f.doubleValue(), sb);
            case Number n -> sb.append(n);
            case Map<?, ?> m -> {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    writeJson(String.valueOf(e.getKey()), sb);
                    sb.append(':');
                    writeJson(e.getValue(), sb);
                }
                sb.append('}');
            }
            case List<?> l -> {
                sb.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) {
                        sb.append(',');
                    }
                    writeJson(l.get(i), sb);
                }
                sb.append(']');
            }
            default -> throw new SchemaException("not a JSON value: " + v.getClass().getSimpleName());
        }
    }

    /** The rules of one grammar, named uniquely; identical bodies share one rule. */
    private static final class Builder {
        private final Object root;
        private final Map<String, String> rules = new LinkedHashMap<>();
        private final Map<String, String> byBody = new HashMap<>();
        private final Map<String, String> refs = new HashMap<>();

        Builder(Object root) {
            this.root = root;
        }

        String render(String rootBody) {
            StringBuilder sb = new StringBuilder("root ::= ").append(rootBody).append('\n');
            use("ws");
            rules.forEach((name, body) -> sb.append(name).append(" ::= ").append(body).append('\n'));
            return sb.toString();
        }

        /** Adds a primitive rule (and those it uses); returns its name. */
        String use(String primitive) {
            if (!rules.containsKey(primitive)) {
                rules.put(primitive, PRIMITIVES.get(primitive));
                PRIMITIVE_DEPS.get(primitive).forEach(this::use);
            }
            return primitive;
        }

        /** A rule for {@code body} named after {@code hint}, or the existing rule with the same body. */
        String rule(String hint, String body) {
            String existing = byBody.get(body);
            if (existing != null) {
                return existing;
            }
            String name = fresh(hint);
            rules.put(name, body);
            byBody.put(body, name);
            return name;
        }

        private String fresh(String hint) {
            String base = hint.replaceAll("[^a-zA-Z0-9]+", "-").replaceAll("^-+|-+$", "");
            if (base.length() > 48) {
                base = base.substring(0, 48).replaceAll("-+$", "");
            }
            if (base.isEmpty() || PRIMITIVES.containsKey(base) || base.equals("root")) {
                base = "r-" + base;
            }
            String name = base;
            for (int i = 2; rules.containsKey(name) || PRIMITIVES.containsKey(name); i++) {
                name = base + "-" + i;
            }
            return name;
        }

        /** A GBNF expression (a rule name) for the documents {@code schema} admits. */
        String visit(Object schema, String hint, String path) {
            if (schema instanceof Boolean b) {
                if (b) {
                    return use("value");
                }
                throw new SchemaException("the schema at " + path + " is false: no value is valid there");
            }
            if (!(schema instanceof Map<?, ?> raw)) {
                throw invalid(path, "a schema must be an object or a boolean");
            }
            Map<String, Object> s = asObject(raw, path);
            for (String k : s.keySet()) {
                if (UNSUPPORTED.contains(k)) {
                    throw new SchemaException("the JSON Schema keyword \"" + k + "\" at " + path
                            + " is not supported for structured output");
                }
            }
            if (Boolean.TRUE.equals(s.get("uniqueItems"))) {
                throw new SchemaException("the JSON Schema keyword \"uniqueItems\" at " + path
                        + " is not supported for structured output");
            }
            if (s.containsKey("$ref")) {
                requireOnly(s, path, "$ref");
                if (!(s.get("$ref") instanceof String ref)) {
                    throw invalid(path, "$ref must be a string");
                }
                return ref(ref, path);
            }
            if (s.containsKey("const")) {
                return rule(hint, literal(json(s.get("const"))));
            }
            if (s.containsKey("enum")) {
                if (!(s.get("enum") instanceof List<?> values) || values.isEmpty()) {
                    throw invalid(path, "enum must be a non-empty list");
                }
                List<String> alts = new ArrayList<>();
                for (Object v : values) {
                    String lit = literal(json(v));
                    if (!alts.contains(lit)) {
                        alts.add(lit);
                    }
                }
                return rule(hint, String.join(" | ", alts));
            }
            for (String combinator : List.of("anyOf", "oneOf", "allOf")) {
                if (s.containsKey(combinator)) {
                    requireOnly(s, path, combinator);
                    if (!(s.get(combinator) instanceof List<?> subs) || subs.isEmpty()) {
                        throw invalid(path, combinator + " must be a non-empty list of schemas");
                    }
                    if (combinator.equals("allOf")) {
                        if (subs.size() > 1) {
                            throw new SchemaException("allOf with more than one schema (at " + path
                                    + ") is not supported for structured output");
                        }
                        return visit(subs.getFirst(), hint, path + "/allOf/0");
                    }
                    List<String> alts = new ArrayList<>();
                    for (int i = 0; i < subs.size(); i++) {
                        String alt = visit(subs.get(i), hint + "-" + i, path + "/" + combinator + "/" + i);
                        if (!alts.contains(alt)) {
                            alts.add(alt);
                        }
                    }
                    return alts.size() == 1 ? alts.getFirst() : rule(hint, String.join(" | ", alts));
                }
            }
            List<String> types = types(s, path);
            List<String> alts = new ArrayList<>();
            for (String t : types) {
                alts.add(typed(s, t, types.size() == 1 ? hint : hint + "-" + t, path));
            }
            return alts.size() == 1 ? alts.getFirst() : rule(hint, String.join(" | ", alts));
        }

        private List<String> types(Map<String, Object> s, String path) {
            Object t = s.get("type");
            if (t == null) {
                if (s.containsKey("properties") || s.containsKey("additionalProperties")
                        || s.containsKey("required")) {
                    return List.of("object");
                }
                if (s.containsKey("items") || s.containsKey("minItems") || s.containsKey("maxItems")) {
                    return List.of("array");
                }
                if (s.containsKey("minLength") || s.containsKey("maxLength")) {
                    return List.of("string");
                }
                if (s.containsKey("minimum") || s.containsKey("maximum") || s.containsKey("exclusiveMinimum")
                        || s.containsKey("exclusiveMaximum")) {
                    return List.of("number");
                }
                return List.of("any");
            }
            List<String> out = new ArrayList<>();
            if (t instanceof String one) {
                out.add(one);
            } else if (t instanceof List<?> many && !many.isEmpty()) {
                for (Object o : many) {
                    if (!(o instanceof String name)) {
                        throw invalid(path, "type must be a string or a list of strings");
                    }
                    if (!out.contains(name)) {
                        out.add(name);
                    }
                }
            } else {
                throw invalid(path, "type must be a string or a non-empty list of strings");
            }
            for (String name : out) {
                if (!TYPES.contains(name)) {
                    throw invalid(path, "unknown type \"" + name + "\"");
                }
            }
            if (out.contains("number") && out.contains("integer")) {
                out.remove("integer"); // every integer is a number
            }
            return out;
        }

        private String typed(Map<String, Object> s, String type, String hint, String path) {
            return switch (type) {
                case "any" -> use("value");
                case "null" -> use("null");
                case "boolean" -> use("boolean");
                case "string" -> string(s, hint, path);
                case "integer" -> integer(s, hint, path);
                case "number" -> number(s, path);
                case "object" -> object(s, hint, path);
                case "array" -> array(s, hint, path);
                default -> throw invalid(path, "unknown type \"" + type + "\"");
            };
        }

        private String string(Map<String, Object> s, String hint, String path) {
            Object format = s.get("format");
            if (format instanceof String f && PRIMITIVES.containsKey(f)
                    && Set.of("date", "time", "date-time", "uuid").contains(f)) {
                return use(f);
            }
            int min = count(s, "minLength", path, 0);
            int max = count(s, "maxLength", path, -1);
            if (max >= 0 && max < min) {
                throw invalid(path, "maxLength " + max + " is less than minLength " + min);
            }
            if (min == 0 && max < 0) {
                return use("string");
            }
            use("char");
            String rep = max < 0 ? "{" + min + ",}" : "{" + min + "," + max + "}";
            return rule(hint, "\"\\\"\" char" + rep + " \"\\\"\"");
        }

        private String integer(Map<String, Object> s, String hint, String path) {
            BigDecimal[] bounds = bounds(s, path);
            if (bounds[0] == null && bounds[1] == null) {
                return use("integer");
            }
            BigInteger lo = bounds[0] == null ? null : bounds[0].setScale(0, RoundingMode.CEILING).toBigIntegerExact();
            BigInteger hi = bounds[1] == null ? null : bounds[1].setScale(0, RoundingMode.FLOOR).toBigIntegerExact();
            // exclusive bounds were already moved inwards by bounds(); an integer bound excludes itself here
            if (bounds[2] != null && lo != null && bounds[0].compareTo(new BigDecimal(lo)) == 0) {
                lo = lo.add(BigInteger.ONE);
            }
            if (bounds[3] != null && hi != null && bounds[1].compareTo(new BigDecimal(hi)) == 0) {
                hi = hi.subtract(BigInteger.ONE);
            }
            if (lo != null && hi != null) {
                if (hi.compareTo(lo) < 0) {
                    throw invalid(path, "no integer lies between its minimum and maximum");
                }
                if (hi.subtract(lo).compareTo(BigInteger.valueOf(MAX_ENUMERATED_RANGE)) < 0) {
                    List<String> alts = new ArrayList<>();
                    for (BigInteger i = lo; i.compareTo(hi) <= 0; i = i.add(BigInteger.ONE)) {
                        alts.add(literal(i.toString()));
                    }
                    return rule(hint, String.join(" | ", alts));
                }
            } else if (hi == null && lo.signum() == 0) {
                return use("natural");
            } else if (hi == null && lo.equals(BigInteger.ONE)) {
                return rule(hint, "[1-9] [0-9]{0,15}");
            }
            throw new SchemaException("integer bounds at " + path + " are not supported for structured output: use "
                    + "a range of at most " + MAX_ENUMERATED_RANGE + " values, or a minimum of 0 or 1 alone");
        }

        private String number(Map<String, Object> s, String path) {
            BigDecimal[] bounds = bounds(s, path);
            if (bounds[0] == null && bounds[1] == null) {
                return use("number");
            }
            if (bounds[1] == null && bounds[2] == null && bounds[0].signum() == 0) {
                return use("unsigned");
            }
            throw new SchemaException("number bounds at " + path + " are not supported for structured output "
                    + "(only \"minimum\": 0 is): use an integer range or an enum");
        }

        /** [minimum, maximum, exclusive-minimum marker, exclusive-maximum marker]; drafts 4 and 6+ alike. */
        private BigDecimal[] bounds(Map<String, Object> s, String path) {
            BigDecimal min = decimal(s, "minimum", path);
            BigDecimal max = decimal(s, "maximum", path);
            BigDecimal exMin = null;
            BigDecimal exMax = null;
            Object em = s.get("exclusiveMinimum");
            if (em instanceof Boolean b) {
                exMin = b && min != null ? min : null;
            } else if (em != null) {
                exMin = decimal(s, "exclusiveMinimum", path);
                if (min == null || exMin.compareTo(min) >= 0) {
                    min = exMin;
                } else {
                    exMin = null;
                }
            }
            Object ex = s.get("exclusiveMaximum");
            if (ex instanceof Boolean b) {
                exMax = b && max != null ? max : null;
            } else if (ex != null) {
                exMax = decimal(s, "exclusiveMaximum", path);
                if (max == null || exMax.compareTo(max) <= 0) {
                    max = exMax;
                } else {
                    exMax = null;
                }
            }
            return new BigDecimal[] {min, max, exMin, exMax};
        }

        private String object(Map<String, Object> s, String hint, String path) {
            Map<String, Object> props = s.containsKey("properties") ? asObject(s.get("properties"),
                    path + "/properties") : Map.of();
            List<String> required = new ArrayList<>();
            if (s.containsKey("required")) {
                if (!(s.get("required") instanceof List<?> req)) {
                    throw invalid(path, "required must be a list of property names");
                }
                for (Object r : req) {
                    if (!(r instanceof String name)) {
                        throw invalid(path, "required must be a list of property names");
                    }
                    required.add(name);
                }
            }
            Object additional = s.get("additionalProperties");
            if (!s.containsKey("properties") && required.isEmpty() && additional == null) {
                return use("object"); // a bare {"type": "object"}: any object
            }
            String extra = null;
            if (additional != null && !Boolean.FALSE.equals(additional)) {
                String value = visit(additional, hint + "-additional", path + "/additionalProperties");
                use("string");
                use("ws");
                extra = rule(hint + "-kv", "string ws \":\" ws " + value + " ws");
            }
            Map<String, Object> declared = new LinkedHashMap<>(props);
            for (String r : required) {
                if (!declared.containsKey(r)) {
                    if (extra == null) {
                        throw invalid(path, "required property \"" + r + "\" is not in properties and "
                                + "additionalProperties is false");
                    }
                    declared.put(r, true);
                }
            }
            use("ws");
            List<String> names = new ArrayList<>(declared.keySet());
            List<String> members = new ArrayList<>();
            for (String name : names) {
                String value = visit(declared.get(name), hint + "-" + name, path + "/properties/" + name);
                members.add(rule(hint + "-" + name + "-kv", literal(json(name)) + " ws \":\" ws " + value + " ws"));
            }
            int n = names.size();
            // tails[i]: the members from i on, each after a comma; optional ones may be left out
            String[] tails = new String[n + 1];
            tails[n] = "";
            for (int i = n - 1; i >= 0; i--) {
                String m = "\",\" ws " + members.get(i);
                String item = required.contains(names.get(i)) ? m : "( " + m + " )?";
                tails[i] = (item + " " + tails[i + 1]).strip();
            }
            // the first member present is some k with every member before it optional
            List<String> firsts = new ArrayList<>();
            boolean anyRequired = false;
            for (int k = 0; k < n; k++) {
                firsts.add((members.get(k) + " " + tails[k + 1]).strip());
                if (required.contains(names.get(k))) {
                    anyRequired = true;
                    break;
                }
            }
            String more = extra == null ? "" : " ( \",\" ws " + extra + " )*";
            String body;
            if (firsts.isEmpty()) {
                body = extra == null ? "" : "( " + extra + more + " )?";
            } else {
                String declaredPart = firsts.size() == 1 ? firsts.getFirst() : "( " + String.join(" | ", firsts) + " )";
                if (anyRequired) {
                    body = declaredPart + more;
                } else if (extra == null) {
                    body = "( " + String.join(" | ", firsts) + " )?";
                } else {
                    body = "( " + declaredPart + more + " | " + extra + more + " )?";
                }
            }
            return rule(hint, body.isEmpty() ? "\"{\" ws \"}\"" : "\"{\" ws " + body + " \"}\"");
        }

        private String array(Map<String, Object> s, String hint, String path) {
            Object items = s.get("items");
            if (items instanceof List<?>) {
                throw new SchemaException("items as a list (a tuple, at " + path
                        + ") is not supported for structured output");
            }
            String item = items == null ? use("value") : visit(items, hint + "-item", path + "/items");
            int min = count(s, "minItems", path, 0);
            int max = count(s, "maxItems", path, -1);
            if (max >= 0 && max < min) {
                throw invalid(path, "maxItems " + max + " is less than minItems " + min);
            }
            use("ws");
            if (max == 0) {
                return rule(hint, "\"[\" ws \"]\"");
            }
            String next = "( \",\" ws " + item + " ws )";
            String body;
            if (min == 0) {
                String rep = max < 0 ? "*" : "{0," + (max - 1) + "}";
                body = "( " + item + " ws " + next + rep + " )?";
            } else {
                String rep = max < 0 ? (min == 1 ? "*" : "{" + (min - 1) + ",}") : "{" + (min - 1) + "," + (max - 1) + "}";
                body = item + " ws " + next + rep;
            }
            return rule(hint, "\"[\" ws " + body + " \"]\"");
        }

        private String ref(String ref, String path) {
            String known = refs.get(ref);
            if (known != null) {
                return known;
            }
            if (!ref.equals("#") && !ref.startsWith("#/")) {
                throw new SchemaException("$ref \"" + ref + "\" at " + path + " is not supported: only references "
                        + "inside the schema (\"#/$defs/...\") are");
            }
            Object target = root;
            String hint = "schema";
            if (ref.length() > 1) {
                for (String raw : ref.substring(2).split("/", -1)) {
                    String part = java.net.URLDecoder.decode(raw.replace("+", "%2B"),
                            java.nio.charset.StandardCharsets.UTF_8).replace("~1", "/").replace("~0", "~");
                    if (target instanceof Map<?, ?> m && m.containsKey(part)) {
                        target = m.get(part);
                    } else if (target instanceof List<?> l && part.matches("\\d{1,9}")
                            && Integer.parseInt(part) < l.size()) {
                        target = l.get(Integer.parseInt(part));
                    } else {
                        throw invalid(path, "$ref \"" + ref + "\" points at nothing");
                    }
                    hint = part;
                }
            }
            String name = fresh("ref-" + hint);
            refs.put(ref, name);
            rules.put(name, ""); // reserved: a recursive reference finds the name before the body exists
            String expr = visit(target, hint, ref);
            rules.put(name, expr);
            return name;
        }

        private static Map<String, Object> asObject(Object o, String path) {
            if (!(o instanceof Map<?, ?> m)) {
                throw invalid(path, "expected an object");
            }
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(String.valueOf(k), v));
            return out;
        }

        /** Only annotations may stand beside a $ref or a combinator: merging schemas is not supported. */
        private static void requireOnly(Map<String, Object> s, String path, String keyword) {
            for (String k : s.keySet()) {
                if (!k.equals(keyword) && !ANNOTATIONS.contains(k) && !k.startsWith("x-") && TYPES_OR_VALIDATION
                        .contains(k)) {
                    throw new SchemaException(keyword + " beside \"" + k + "\" at " + path
                            + " is not supported for structured output: put the keywords inside each alternative");
                }
            }
        }

        private static int count(Map<String, Object> s, String key, String path, int absent) {
            Object v = s.get(key);
            if (v == null) {
                return absent;
            }
            if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.doubleValue() < 0
                    || n.doubleValue() > Integer.MAX_VALUE) {
                throw invalid(path, key + " must be a non-negative integer");
            }
            return n.intValue();
        }

        private static BigDecimal decimal(Map<String, Object> s, String key, String path) {
            Object v = s.get(key);
            if (v == null) {
                return null;
            }
            if (!(v instanceof Number n)) {
                throw invalid(path, key + " must be a number");
            }
            return n instanceof BigDecimal d ? d : n instanceof BigInteger i ? new BigDecimal(i)
                    : n instanceof Double || n instanceof Float ? BigDecimal.valueOf(n.doubleValue())
                    : BigDecimal.valueOf(n.longValue());
        }

        private static SchemaException invalid(String path, String why) {
            return new SchemaException("invalid JSON Schema at " + path + ": " + why);
        }
    }

    /** Keywords that would change what a $ref or a combinator admits if they stood beside it. */
    private static final Set<String> TYPES_OR_VALIDATION = Set.of("type", "properties", "required",
            "additionalProperties", "items", "minItems", "maxItems", "enum", "const", "minLength", "maxLength",
            "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "allOf", "$ref");
}
