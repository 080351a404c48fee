package dev.gantry.models.template;

import dev.gantry.models.template.JinjaRenderer.Callable;
import dev.gantry.models.template.JinjaRenderer.Namespace;
import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Jinja's filters and tests, the operators, and the globals Hugging Face adds for chat templates
 * ({@code raise_exception}, {@code strftime_now}, ...); the Python methods templates call are {@link JinjaMethods}.
 * Each is the subset of Python's behaviour that real chat templates rely on.
 */
final class JinjaBuiltins {

    private JinjaBuiltins() {}

    /** The globals every render sees; {@code now} gives {@code strftime_now} its clock. */
    static Map<String, Object> globals(Supplier<LocalDateTime> now) {
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("range", (Callable) (args, kw) -> range(args));
        g.put("namespace", (Callable) (args, kw) -> {
            Namespace ns = new Namespace();
            for (Object a : args) {
                if (a instanceof Map<?, ?> m) {
                    m.forEach((k, v) -> ns.attrs.put(Py.str(k), v));
                }
            }
            ns.attrs.putAll(kw);
            return ns;
        });
        g.put("dict", (Callable) (args, kw) -> {
            Map<Object, Object> d = new LinkedHashMap<>();
            for (Object a : args) {
                if (a instanceof Map<?, ?> m) {
                    d.putAll(m);
                }
            }
            d.putAll(kw);
            return d;
        });
        g.put("raise_exception", (Callable) (args, kw) -> {
            throw new TemplateException(args.isEmpty() ? "the template raised an exception" : Py.str(args.getFirst()));
        });
        g.put("strftime_now", (Callable) (args, kw) -> strftime(now.get(), args.isEmpty() ? "%Y-%m-%d"
                : Py.str(args.getFirst())));
        return g;
    }

    private static List<Object> range(List<Object> args) {
        long start = 0;
        long stop;
        long step = 1;
        if (args.size() == 1) {
            stop = Py.toLong(args.get(0));
        } else if (args.size() >= 2) {
            start = Py.toLong(args.get(0));
            stop = Py.toLong(args.get(1));
            if (args.size() > 2) {
                step = Py.toLong(args.get(2));
            }
        } else {
            throw new TemplateException("range expected at least 1 argument");
        }
        if (step == 0) {
            throw new TemplateException("range() arg 3 must not be zero");
        }
        List<Object> out = new ArrayList<>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
            out.add(i);
            if (out.size() > 1_000_000) {
                throw new TemplateException("range too large");
            }
        }
        return out;
    }

    /** Python's strftime for the directives chat templates use. */
    static String strftime(LocalDateTime t, String format) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 >= format.length()) {
                b.append(c);
                continue;
            }
            char d = format.charAt(++i);
            switch (d) {
                case 'Y' -> b.append(t.getYear());
                case 'y' -> b.append(String.format("%02d", t.getYear() % 100));
                case 'm' -> b.append(String.format("%02d", t.getMonthValue()));
                case 'd' -> b.append(String.format("%02d", t.getDayOfMonth()));
                case 'e' -> b.append(String.format("%2d", t.getDayOfMonth()));
                case '-' -> {
                    if (i + 1 < format.length()) {
                        char e = format.charAt(++i);
                        b.append(switch (e) {
                            case 'd' -> String.valueOf(t.getDayOfMonth());
                            case 'm' -> String.valueOf(t.getMonthValue());
                            case 'H' -> String.valueOf(t.getHour());
                            case 'I' -> String.valueOf((t.getHour() + 11) % 12 + 1);
                            default -> "%-" + e;
                        });
                    }
                }
                case 'H' -> b.append(String.format("%02d", t.getHour()));
                case 'I' -> b.append(String.format("%02d", (t.getHour() + 11) % 12 + 1));
                case 'M' -> b.append(String.format("%02d", t.getMinute()));
                case 'S' -> b.append(String.format("%02d", t.getSecond()));
                case 'p' -> b.append(t.getHour() < 12 ? "AM" : "PM");
                case 'B' -> b.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'b', 'h' -> b.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'j' -> b.append(String.format("%03d", t.getDayOfYear()));
                case '%' -> b.append('%');
                default -> b.append('%').append(d);
            }
        }
        return b.toString();
    }

    // ---------------------------------------------------------------------------------------------- operators

    static Object binary(String op, Object l, Object r) {
        l = Py.unwrap(l);
        r = Py.unwrap(r);
        return switch (op) {
            case "==" -> Py.equal(l, r);
            case "!=" -> !Py.equal(l, r);
            case "<" -> Py.compare(l, r) < 0;
            case "<=" -> Py.compare(l, r) <= 0;
            case ">" -> Py.compare(l, r) > 0;
            case ">=" -> Py.compare(l, r) >= 0;
            case "in" -> contains(r, l);
            case "not in" -> !contains(r, l);
            case "~" -> Py.str(l) + Py.str(r);
            case "+" -> plus(l, r);
            case "-", "*", "/", "//", "%", "**" -> arithmetic(op, l, r);
            default -> throw new TemplateException("unknown operator " + op);
        };
    }

    private static Object plus(Object l, Object r) {
        if (l instanceof String a && r instanceof String b) {
            return a + b;
        }
        if (l instanceof List<?> a && r instanceof List<?> b) {
            List<Object> out = new ArrayList<>(a);
            out.addAll(b);
            return out;
        }
        if (Py.isNumber(l) && Py.isNumber(r)) {
            return arithmetic("+", l, r);
        }
        if (l instanceof String && r instanceof Undefined || l instanceof Undefined && r instanceof String) {
            return Py.str(l) + Py.str(r);
        }
        throw new TemplateException("unsupported operand types for +: '" + Py.typeName(l) + "' and '"
                + Py.typeName(r) + "'");
    }

    private static Object arithmetic(String op, Object l, Object r) {
        if (op.equals("*") && l instanceof String s && r instanceof Long n) {
            return s.repeat((int) Math.max(0, n));
        }
        if (op.equals("%") && l instanceof String s) {
            return percentFormat(s, r instanceof List<?> list ? new ArrayList<>(list) : List.of(r));
        }
        if (!Py.isNumber(l) || !Py.isNumber(r)) {
            throw new TemplateException("unsupported operand types for " + op + ": '" + Py.typeName(l) + "' and '"
                    + Py.typeName(r) + "'");
        }
        if (l instanceof Long a && r instanceof Long b && !op.equals("/")) {
            return switch (op) {
                case "+" -> a + b;
                case "-" -> a - b;
                case "*" -> a * b;
                case "//" -> Math.floorDiv(a, b);
                case "%" -> Math.floorMod(a, b);
                case "**" -> b >= 0 ? (Object) (long) Math.pow(a, b) : Math.pow(a, b);
                default -> throw new TemplateException("unknown operator " + op);
            };
        }
        double a = ((Number) l).doubleValue();
        double b = ((Number) r).doubleValue();
        if ((op.equals("/") || op.equals("//") || op.equals("%")) && b == 0) {
            throw new TemplateException("division by zero");
        }
        return switch (op) {
            case "+" -> a + b;
            case "-" -> a - b;
            case "*" -> a * b;
            case "/" -> a / b;
            case "//" -> Math.floor(a / b);
            case "%" -> a - b * Math.floor(a / b);
            case "**" -> Math.pow(a, b);
            default -> throw new TemplateException("unknown operator " + op);
        };
    }

    static Object negate(Object v) {
        return switch (Py.unwrap(v)) {
            case Long l -> -l;
            case Double d -> -d;
            case Object o -> throw new TemplateException("bad operand type for unary -: '" + Py.typeName(o) + "'");
        };
    }

    static boolean contains(Object container, Object item) {
        return switch (Py.unwrap(container)) {
            case String s -> s.contains(Py.str(item));
            case Map<?, ?> m -> m.containsKey(item);
            case Collection<?> c -> c.stream().anyMatch(x -> Py.equal(x, item));
            case JinjaRenderer.Namespace ns -> ns.attrs.containsKey(Py.str(item));
            case null -> false;
            case Undefined u -> false;
            case Object o -> throw new TemplateException("argument of type '" + Py.typeName(o) + "' is not iterable");
        };
    }

    /** Python slicing ({@code [a:b:c]}, negative indexes and steps) of a list or string. */
    static Object slice(Object target, Object start, Object stop, Object step) {
        target = Py.unwrap(target);
        List<Object> items;
        boolean string = target instanceof String;
        if (string) {
            items = Py.iterate(target);
        } else if (target instanceof List<?> l) {
            items = new ArrayList<>(l);
        } else if (target instanceof Undefined || target == null) {
            return target;
        } else {
            throw new TemplateException("'" + Py.typeName(target) + "' object is not subscriptable");
        }
        int n = items.size();
        long st = step == null ? 1 : Py.toLong(step);
        if (st == 0) {
            throw new TemplateException("slice step cannot be zero");
        }
        long a;
        long b;
        if (st > 0) {
            a = start == null ? 0 : clamp(Py.toLong(start), n, 0, n);
            b = stop == null ? n : clamp(Py.toLong(stop), n, 0, n);
        } else {
            a = start == null ? n - 1 : clamp(Py.toLong(start), n, -1, n - 1);
            b = stop == null ? -1 : clamp(Py.toLong(stop), n, -1, n - 1);
        }
        List<Object> out = new ArrayList<>();
        for (long i = a; st > 0 ? i < b : i > b; i += st) {
            out.add(items.get((int) i));
        }
        if (string) {
            StringBuilder s = new StringBuilder();
            out.forEach(s::append);
            return s.toString();
        }
        return out;
    }

    private static long clamp(long i, int n, long lo, long hi) {
        if (i < 0) {
            i += n;
        }
        return Math.max(lo, Math.min(hi, i));
    }

    // ---------------------------------------------------------------------------------------------- tests

    static boolean test(String name, Object v, List<Object> args) {
        Object value = Py.unwrap(v);
        return switch (name) {
            case "defined" -> !(value instanceof Undefined);
            case "undefined" -> value instanceof Undefined;
            case "none" -> value == null;
            case "boolean" -> value instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(value);
            case "false" -> Boolean.FALSE.equals(value);
            case "number" -> Py.isNumber(value);
            case "integer" -> value instanceof Long;
            case "float" -> value instanceof Double;
            case "string" -> value instanceof String;
            case "mapping" -> value instanceof Map;
            case "iterable" -> value instanceof Collection || value instanceof Map || value instanceof String;
            case "sequence" -> value instanceof List || value instanceof String || value instanceof Map;
            case "callable" -> value instanceof Callable;
            case "odd" -> Py.toLong(value) % 2 != 0;
            case "even" -> Py.toLong(value) % 2 == 0;
            case "divisibleby" -> Py.toLong(value) % Py.toLong(args.getFirst()) == 0;
            case "eq", "equalto", "==" -> Py.equal(value, args.getFirst());
            case "ne", "!=" -> !Py.equal(value, args.getFirst());
            case "lt", "lessthan", "<" -> Py.compare(value, args.getFirst()) < 0;
            case "le", "<=" -> Py.compare(value, args.getFirst()) <= 0;
            case "gt", "greaterthan", ">" -> Py.compare(value, args.getFirst()) > 0;
            case "ge", ">=" -> Py.compare(value, args.getFirst()) >= 0;
            case "in" -> contains(args.getFirst(), value);
            case "lower" -> value instanceof String s && s.equals(s.toLowerCase(Locale.ROOT));
            case "upper" -> value instanceof String s && s.equals(s.toUpperCase(Locale.ROOT));
            case "sameas" -> value == Py.unwrap(args.getFirst()) || Py.equal(value, args.getFirst())
                    && (value == null || value instanceof Boolean);
            case "escaped" -> false;
            default -> throw new TemplateException("no test named '" + name + "'");
        };
    }

    // ---------------------------------------------------------------------------------------------- filters

    private static Object arg(List<Object> args, Map<String, Object> kw, int i, String name, Object def) {
        if (i < args.size()) {
            return args.get(i);
        }
        return kw.containsKey(name) ? kw.get(name) : def;
    }

    static Object filter(String name, Object v, List<Object> args, Map<String, Object> kw) {
        Object value = Py.unwrap(v);
        return switch (name) {
            case "safe", "escape_once" -> value;
            case "string" -> Py.str(value);
            case "trim" -> {
                Object chars = arg(args, kw, 0, "chars", null);
                yield chars == null ? pyStrip(Py.str(value), null, true, true)
                        : pyStrip(Py.str(value), Py.str(chars), true, true);
            }
            case "upper" -> Py.str(value).toUpperCase(Locale.ROOT);
            case "lower" -> Py.str(value).toLowerCase(Locale.ROOT);
            case "capitalize" -> capitalize(Py.str(value));
            case "title" -> title(Py.str(value));
            case "length", "count" -> Py.length(value);
            case "tojson" -> {
                Object indent = arg(args, kw, 0, "indent", null);
                yield JsonValues.write(value, indent == null ? 0 : (int) Py.toLong(indent));
            }
            case "from_json", "fromjson" -> JsonValues.parse(Py.str(value));
            case "items" -> items(value);
            case "dictsort" -> {
                List<Object> items = items(value);
                boolean byValue = "value".equals(arg(args, kw, 1, "by", "key"));
                boolean reverse = Py.truthy(arg(args, kw, 2, "reverse", false));
                Comparator<Object> c = Comparator.comparing(o -> sortKey(((List<?>) o).get(byValue ? 1 : 0), false),
                        JinjaBuiltins::compareKeys);
                items.sort(reverse ? c.reversed() : c);
                yield items;
            }
            case "replace" -> {
                String s = Py.str(value);
                String old = Py.str(arg(args, kw, 0, "old", ""));
                String rep = Py.str(arg(args, kw, 1, "new", ""));
                Object count = arg(args, kw, 2, "count", null);
                yield replace(s, old, rep, count == null ? -1 : Py.toLong(count));
            }
            case "join" -> {
                String sep = Py.str(arg(args, kw, 0, "d", ""));
                Object attr = arg(args, kw, 1, "attribute", null);
                StringBuilder b = new StringBuilder();
                boolean first = true;
                for (Object o : Py.iterate(value)) {
                    if (!first) {
                        b.append(sep);
                    }
                    first = false;
                    b.append(Py.str(attr == null ? o : path(o, attr)));
                }
                yield b.toString();
            }
            case "default", "d" -> {
                Object def = arg(args, kw, 0, "default_value", "");
                boolean bool = Py.truthy(arg(args, kw, 1, "boolean", false));
                yield value instanceof Undefined || (bool && !Py.truthy(value)) ? def : value;
            }
            case "first" -> {
                List<Object> l = Py.iterate(value);
                yield l.isEmpty() ? new Undefined("first") : l.getFirst();
            }
            case "last" -> {
                List<Object> l = Py.iterate(value);
                yield l.isEmpty() ? new Undefined("last") : l.getLast();
            }
            case "list" -> Py.iterate(value);
            case "reverse" -> value instanceof String s ? new StringBuilder(s).reverse().toString()
                    : slice(Py.iterate(value), null, null, -1L);
            case "unique" -> {
                List<Object> out = new ArrayList<>();
                for (Object o : Py.iterate(value)) {
                    if (out.stream().noneMatch(x -> Py.equal(x, o))) {
                        out.add(o);
                    }
                }
                yield out;
            }
            case "sort" -> {
                boolean reverse = Py.truthy(arg(args, kw, 0, "reverse", false));
                boolean caseSensitive = Py.truthy(arg(args, kw, 1, "case_sensitive", false));
                Object attr = arg(args, kw, 2, "attribute", null);
                List<Object> l = Py.iterate(value);
                Comparator<Object> c = Comparator.comparing(o -> sortKey(attr == null ? o : path(o, attr),
                        caseSensitive), JinjaBuiltins::compareKeys);
                l.sort(reverse ? c.reversed() : c);
                yield l;
            }
            case "min", "max" -> {
                List<Object> l = Py.iterate(value);
                if (l.isEmpty()) {
                    yield new Undefined(name);
                }
                Object best = l.getFirst();
                for (Object o : l) {
                    int c = Py.compare(o, best);
                    if (name.equals("min") ? c < 0 : c > 0) {
                        best = o;
                    }
                }
                yield best;
            }
            case "sum" -> {
                Object total = arg(args, kw, 1, "start", 0L);
                Object attr = arg(args, kw, 0, "attribute", null);
                for (Object o : Py.iterate(value)) {
                    total = arithmetic("+", Py.unwrap(total), Py.unwrap(attr == null ? o : path(o, attr)));
                }
                yield total;
            }
            case "int" -> toInt(value, arg(args, kw, 0, "default", 0L));
            case "float" -> toFloat(value, arg(args, kw, 0, "default", 0.0));
            case "abs" -> value instanceof Long l ? Math.abs(l) : Math.abs(((Number) value).doubleValue());
            case "round" -> {
                long precision = Py.toLong(arg(args, kw, 0, "precision", 0L));
                double scale = Math.pow(10, precision);
                yield Math.round(((Number) value).doubleValue() * scale) / scale;
            }
            case "indent" -> indent(Py.str(value), arg(args, kw, 0, "width", 4L),
                    Py.truthy(arg(args, kw, 1, "first", false)), Py.truthy(arg(args, kw, 2, "blank", false)));
            case "wordcount" -> (long) Py.str(value).trim().split("\\s+").length;
            case "center" -> {
                String s = Py.str(value);
                int width = (int) Py.toLong(arg(args, kw, 0, "width", 80L));
                int pad = Math.max(0, width - s.length());
                yield " ".repeat(pad / 2) + s + " ".repeat(pad - pad / 2);
            }
            case "escape", "e" -> Py.str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    .replace("\"", "&#34;").replace("'", "&#39;");
            case "format" -> percentFormat(Py.str(value), args);
            case "attr" -> JinjaRenderer.attribute(value, Py.str(args.getFirst()));
            case "map" -> {
                List<Object> out = new ArrayList<>();
                Object attr = kw.get("attribute");
                for (Object o : Py.iterate(value)) {
                    if (attr != null) {
                        Object x = path(o, attr);
                        out.add(x instanceof Undefined && kw.containsKey("default") ? kw.get("default") : x);
                    } else if (!args.isEmpty()) {
                        Map<String, Object> rest = new LinkedHashMap<>(kw);
                        out.add(filter(Py.str(args.getFirst()), o, args.subList(1, args.size()), rest));
                    } else {
                        out.add(o);
                    }
                }
                yield out;
            }
            case "select", "reject" -> {
                List<Object> out = new ArrayList<>();
                for (Object o : Py.iterate(value)) {
                    boolean ok = args.isEmpty() ? Py.truthy(o)
                            : test(Py.str(args.getFirst()), o, args.subList(1, args.size()));
                    if (ok == name.equals("select")) {
                        out.add(o);
                    }
                }
                yield out;
            }
            case "selectattr", "rejectattr" -> {
                List<Object> out = new ArrayList<>();
                Object attr = args.getFirst();
                for (Object o : Py.iterate(value)) {
                    Object x = path(o, attr);
                    boolean ok = args.size() < 2 ? Py.truthy(x)
                            : test(Py.str(args.get(1)), x, args.subList(2, args.size()));
                    if (ok == name.equals("selectattr")) {
                        out.add(o);
                    }
                }
                yield out;
            }
            case "batch" -> {
                int size = (int) Py.toLong(args.getFirst());
                List<Object> all = Py.iterate(value);
                List<Object> out = new ArrayList<>();
                for (int i = 0; i < all.size(); i += size) {
                    out.add(new ArrayList<>(all.subList(i, Math.min(all.size(), i + size))));
                }
                yield out;
            }
            case "pprint" -> Py.repr(value);
            default -> throw new TemplateException("no filter named '" + name + "'");
        };
    }

    /** {@code attribute='a.b'} or an index, as Jinja's attribute-taking filters resolve them. */
    private static Object path(Object o, Object attr) {
        if (attr instanceof Number) {
            return JinjaRenderer.item(o, attr);
        }
        Object cur = o;
        for (String part : Py.str(attr).split("\\.")) {
            cur = part.chars().allMatch(Character::isDigit) && cur instanceof List<?>
                    ? JinjaRenderer.item(cur, Long.parseLong(part)) : JinjaRenderer.attribute(cur, part);
        }
        return cur;
    }

    private static Object sortKey(Object o, boolean caseSensitive) {
        o = Py.unwrap(o);
        return !caseSensitive && o instanceof String s ? s.toLowerCase(Locale.ROOT) : o;
    }

    private static int compareKeys(Object a, Object b) {
        return Py.compare(a, b);
    }

    static List<Object> items(Object value) {
        List<Object> out = new ArrayList<>();
        if (value instanceof Map<?, ?> m) {
            m.forEach((k, x) -> out.add(new ArrayList<>(java.util.Arrays.asList(k, x))));
        } else if (value instanceof Namespace ns) {
            ns.attrs.forEach((k, x) -> out.add(new ArrayList<>(java.util.Arrays.asList(k, x))));
        } else if (!(value instanceof Undefined) && value != null) {
            throw new TemplateException("'" + Py.typeName(value) + "' object has no attribute 'items'");
        }
        return out;
    }

    private static Object toInt(Object v, Object def) {
        return switch (v) {
            case Long l -> l;
            case Double d -> (long) (double) d;
            case Boolean b -> b ? 1L : 0L;
            case String s -> {
                try {
                    yield Long.parseLong(s.trim());
                } catch (NumberFormatException e) {
                    try {
                        yield (long) Double.parseDouble(s.trim());
                    } catch (NumberFormatException e2) {
                        yield def;
                    }
                }
            }
            case null, default -> def;
        };
    }

    private static Object toFloat(Object v, Object def) {
        return switch (v) {
            case Long l -> (double) l;
            case Double d -> d;
            case String s -> {
                try {
                    yield Double.parseDouble(s.trim());
                } catch (NumberFormatException e) {
                    yield def;
                }
            }
            case null, default -> def;
        };
    }

    private static String indent(String s, Object width, boolean first, boolean blank) {
        String pad = width instanceof String w ? w : " ".repeat((int) Py.toLong(width));
        String[] lines = s.split("\n", -1);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < lines.length; i++) {
            if (i > 0) {
                b.append('\n');
            }
            String line = lines[i];
            boolean doIndent = (i > 0 || first) && (blank || !line.isBlank());
            b.append(doIndent ? pad : "").append(line);
        }
        return b.toString();
    }

    static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        return s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
    }

    static String title(String s) {
        StringBuilder b = new StringBuilder(s.length());
        boolean prevLetter = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append(prevLetter ? Character.toLowerCase(c) : Character.toUpperCase(c));
            prevLetter = Character.isLetter(c);
        }
        return b.toString();
    }

    static String replace(String s, String old, String rep, long count) {
        if (count < 0) {
            return old.isEmpty() ? s : s.replace(old, rep);
        }
        StringBuilder b = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++) {
            int i = s.indexOf(old, from);
            if (i < 0 || old.isEmpty()) {
                break;
            }
            b.append(s, from, i).append(rep);
            from = i + old.length();
        }
        return b.append(s.substring(from)).toString();
    }

    /** Python's {@code str.strip([chars])} family. */
    static String pyStrip(String s, String chars, boolean left, boolean right) {
        int a = 0;
        int b = s.length();
        while (left && a < b && (chars == null ? Character.isWhitespace(s.charAt(a)) : chars.indexOf(s.charAt(a)) >= 0)) {
            a++;
        }
        while (right && b > a && (chars == null ? Character.isWhitespace(s.charAt(b - 1))
                : chars.indexOf(s.charAt(b - 1)) >= 0)) {
            b--;
        }
        return s.substring(a, b);
    }

    /** {@code "%s and %d" % (a, b)}: the conversions templates use. */
    private static String percentFormat(String format, List<Object> args) {
        StringBuilder b = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 >= format.length()) {
                b.append(c);
                continue;
            }
            char d = format.charAt(++i);
            switch (d) {
                case '%' -> b.append('%');
                case 's' -> b.append(Py.str(next < args.size() ? args.get(next++) : ""));
                case 'r' -> b.append(Py.repr(next < args.size() ? args.get(next++) : ""));
                case 'd', 'i' -> b.append(Py.toLong(next < args.size() ? args.get(next++) : 0L));
                default -> b.append('%').append(d);
            }
        }
        return b.toString();
    }


    // ---------------------------------------------------------------------------------------------- methods

}
