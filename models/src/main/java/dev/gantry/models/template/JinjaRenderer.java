package dev.gantry.models.template;

import dev.gantry.models.template.JinjaNode.*;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Walks a parsed template and writes its output. Scoping follows Jinja: a {@code for} body and a macro call each
 * get their own frame (so a {@code set} inside a loop does not leak out, which is why templates use
 * {@code namespace()}), while {@code if} blocks share their parent's. Not thread-safe: one renderer per render.
 */
final class JinjaRenderer {
    /** Guards against runaway templates (a macro calling itself forever). */
    private static final int MAX_DEPTH = 200;

    /** Something callable from a template: a macro or a built-in function. */
    @FunctionalInterface
    interface Callable {
        Object call(List<Object> args, Map<String, Object> kwargs);
    }

    /** {@code namespace(...)}: the one mutable object templates may assign attributes on. */
    static final class Namespace {
        final Map<String, Object> attrs = new LinkedHashMap<>();

        @Override
        public String toString() {
            return "<Namespace " + Py.repr(attrs) + ">";
        }
    }

    static final class Frame {
        final Map<String, Object> vars = new HashMap<>();
        final Frame parent;

        Frame(Frame parent) {
            this.parent = parent;
        }

        Object lookup(String name) {
            for (Frame f = this; f != null; f = f.parent) {
                Object v = f.vars.get(name);
                if (v != null || f.vars.containsKey(name)) {
                    return v;
                }
            }
            return new Undefined(name);
        }
    }

    /** The {@code loop} variable of a {@code for}. */
    record LoopInfo(List<Object> items, int index0) {
        Object get(String name) {
            int n = items.size();
            return switch (name) {
                case "index" -> (long) index0 + 1;
                case "index0" -> (long) index0;
                case "revindex" -> (long) (n - index0);
                case "revindex0" -> (long) (n - index0 - 1);
                case "first" -> index0 == 0;
                case "last" -> index0 == n - 1;
                case "length" -> (long) n;
                case "depth" -> 1L;
                case "depth0" -> 0L;
                case "previtem" -> index0 > 0 ? items.get(index0 - 1) : new Undefined("loop.previtem");
                case "nextitem" -> index0 < n - 1 ? items.get(index0 + 1) : new Undefined("loop.nextitem");
                default -> new Undefined("loop." + name);
            };
        }
    }

    private static final class LoopControl extends RuntimeException {
        final boolean isBreak;

        LoopControl(boolean isBreak) {
            super(null, null, false, false);
            this.isBreak = isBreak;
        }
    }

    private static final LoopControl BREAK = new LoopControl(true);
    private static final LoopControl CONTINUE = new LoopControl(false);

    private int depth;

    void render(List<JinjaNode> nodes, Frame frame, StringBuilder out) {
        for (JinjaNode n : nodes) {
            render(n, frame, out);
        }
    }

    private void render(JinjaNode node, Frame frame, StringBuilder out) {
        switch (node) {
            case Text t -> out.append(t.text());
            case Output o -> out.append(Py.str(eval(o.expr(), frame)));
            case If i -> {
                for (Branch b : i.branches()) {
                    if (Py.truthy(eval(b.test(), frame))) {
                        render(b.body(), frame, out);
                        return;
                    }
                }
                render(i.otherwise(), frame, out);
            }
            case For f -> loop(f, frame, out);
            case JinjaNode.Set s -> assign(s, frame);
            case SetBlock s -> {
                StringBuilder b = new StringBuilder();
                render(s.body(), frame, b);
                Object v = b.toString();
                for (FilterCall fc : s.filters()) {
                    v = filter(fc, v, frame, 0);
                }
                frame.vars.put(s.target(), v);
            }
            case Macro m -> frame.vars.put(m.name(), macro(m, frame));
            case FilterBlock fb -> {
                StringBuilder b = new StringBuilder();
                render(fb.body(), frame, b);
                Object v = b.toString();
                for (FilterCall fc : fb.filters()) {
                    v = filter(fc, v, frame, fb.line());
                }
                out.append(Py.str(v));
            }
            case Do d -> eval(d.expr(), frame);
            case Loop l -> throw l == Loop.BREAK ? BREAK : CONTINUE;
        }
    }

    private void loop(For f, Frame frame, StringBuilder out) {
        List<Object> items = new ArrayList<>();
        Object iterable = eval(f.iterable(), frame);
        if (iterable instanceof Map<?, ?> m && f.targets().size() == 2) {
            // Iterating a dict yields its keys; 'for k, v in d' on a dict is an error in Jinja, but be kind.
            items.addAll(m.keySet());
        } else {
            items.addAll(at(f.line(), () -> Py.iterate(iterable)));
        }
        if (f.filter() != null) {
            List<Object> kept = new ArrayList<>();
            for (Object item : items) {
                Frame probe = new Frame(frame);
                bind(f.targets(), item, probe, f.line());
                if (Py.truthy(eval(f.filter(), probe))) {
                    kept.add(item);
                }
            }
            items = kept;
        }
        if (items.isEmpty()) {
            render(f.otherwise(), frame, out);
            return;
        }
        for (int i = 0; i < items.size(); i++) {
            Frame inner = new Frame(frame);
            bind(f.targets(), items.get(i), inner, f.line());
            inner.vars.put("loop", new LoopInfo(items, i));
            try {
                render(f.body(), inner, out);
            } catch (LoopControl c) {
                if (c.isBreak) {
                    break;
                }
            }
        }
    }

    private static void bind(List<String> targets, Object value, Frame frame, int line) {
        if (targets.size() == 1) {
            frame.vars.put(targets.getFirst(), value);
            return;
        }
        List<Object> parts = Py.iterate(value);
        if (parts.size() != targets.size()) {
            throw new TemplateException("cannot unpack " + parts.size() + " values into " + targets.size()
                    + " names at line " + line);
        }
        for (int i = 0; i < targets.size(); i++) {
            frame.vars.put(targets.get(i), parts.get(i));
        }
    }

    private void assign(JinjaNode.Set s, Frame frame) {
        Object v = eval(s.value(), frame);
        if (s.attrOf() != null) {
            Object target = eval(s.attrOf(), frame);
            switch (target) {
                case Namespace ns -> ns.attrs.put(s.attr(), v);
                case Map<?, ?> m -> castMap(m).put(s.attr(), v);
                default -> throw new TemplateException("cannot assign attribute '" + s.attr() + "' on "
                        + Py.typeName(target) + " at line " + s.line());
            }
            return;
        }
        bind(s.targets(), v, frame, s.line());
    }

    @SuppressWarnings("unchecked")
    static Map<Object, Object> castMap(Map<?, ?> m) {
        return (Map<Object, Object>) m;
    }

    private Callable macro(Macro m, Frame defining) {
        return (args, kwargs) -> {
            if (++depth > MAX_DEPTH) {
                depth = 0;
                throw new TemplateException("macro " + m.name() + " recursed too deeply");
            }
            try {
                Frame f = new Frame(defining);
                List<Object> extra = new ArrayList<>();
                for (int i = 0; i < m.params().size(); i++) {
                    Param p = m.params().get(i);
                    Object v;
                    if (i < args.size()) {
                        v = args.get(i);
                    } else if (kwargs.containsKey(p.name())) {
                        v = kwargs.get(p.name());
                    } else if (p.defaultValue() != null) {
                        v = eval(p.defaultValue(), f);
                    } else {
                        v = new Undefined(p.name());
                    }
                    f.vars.put(p.name(), v);
                }
                for (int i = m.params().size(); i < args.size(); i++) {
                    extra.add(args.get(i));
                }
                f.vars.put("varargs", extra);
                Map<String, Object> extraKw = new LinkedHashMap<>(kwargs);
                m.params().forEach(p -> extraKw.remove(p.name()));
                f.vars.put("kwargs", extraKw);
                StringBuilder b = new StringBuilder();
                render(m.body(), f, b);
                return b.toString();
            } finally {
                depth--;
            }
        };
    }

    Object eval(Expr e, Frame frame) {
        return switch (e) {
            case Literal l -> l.value();
            case Name n -> frame.lookup(n.name());
            case ListExpr l -> {
                List<Object> out = new ArrayList<>(l.items().size());
                for (Expr item : l.items()) {
                    out.add(eval(item, frame));
                }
                yield out;
            }
            case DictExpr d -> {
                Map<Object, Object> out = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) {
                    out.put(eval(d.keys().get(i), frame), eval(d.values().get(i), frame));
                }
                yield out;
            }
            case Attr a -> attribute(eval(a.target(), frame), a.name());
            case Item i -> {
                Object target = eval(i.target(), frame);
                Object key = eval(i.key(), frame);
                yield item(target, key);
            }
            case Slice s -> at(0, () -> JinjaBuiltins.slice(eval(s.target(), frame), opt(s.start(), frame),
                    opt(s.stop(), frame), opt(s.step(), frame)));
            case Call c -> call(c, frame);
            case Filter f -> filter(f.call(), eval(f.value(), frame), frame, f.line());
            case Test t -> {
                Object v = eval(t.value(), frame);
                List<Object> args = new ArrayList<>();
                for (Expr a : t.args()) {
                    args.add(eval(a, frame));
                }
                boolean r = at(t.line(), () -> JinjaBuiltins.test(t.name(), v, args));
                yield t.negated() != r;
            }
            case Unary u -> {
                Object v = eval(u.operand(), frame);
                yield switch (u.op()) {
                    case "not" -> !Py.truthy(v);
                    default -> at(0, () -> JinjaBuiltins.negate(v));
                };
            }
            case Binary b -> binary(b, frame);
            case Conditional c -> Py.truthy(eval(c.test(), frame)) ? eval(c.then(), frame) : eval(c.otherwise(), frame);
        };
    }

    private Object opt(Expr e, Frame frame) {
        return e == null ? null : eval(e, frame);
    }

    private Object binary(Binary b, Frame frame) {
        switch (b.op()) {
            case "and" -> {
                Object l = eval(b.left(), frame);
                return Py.truthy(l) ? eval(b.right(), frame) : l;
            }
            case "or" -> {
                Object l = eval(b.left(), frame);
                return Py.truthy(l) ? l : eval(b.right(), frame);
            }
            default -> {
                Object l = eval(b.left(), frame);
                Object r = eval(b.right(), frame);
                return at(b.line(), () -> JinjaBuiltins.binary(b.op(), l, r));
            }
        }
    }

    private Object call(Call c, Frame frame) {
        List<Object> args = new ArrayList<>(c.args().size());
        for (Expr a : c.args()) {
            args.add(eval(a, frame));
        }
        Map<String, Object> kwargs = new LinkedHashMap<>();
        for (Kwarg k : c.kwargs()) {
            kwargs.put(k.name(), eval(k.value(), frame));
        }
        if (c.fn() instanceof Attr a) {
            Object target = eval(a.target(), frame);
            Object r = at(c.line(), () -> JinjaMethods.method(target, a.name(), args, kwargs));
            if (r != JinjaMethods.NO_METHOD) {
                return r;
            }
            Object fn = attribute(target, a.name());
            return invoke(fn, a.name(), args, kwargs, c.line());
        }
        Object fn = eval(c.fn(), frame);
        String name = c.fn() instanceof Name n ? n.name() : "value";
        return invoke(fn, name, args, kwargs, c.line());
    }

    private static Object invoke(Object fn, String name, List<Object> args, Map<String, Object> kwargs, int line) {
        if (fn instanceof Callable callable) {
            try {
                return callable.call(args, kwargs);
            } catch (TemplateException e) {
                throw e;
            } catch (RuntimeException e) {
                throw new TemplateException(name + "(): " + e.getMessage() + " at line " + line, e);
            }
        }
        if (fn instanceof Undefined) {
            throw new TemplateException("'" + name + "' is undefined at line " + line);
        }
        throw new TemplateException("'" + Py.typeName(fn) + "' object is not callable at line " + line);
    }

    private Object filter(FilterCall fc, Object value, Frame frame, int line) {
        List<Object> args = new ArrayList<>(fc.args().size());
        for (Expr a : fc.args()) {
            args.add(eval(a, frame));
        }
        Map<String, Object> kwargs = new LinkedHashMap<>();
        for (Kwarg k : fc.kwargs()) {
            kwargs.put(k.name(), eval(k.value(), frame));
        }
        return at(line, () -> JinjaBuiltins.filter(fc.name(), value, args, kwargs));
    }

    static Object attribute(Object target, String name) {
        return switch (target) {
            case Map<?, ?> m -> m.containsKey(name) ? m.get(name) : new Undefined(name);
            case Namespace ns -> ns.attrs.containsKey(name) ? ns.attrs.get(name) : new Undefined(name);
            case LoopInfo l -> l.get(name);
            case null, default -> new Undefined(name);
        };
    }

    static Object item(Object target, Object rawKey) {
        Object key = Py.unwrap(rawKey);
        switch (target) {
            case Map<?, ?> m -> {
                if (m.containsKey(key)) {
                    return m.get(key);
                }
                return new Undefined(Py.str(key));
            }
            case List<?> l when key instanceof Long i -> {
                long idx = i < 0 ? l.size() + i : i;
                return idx >= 0 && idx < l.size() ? l.get((int) idx) : new Undefined("[" + i + "]");
            }
            case String s when key instanceof Long i -> {
                int n = s.length();
                long idx = i < 0 ? n + i : i;
                return idx >= 0 && idx < n ? String.valueOf(s.charAt((int) idx)) : new Undefined("[" + i + "]");
            }
            case Namespace ns when key instanceof String k -> {
                return ns.attrs.containsKey(k) ? ns.attrs.get(k) : new Undefined(k);
            }
            case LoopInfo l when key instanceof String k -> {
                return l.get(k);
            }
            case null, default -> {
                return new Undefined(Py.str(key));
            }
        }
    }

    /** Runs {@code body}, adding the template line to the message of an error that lacks one. */
    private static <T> T at(int line, java.util.function.Supplier<T> body) {
        try {
            return body.get();
        } catch (TemplateException e) {
            if (line > 0 && !e.getMessage().contains(" at line ")) {
                throw new TemplateException(e.getMessage() + " at line " + line, e);
            }
            throw e;
        } catch (ArithmeticException | ClassCastException | IndexOutOfBoundsException | IllegalArgumentException
                 | UnsupportedOperationException e) {
            throw new TemplateException(e.getClass().getSimpleName() + ": " + e.getMessage()
                    + (line > 0 ? " at line " + line : ""), e);
        }
    }
}
