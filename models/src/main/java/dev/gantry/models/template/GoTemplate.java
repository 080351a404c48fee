package dev.gantry.models.template;

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
 * {@code tool_calls}); maps and lists print as compact JSON, as Ollama's API types print. Immutable and
 * thread-safe once parsed.
 */
public final class GoTemplate {
    private sealed interface Node {}

    private record Text(String text) implements Node {}

    private record Action(Pipe pipe) implements Node {}

    private record If(List<Pipe> tests, List<List<Node>> bodies, List<Node> otherwise) implements Node {}

    private record Range(List<String> vars, Pipe pipe, List<Node> body, List<Node> otherwise) implements Node {}

    private record With(Pipe pipe, List<Node> body, List<Node> otherwise) implements Node {}

    /** {@code $x := pipe} (declare) or {@code $x = pipe}; also a plain pipeline when {@code vars} is empty. */
    private record Pipe(List<String> vars, List<Cmd> cmds) {}

    private record Cmd(List<Operand> args) {}

    private sealed interface Operand {}

    private record Field(Operand base, List<String> path) implements Operand {}

    private record Dot() implements Operand {}

    private record Var(String name) implements Operand {}

    private record Lit(Object value) implements Operand {}

    private record Ident(String name) implements Operand {}

    private record Sub(Pipe pipe) implements Operand {}

    private static final java.util.Set<String> FUNCS = java.util.Set.of("eq", "ne", "lt", "le", "gt", "ge", "and",
            "or", "not", "len", "slice", "index", "json", "print", "printf", "println", "contains", "currentDate");

    private final List<Node> body;

    private GoTemplate(List<Node> body) {
        this.body = body;
    }

    /** Parses {@code source}; a {@link TemplateException} names the construct this renderer does not handle. */
    public static GoTemplate parse(String source) {
        Parser p = new Parser(lex(source));
        List<Node> body = p.list(java.util.Set.of());
        if (p.pos < p.items.size()) {
            throw new TemplateException("unexpected {{" + p.items.get(p.pos).text + "}}");
        }
        return new GoTemplate(body);
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

    // ------------------------------------------------------------------------------------------------ lexing

    private record Item(boolean action, String text) {}

    private static List<Item> lex(String src) {
        List<Item> items = new ArrayList<>();
        int pos = 0;
        boolean trimNext = false;
        while (pos < src.length()) {
            int open = src.indexOf("{{", pos);
            String text = src.substring(pos, open < 0 ? src.length() : open);
            if (trimNext) {
                text = text.stripLeading();
            }
            if (open < 0) {
                items.add(new Item(false, text));
                break;
            }
            int start = open + 2;
            if (src.startsWith("- ", start) || src.startsWith("-\n", start) || src.startsWith("-\t", start)) {
                text = text.stripTrailing();
                start += 1;
            }
            items.add(new Item(false, text));
            int close = findClose(src, start);
            int end = close;
            trimNext = false;
            if (close - 1 >= start && src.charAt(close - 1) == '-' && close - 2 >= start
                    && Character.isWhitespace(src.charAt(close - 2))) {
                trimNext = true;
                end = close - 1;
            }
            String action = src.substring(start, end).trim();
            if (!(action.startsWith("/*") && action.endsWith("*/"))) {
                items.add(new Item(true, action));
            }
            pos = close + 2;
        }
        items.removeIf(i -> !i.action() && i.text().isEmpty());
        return items;
    }

    private static int findClose(String src, int from) {
        int i = from;
        while (i < src.length()) {
            char c = src.charAt(i);
            if (c == '"' || c == '`' || c == '\'') {
                int j = i + 1;
                while (j < src.length() && src.charAt(j) != c) {
                    j += src.charAt(j) == '\\' && c != '`' ? 2 : 1;
                }
                i = j + 1;
            } else if (src.startsWith("}}", i)) {
                return i;
            } else {
                i++;
            }
        }
        throw new TemplateException("unclosed action");
    }

    // ------------------------------------------------------------------------------------------------ parsing

    private static final class Parser {
        final List<Item> items;
        int pos;

        Parser(List<Item> items) {
            this.items = items;
        }

        private static String keyword(String action) {
            int sp = 0;
            while (sp < action.length() && !Character.isWhitespace(action.charAt(sp))) {
                sp++;
            }
            return action.substring(0, sp);
        }

        List<Node> list(java.util.Set<String> ends) {
            List<Node> out = new ArrayList<>();
            while (pos < items.size()) {
                Item it = items.get(pos);
                if (!it.action()) {
                    out.add(new Text(it.text()));
                    pos++;
                    continue;
                }
                String kw = keyword(it.text());
                if (ends.contains(kw)) {
                    return out;
                }
                pos++;
                String rest = it.text().substring(kw.length()).trim();
                switch (kw) {
                    case "if" -> out.add(ifNode(rest));
                    case "range" -> {
                        List<String> vars = new ArrayList<>();
                        String expr = declarations(rest, vars);
                        Pipe p = pipe(expr);
                        List<Node> b = list(java.util.Set.of("else", "end"));
                        List<Node> otherwise = List.of();
                        if (keyword(items.get(pos).text()).equals("else")) {
                            pos++;
                            otherwise = list(java.util.Set.of("end"));
                        }
                        pos++;
                        out.add(new Range(vars, p, b, otherwise));
                    }
                    case "with" -> {
                        Pipe p = pipe(rest);
                        List<Node> b = list(java.util.Set.of("else", "end"));
                        List<Node> otherwise = List.of();
                        if (keyword(items.get(pos).text()).equals("else")) {
                            pos++;
                            otherwise = list(java.util.Set.of("end"));
                        }
                        pos++;
                        out.add(new With(p, b, otherwise));
                    }
                    case "define", "template", "block", "break", "continue" ->
                            throw new TemplateException("the {{" + kw + "}} action is not supported");
                    case "else", "end" -> throw new TemplateException("unexpected {{" + kw + "}}");
                    default -> out.add(new Action(pipe(it.text())));
                }
            }
            if (!ends.isEmpty()) {
                throw new TemplateException("missing {{end}}");
            }
            return out;
        }

        private If ifNode(String first) {
            List<Pipe> tests = new ArrayList<>();
            List<List<Node>> bodies = new ArrayList<>();
            tests.add(pipe(first));
            bodies.add(list(java.util.Set.of("else", "end")));
            List<Node> otherwise = List.of();
            while (true) {
                if (pos >= items.size()) {
                    throw new TemplateException("missing {{end}}");
                }
                String t = items.get(pos++).text();
                if (keyword(t).equals("end")) {
                    break;
                }
                String rest = t.substring(4).trim();
                if (rest.startsWith("if ")) {
                    tests.add(pipe(rest.substring(3)));
                    bodies.add(list(java.util.Set.of("else", "end")));
                } else if (rest.isEmpty()) {
                    otherwise = list(java.util.Set.of("end"));
                    pos++;
                    break;
                } else {
                    throw new TemplateException("the {{else " + keyword(rest) + "}} action is not supported");
                }
            }
            return new If(tests, bodies, otherwise);
        }

        /** Splits {@code $i, $m := expr} into the variables and the expression. */
        private static String declarations(String s, List<String> vars) {
            int decl = s.indexOf(":=");
            if (decl < 0 || !s.startsWith("$")) {
                return s;
            }
            for (String v : s.substring(0, decl).split(",")) {
                vars.add(v.trim());
            }
            return s.substring(decl + 2).trim();
        }

        private Pipe pipe(String s) {
            List<String> vars = new ArrayList<>();
            String expr = s;
            if (s.startsWith("$")) {
                int decl = s.indexOf(":=");
                int assign = s.indexOf(" = ");
                if (decl > 0 && !s.substring(0, decl).contains("(")) {
                    expr = declarations(s, vars);
                } else if (assign > 0 && !s.substring(0, assign).contains("(")) {
                    vars.add(s.substring(0, assign).trim());
                    expr = s.substring(assign + 3).trim();
                }
            }
            Tokens t = new Tokens(expr);
            Pipe p = new Pipe(vars, t.commands());
            if (!t.done()) {
                throw new TemplateException("unexpected text in action: " + s);
            }
            return p;
        }
    }

    /** Tokenises and parses one pipeline. */
    private static final class Tokens {
        final String s;
        int i;

        Tokens(String s) {
            this.s = s;
        }

        boolean done() {
            skip();
            return i >= s.length();
        }

        void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        List<Cmd> commands() {
            List<Cmd> cmds = new ArrayList<>();
            while (true) {
                List<Operand> args = new ArrayList<>();
                while (true) {
                    skip();
                    if (i >= s.length() || s.charAt(i) == '|' || s.charAt(i) == ')') {
                        break;
                    }
                    args.add(operand());
                }
                if (args.isEmpty()) {
                    throw new TemplateException("missing value in pipeline: " + s);
                }
                cmds.add(new Cmd(args));
                skip();
                if (i < s.length() && s.charAt(i) == '|') {
                    i++;
                    continue;
                }
                return cmds;
            }
        }

        Operand operand() {
            char c = s.charAt(i);
            Operand base;
            if (c == '(') {
                i++;
                Pipe p = new Pipe(List.of(), commands());
                skip();
                if (i >= s.length() || s.charAt(i) != ')') {
                    throw new TemplateException("unclosed ( in " + s);
                }
                i++;
                base = new Sub(p);
            } else if (c == '"' || c == '`') {
                base = new Lit(string(c));
            } else if (c == '\'') {
                base = new Lit((long) string(c).charAt(0));
            } else if (c == '.') {
                if (i + 1 >= s.length() || !Character.isLetter(s.charAt(i + 1))) {
                    i++;
                    base = new Dot();
                } else {
                    base = new Dot();
                    return new Field(base, path());
                }
            } else if (c == '$') {
                int st = i++;
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
                    i++;
                }
                base = new Var(s.substring(st, i));
            } else if (Character.isDigit(c) || c == '-') {
                int st = i++;
                while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) {
                    i++;
                }
                String n = s.substring(st, i);
                base = new Lit(n.contains(".") ? (Object) Double.parseDouble(n) : (Object) Long.parseLong(n));
            } else if (Character.isLetter(c)) {
                int st = i;
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
                    i++;
                }
                String name = s.substring(st, i);
                base = switch (name) {
                    case "true" -> new Lit(Boolean.TRUE);
                    case "false" -> new Lit(Boolean.FALSE);
                    case "nil" -> new Lit(null);
                    default -> {
                        if (!FUNCS.contains(name)) {
                            throw new TemplateException("the function '" + name + "' is not supported");
                        }
                        yield new Ident(name);
                    }
                };
            } else {
                throw new TemplateException("unexpected '" + c + "' in " + s);
            }
            if (i < s.length() && s.charAt(i) == '.' && i + 1 < s.length() && Character.isLetter(s.charAt(i + 1))) {
                return new Field(base, path());
            }
            return base;
        }

        private List<String> path() {
            List<String> path = new ArrayList<>();
            while (i < s.length() && s.charAt(i) == '.' && i + 1 < s.length() && Character.isLetter(s.charAt(i + 1))) {
                int st = ++i;
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_')) {
                    i++;
                }
                path.add(s.substring(st, i));
            }
            return path;
        }

        private String string(char q) {
            StringBuilder b = new StringBuilder();
            i++;
            while (i < s.length() && s.charAt(i) != q) {
                char c = s.charAt(i++);
                if (c == '\\' && q != '`' && i < s.length()) {
                    char e = s.charAt(i++);
                    b.append(switch (e) {
                        case 'n' -> '\n';
                        case 't' -> '\t';
                        case 'r' -> '\r';
                        default -> e;
                    });
                } else {
                    b.append(c);
                }
            }
            if (i >= s.length()) {
                throw new TemplateException("unterminated string in " + s);
            }
            i++;
            return b.toString();
        }
    }

    // ------------------------------------------------------------------------------------------------ execution

    private static final class Exec {
        void run(List<Node> nodes, Object dot, Map<String, Object> vars, StringBuilder out) {
            for (Node n : nodes) {
                switch (n) {
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
                                run(i.bodies().get(k), dot, new HashMap<>(vars), out);
                                done = true;
                            }
                        }
                        if (!done) {
                            run(i.otherwise(), dot, new HashMap<>(vars), out);
                        }
                    }
                    case With w -> {
                        Object v = pipe(w.pipe(), dot, vars);
                        if (truth(v)) {
                            run(w.body(), v, new HashMap<>(vars), out);
                        } else {
                            run(w.otherwise(), dot, new HashMap<>(vars), out);
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
                            run(r.otherwise(), dot, new HashMap<>(vars), out);
                        }
                        for (Object[] e : entries) {
                            Map<String, Object> inner = new HashMap<>(vars);
                            if (r.vars().size() == 1) {
                                inner.put(r.vars().getFirst(), e[1]);
                            } else if (r.vars().size() == 2) {
                                inner.put(r.vars().get(0), e[0]);
                                inner.put(r.vars().get(1), e[1]);
                            }
                            run(r.body(), e[1], inner, out);
                        }
                    }
                }
            }
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
                default -> throw new TemplateException("the function '" + name + "' is not supported");
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
                case List<?> l -> JsonValues.writeCompact(l);
                default -> v.toString();
            };
        }
    }
}
