package dev.gantry.models.template;

import dev.gantry.models.template.JinjaRenderer.Callable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Python methods chat templates call on strings, lists, dicts and loops ({@code s.strip()},
 * {@code messages.pop()}, {@code d.items()}, {@code "{}".format(x)}, ...): the subset of Python's behaviour that
 * real chat templates rely on. Stateless.
 */
final class JinjaMethods {
    /** {@link #method} found no such method; the caller falls back to calling an attribute. */
    static final Object NO_METHOD = new Object();

    private JinjaMethods() {
    }

    /** A method call on a string, list, dict or loop; {@link #NO_METHOD} when the target has no such method. */
    static Object method(Object target, String name, List<Object> args, Map<String, Object> kw) {
        Object t = Py.unwrap(target);
        return switch (t) {
            case String s -> stringMethod(s, name, args, kw);
            case List<?> l -> listMethod(l, name, args);
            case Map<?, ?> m -> m.containsKey(name) && m.get(name) instanceof Callable ? NO_METHOD
                    : mapMethod(JinjaRenderer.castMap(m), name, args);
            case JinjaRenderer.LoopInfo l when name.equals("cycle") ->
                    args.isEmpty() ? null : args.get(l.index0() % args.size());
            case null, default -> NO_METHOD;
        };
    }

    private static Object stringMethod(String s, String name, List<Object> args, Map<String, Object> kw) {
        Object a0 = args.isEmpty() ? null : Py.unwrap(args.getFirst());
        return switch (name) {
            case "startswith", "endswith" -> {
                List<Object> options = a0 instanceof List<?> l ? new ArrayList<>(l) : java.util.Arrays.asList(a0);
                boolean start = name.equals("startswith");
                yield options.stream().anyMatch(o -> start ? s.startsWith(Py.str(o)) : s.endsWith(Py.str(o)));
            }
            case "strip" -> JinjaBuiltins.pyStrip(s, a0 == null ? null : Py.str(a0), true, true);
            case "lstrip" -> JinjaBuiltins.pyStrip(s, a0 == null ? null : Py.str(a0), true, false);
            case "rstrip" -> JinjaBuiltins.pyStrip(s, a0 == null ? null : Py.str(a0), false, true);
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> JinjaBuiltins.title(s);
            case "capitalize" -> JinjaBuiltins.capitalize(s);
            case "replace" -> JinjaBuiltins.replace(s, Py.str(args.get(0)), Py.str(args.get(1)),
                    args.size() > 2 ? Py.toLong(args.get(2)) : -1);
            case "split", "rsplit" -> split(s, a0 == null ? (String) null : Py.str(a0),
                    args.size() > 1 ? Py.toLong(args.get(1)) : kw.containsKey("maxsplit")
                            ? Py.toLong(kw.get("maxsplit")) : -1, name.equals("rsplit"));
            case "splitlines" -> new ArrayList<Object>(List.of(s.split("\r?\n|\r", -1)))
                    .subList(0, s.isEmpty() ? 0 : s.endsWith("\n") ? s.split("\r?\n|\r", -1).length - 1
                            : s.split("\r?\n|\r", -1).length);
            case "find" -> (long) s.indexOf(Py.str(a0));
            case "rfind" -> (long) s.lastIndexOf(Py.str(a0));
            case "index" -> {
                int i = s.indexOf(Py.str(a0));
                if (i < 0) {
                    throw new TemplateException("substring not found");
                }
                yield (long) i;
            }
            case "count" -> {
                String sub = Py.str(a0);
                long n = 0;
                for (int i = sub.isEmpty() ? -1 : s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) {
                    n++;
                }
                yield n;
            }
            case "join" -> {
                StringBuilder b = new StringBuilder();
                List<Object> items = Py.iterate(a0);
                for (int i = 0; i < items.size(); i++) {
                    b.append(i > 0 ? s : "").append(Py.str(items.get(i)));
                }
                yield b.toString();
            }
            case "format" -> braceFormat(s, args, kw);
            case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            case "isalnum" -> !s.isEmpty() && s.chars().allMatch(Character::isLetterOrDigit);
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(Character::isWhitespace);
            case "islower" -> s.equals(s.toLowerCase(Locale.ROOT)) && !s.equals(s.toUpperCase(Locale.ROOT));
            case "isupper" -> s.equals(s.toUpperCase(Locale.ROOT)) && !s.equals(s.toLowerCase(Locale.ROOT));
            case "zfill" -> {
                int w = (int) Py.toLong(a0);
                yield s.length() >= w ? s : "0".repeat(w - s.length()) + s;
            }
            default -> NO_METHOD;
        };
    }

    private static List<Object> split(String s, String sep, long max, boolean fromRight) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            String t = s.strip();
            if (t.isEmpty()) {
                return out;
            }
            String[] parts = max < 0 ? t.split("\\s+") : t.split("\\s+", (int) max + 1);
            out.addAll(List.of(parts));
            return out;
        }
        if (sep.isEmpty()) {
            throw new TemplateException("empty separator");
        }
        if (!fromRight || max < 0) {
            int from = 0;
            while (max < 0 || out.size() < max) {
                int i = s.indexOf(sep, from);
                if (i < 0) {
                    break;
                }
                out.add(s.substring(from, i));
                from = i + sep.length();
            }
            out.add(s.substring(from));
            return out;
        }
        int to = s.length();
        List<Object> rev = new ArrayList<>();
        while (rev.size() < max) {
            int i = s.lastIndexOf(sep, to - sep.length());
            if (i < 0) {
                break;
            }
            rev.addFirst(s.substring(i + sep.length(), to));
            to = i;
        }
        out.add(s.substring(0, to));
        out.addAll(rev);
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Object listMethod(List<?> list, String name, List<Object> args) {
        List<Object> l = (List<Object>) list;
        return switch (name) {
            case "append" -> {
                l.add(args.getFirst());
                yield null;
            }
            case "extend" -> {
                l.addAll(Py.iterate(args.getFirst()));
                yield null;
            }
            case "insert" -> {
                int i = (int) Py.toLong(args.get(0));
                l.add(Math.max(0, Math.min(l.size(), i < 0 ? l.size() + i : i)), args.get(1));
                yield null;
            }
            case "pop" -> {
                if (l.isEmpty()) {
                    throw new TemplateException("pop from empty list");
                }
                int i = args.isEmpty() ? l.size() - 1 : (int) Py.toLong(args.getFirst());
                yield l.remove(i < 0 ? l.size() + i : i);
            }
            case "index" -> {
                for (int i = 0; i < l.size(); i++) {
                    if (Py.equal(l.get(i), args.getFirst())) {
                        yield (long) i;
                    }
                }
                throw new TemplateException("value is not in list");
            }
            case "count" -> l.stream().filter(x -> Py.equal(x, args.getFirst())).count();
            case "copy" -> new ArrayList<>(l);
            case "reverse" -> {
                java.util.Collections.reverse(l);
                yield null;
            }
            default -> NO_METHOD;
        };
    }

    private static Object mapMethod(Map<Object, Object> m, String name, List<Object> args) {
        return switch (name) {
            case "get" -> {
                Object k = Py.unwrap(args.getFirst());
                yield m.containsKey(k) ? m.get(k) : args.size() > 1 ? args.get(1) : null;
            }
            case "items" -> JinjaBuiltins.items(m);
            case "keys" -> new ArrayList<>(m.keySet());
            case "values" -> new ArrayList<>(m.values());
            case "pop" -> {
                Object k = Py.unwrap(args.getFirst());
                if (m.containsKey(k)) {
                    yield m.remove(k);
                }
                if (args.size() > 1) {
                    yield args.get(1);
                }
                throw new TemplateException("KeyError: " + Py.repr(k));
            }
            case "setdefault" -> m.computeIfAbsent(Py.unwrap(args.getFirst()), k -> args.size() > 1 ? args.get(1) : null);
            case "update" -> {
                if (args.getFirst() instanceof Map<?, ?> other) {
                    m.putAll(other);
                }
                yield null;
            }
            case "copy" -> new LinkedHashMap<>(m);
            default -> NO_METHOD;
        };
    }


    /** {@code "{} {name}".format(...)}: positional and named fields, no format specs beyond the name. */
    private static String braceFormat(String format, List<Object> args, Map<String, Object> kw) {
        StringBuilder b = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c == '{' && i + 1 < format.length() && format.charAt(i + 1) == '{') {
                b.append('{');
                i++;
            } else if (c == '}' && i + 1 < format.length() && format.charAt(i + 1) == '}') {
                b.append('}');
                i++;
            } else if (c == '{') {
                int end = format.indexOf('}', i);
                if (end < 0) {
                    throw new TemplateException("single '{' encountered in format string");
                }
                String field = format.substring(i + 1, end);
                int colon = field.indexOf(':');
                if (colon >= 0) {
                    field = field.substring(0, colon);
                }
                Object v;
                if (field.isEmpty()) {
                    v = auto < args.size() ? args.get(auto++) : "";
                } else if (field.chars().allMatch(Character::isDigit)) {
                    int idx = Integer.parseInt(field);
                    v = idx < args.size() ? args.get(idx) : "";
                } else {
                    v = kw.getOrDefault(field, "");
                }
                b.append(Py.str(v));
                i = end;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
