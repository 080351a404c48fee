package dev.gantry.models.template;

import dev.gantry.models.template.GoAst.Action;
import dev.gantry.models.template.GoAst.Cmd;
import dev.gantry.models.template.GoAst.Dot;
import dev.gantry.models.template.GoAst.Field;
import dev.gantry.models.template.GoAst.Ident;
import dev.gantry.models.template.GoAst.If;
import dev.gantry.models.template.GoAst.Lit;
import dev.gantry.models.template.GoAst.Node;
import dev.gantry.models.template.GoAst.Operand;
import dev.gantry.models.template.GoAst.Pipe;
import dev.gantry.models.template.GoAst.Range;
import dev.gantry.models.template.GoAst.Sub;
import dev.gantry.models.template.GoAst.Text;
import dev.gantry.models.template.GoAst.Var;
import dev.gantry.models.template.GoAst.With;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The subset of Go's {@code text/template} that Ollama TEMPLATE layers use: text, {@code {{ pipeline }}} with
 * {@code {{-}} / {@code -}}} trimming, comments, fields ({@code .System}, {@code .Messages}, {@code $.Tools},
 * {@code $var.Role}), variables ({@code $x := ...}, {@code range $i, $m := ...}), {@code if}/{@code else if}/
 * {@code else}/{@code end}, {@code range}, {@code with}, and the functions {@code eq ne lt le gt ge and or not len
 * slice index json print printf contains currentDate}. Anything else ({@code define}, {@code template},
 * {@code block}, other functions) fails to parse with a {@link TemplateException} saying which construct, so the
 * caller can fall back to the model's Jinja template.
 *
 * <p>Fields are looked up in maps by their Go name or its snake_case form ({@code .ToolCalls} finds
 * {@code tool_calls}); maps and lists of objects print as compact JSON, as Ollama's API types print, lists of
 * plain values as Go prints a slice ({@code [city unit]}). Immutable and thread-safe once parsed.
 */
public final class GoTemplate {
    private final List<Node> body;
    private final String source;

    private GoTemplate(List<Node> body, String source) {
        this.body = body;
        this.source = source;
    }

    /** Parses {@code source}; a {@link TemplateException} names the construct this renderer does not handle. */
    public static GoTemplate parse(String source) {
        return new GoTemplate(GoParser.parse(source), source);
    }

    /**
     * This template with {@code {{ .Response }}} at its end where it reads neither {@code .Messages} nor
     * {@code .Response}, as Ollama touches such a template up when it parses it: the answers of earlier turns are
     * then part of the prompt (with {@code {{ .Prompt }}}, every turn's prompt and answer one after the other).
     */
    public GoTemplate withResponse() {
        return usesMessages() || mentions("Response") ? this : parse(source + "{{ .Response }}");
    }

    /** Whether the template renders the conversation itself ({@code .Messages}) rather than one turn. */
    public boolean usesMessages() {
        return mentions(body, "Messages");
    }

    /** Whether the template reads {@code field} anywhere ({@code .Response}, {@code .Tools}, ...). */
    public boolean mentions(String field) {
        return mentions(body, field);
    }

    private static boolean mentions(List<Node> nodes, String field) {
        for (Node n : nodes) {
            boolean hit = switch (n) {
                case Text t -> false;
                case GoAst.Break b -> false;
                case GoAst.Continue c -> false;
                case Action a -> mentions(a.pipe(), field);
                case If i -> i.tests().stream().anyMatch(t -> mentions(t, field))
                        || i.bodies().stream().anyMatch(b -> mentions(b, field)) || mentions(i.otherwise(), field);
                case Range r -> mentions(r.pipe(), field) || mentions(r.body(), field) || mentions(r.otherwise(), field);
                case With w -> mentions(w.pipe(), field) || mentions(w.body(), field) || mentions(w.otherwise(), field);
            };
            if (hit) {
                return true;
            }
        }
        return false;
    }

    private static boolean mentions(Pipe p, String field) {
        for (Cmd c : p.cmds()) {
            for (Operand o : c.args()) {
                if (o instanceof Field f && f.path().contains(field)
                        || o instanceof Sub s && mentions(s.pipe(), field)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Renders with {@code data} as dot (and {@code $}). */
    public String render(Map<String, ?> data) {
        StringBuilder out = new StringBuilder();
        Map<String, Object> vars = new HashMap<>();
        vars.put("$", data);
        new Exec().run(body, data, vars, out);
        return out.toString();
    }

    /** How a list of nodes ended: at its end, or at a {@code break} or {@code continue} of the range around it. */
    private enum Flow { NEXT, BREAK, CONTINUE }

    // ------------------------------------------------------------------------------------------------ execution

    private static final class Exec {
        Flow run(List<Node> nodes, Object dot, Map<String, Object> vars, StringBuilder out) {
            for (Node n : nodes) {
                Flow flow = Flow.NEXT;
                switch (n) {
                    case GoAst.Break b -> flow = Flow.BREAK;
                    case GoAst.Continue c -> flow = Flow.CONTINUE;
                    case Text t -> out.append(t.text());
                    case Action a -> {
                        Object v = pipe(a.pipe(), dot, vars);
                        if (a.pipe().vars().isEmpty()) {
                            out.append(print(v));
                        }
                    }
                    case If i -> {
                        boolean done = false;
                        for (int k = 0; k < i.tests().size() && !done; k++) {
                            if (truth(pipe(i.tests().get(k), dot, vars))) {
                                flow = run(i.bodies().get(k), dot, new HashMap<>(vars), out);
                                done = true;
                            }
                        }
                        if (!done) {
                            flow = run(i.otherwise(), dot, new HashMap<>(vars), out);
                        }
                    }
                    case With w -> {
                        Object v = pipe(w.pipe(), dot, vars);
                        if (truth(v)) {
                            flow = run(w.body(), v, new HashMap<>(vars), out);
                        } else {
                            flow = run(w.otherwise(), dot, new HashMap<>(vars), out);
                        }
                    }
                    case Range r -> {
                        Object v = pipe(new Pipe(List.of(), r.pipe().cmds()), dot, vars);
                        List<Object[]> entries = new ArrayList<>();
                        if (v instanceof List<?> l) {
                            for (int k = 0; k < l.size(); k++) {
                                entries.add(new Object[] {(long) k, l.get(k)});
                            }
                        } else if (v instanceof Map<?, ?> m) {
                            new java.util.TreeMap<>(m.entrySet().stream().collect(java.util.stream.Collectors.toMap(
                                    e -> String.valueOf(e.getKey()), Map.Entry::getValue)))
                                    .forEach((k, x) -> entries.add(new Object[] {k, x}));
                        } else if (v instanceof Long count) {
                            for (long k = 0; k < count; k++) {
                                entries.add(new Object[] {k, k});
                            }
                        }
                        if (entries.isEmpty()) {
                            flow = run(r.otherwise(), dot, new HashMap<>(vars), out); // a break there is the outer range's
                        }
                        for (Object[] e : entries) {
                            Map<String, Object> inner = new HashMap<>(vars);
                            if (r.vars().size() == 1) {
                                inner.put(r.vars().getFirst(), e[1]);
                            } else if (r.vars().size() == 2) {
                                inner.put(r.vars().get(0), e[0]);
                                inner.put(r.vars().get(1), e[1]);
                            }
                            if (run(r.body(), e[1], inner, out) == Flow.BREAK) {
                                break;
                            }
                        }
                    }
                }
                if (flow != Flow.NEXT) {
                    return flow; // up to the range it belongs to
                }
            }
            return Flow.NEXT;
        }

        Object pipe(Pipe p, Object dot, Map<String, Object> vars) {
            Object v = null;
            boolean first = true;
            for (Cmd c : p.cmds()) {
                v = command(c, dot, vars, first ? null : new Object[] {v});
                first = false;
            }
            for (String name : p.vars()) {
                vars.put(name, v);
            }
            return v;
        }

        private Object command(Cmd c, Object dot, Map<String, Object> vars, Object[] piped) {
            Operand head = c.args().getFirst();
            if (head instanceof Ident id) {
                List<Object> args = new ArrayList<>();
                if (id.name().equals("and") || id.name().equals("or")) {
                    boolean isAnd = id.name().equals("and");
                    Object last = null;
                    List<Operand> ops = c.args().subList(1, c.args().size());
                    for (Operand o : ops) {
                        last = operand(o, dot, vars);
                        if (truth(last) != isAnd) {
                            return last;
                        }
                    }
                    if (piped != null) {
                        last = piped[0];
                    }
                    return last;
                }
                for (Operand o : c.args().subList(1, c.args().size())) {
                    args.add(operand(o, dot, vars));
                }
                if (piped != null) {
                    args.add(piped[0]);
                }
                return call(id.name(), args);
            }
            if (c.args().size() > 1 || piped != null) {
                throw new TemplateException("can't give arguments to a non-function value");
            }
            return operand(head, dot, vars);
        }

        private Object operand(Operand o, Object dot, Map<String, Object> vars) {
            return switch (o) {
                case Lit l -> l.value();
                case Dot d -> dot;
                case Var v -> {
                    if (!vars.containsKey(v.name())) {
                        throw new TemplateException("undefined variable " + v.name());
                    }
                    yield vars.get(v.name());
                }
                case Sub s -> pipe(s.pipe(), dot, vars);
                case Ident id -> call(id.name(), List.of());
                case Field f -> {
                    Object cur = operand(f.base(), dot, vars);
                    for (String name : f.path()) {
                        cur = field(cur, name);
                    }
                    yield cur;
                }
            };
        }

        private static Object field(Object v, String name) {
            if (v instanceof Map<?, ?> m) {
                if (m.containsKey(name)) {
                    return m.get(name);
                }
                String snake = snake(name);
                if (m.containsKey(snake)) {
                    return m.get(snake);
                }
                return m.get(name.toLowerCase(Locale.ROOT));
            }
            return null;
        }

        private static String snake(String name) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < name.length(); i++) {
                char c = name.charAt(i);
                if (Character.isUpperCase(c)) {
                    if (i > 0 && !Character.isUpperCase(name.charAt(i - 1))) {
                        b.append('_');
                    }
                    b.append(Character.toLowerCase(c));
                } else {
                    b.append(c);
                }
            }
            return b.toString();
        }

        private static Object call(String name, List<Object> a) {
            return switch (name) {
                case "eq" -> {
                    for (int k = 1; k < a.size(); k++) {
                        if (Py.equal(a.get(0), a.get(k))) {
                            yield true;
                        }
                    }
                    yield false;
                }
                case "ne" -> !Py.equal(a.get(0), a.get(1));
                case "lt" -> Py.compare(a.get(0), a.get(1)) < 0;
                case "le" -> Py.compare(a.get(0), a.get(1)) <= 0;
                case "gt" -> Py.compare(a.get(0), a.get(1)) > 0;
                case "ge" -> Py.compare(a.get(0), a.get(1)) >= 0;
                case "not" -> !truth(a.getFirst());
                case "len" -> a.getFirst() == null ? 0L : Py.length(a.getFirst());
                case "index" -> {
                    Object cur = a.getFirst();
                    for (Object k : a.subList(1, a.size())) {
                        cur = cur instanceof List<?> l ? l.get((int) Py.toLong(k))
                                : cur instanceof Map<?, ?> m ? m.get(k) : null;
                    }
                    yield cur;
                }
                case "slice" -> {
                    Object x = a.getFirst();
                    Object from = a.size() > 1 ? a.get(1) : null;
                    Object to = a.size() > 2 ? a.get(2) : null;
                    yield JinjaBuiltins.slice(x, from, to, null);
                }
                case "json" -> JsonValues.writeCompact(a.getFirst());
                case "contains" -> Py.str(a.get(0)).contains(Py.str(a.get(1)));
                case "print", "println" -> {
                    StringBuilder b = new StringBuilder();
                    for (Object o : a) {
                        b.append(print(o));
                    }
                    yield name.equals("println") ? b.append('\n').toString() : b.toString();
                }
                case "printf" -> {
                    String f = Py.str(a.getFirst());
                    List<Object> rest = a.subList(1, a.size());
                    StringBuilder b = new StringBuilder();
                    int k = 0;
                    for (int i = 0; i < f.length(); i++) {
                        char c = f.charAt(i);
                        if (c == '%' && i + 1 < f.length()) {
                            char d = f.charAt(++i);
                            if (d == '%') {
                                b.append('%');
                            } else {
                                Object v = k < rest.size() ? rest.get(k++) : null;
                                b.append(d == 'q' ? JsonValues.writeCompact(print(v)) : print(v));
                            }
                        } else {
                            b.append(c);
                        }
                    }
                    yield b.toString();
                }
                case "currentDate" -> LocalDate.now().toString();
                default -> throw TemplateException.unsupported("the function '" + name + "' is not supported");
            };
        }

        static boolean truth(Object v) {
            return switch (v) {
                case null -> false;
                case Boolean b -> b;
                case Number n -> n.doubleValue() != 0;
                case String s -> !s.isEmpty();
                case List<?> l -> !l.isEmpty();
                case Map<?, ?> m -> !m.isEmpty();
                default -> true;
            };
        }

        static String print(Object v) {
            return switch (v) {
                case null -> "";
                case String s -> s;
                case Boolean b -> b.toString();
                case Double d -> d == Math.rint(d) && Math.abs(d) < 1e21 ? String.valueOf(d.longValue())
                        : d.toString();
                case Number n -> n.toString();
                case Map<?, ?> m -> JsonValues.writeCompact(m);
                case List<?> l when l.stream().allMatch(Exec::scalar) -> goList(l);
                case List<?> l -> JsonValues.writeCompact(l);
                default -> v.toString();
            };
        }

        /**
         * A list of plain values as Go prints a slice: {@code [string null]}, elements apart by spaces. Ollama's
         * tool schema holds those as Go slices ({@code required}, {@code enum}, a property's {@code type} of
         * several names), and a template that prints one gets that form; lists of objects are Ollama's API types,
         * whose String methods write JSON.
         */
        private static String goList(List<?> l) {
            StringBuilder b = new StringBuilder("[");
            for (Object o : l) {
                if (b.length() > 1) {
                    b.append(' ');
                }
                b.append(o == null ? "<nil>" : print(o));
            }
            return b.append(']').toString();
        }

        private static boolean scalar(Object o) {
            return o == null || o instanceof String || o instanceof Number || o instanceof Boolean;
        }
    }
}
