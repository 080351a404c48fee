package dev.gantry.models.template;

import dev.gantry.models.template.JinjaLexer.Kind;
import dev.gantry.models.template.JinjaLexer.Token;
import dev.gantry.models.template.JinjaNode.*;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Recursive descent over {@link JinjaLexer}'s tokens, with Jinja's operator precedence. */
final class JinjaParser {
    private static final Set<String> TEST_ARG_STOP = Set.of("else", "or", "and", "if", "in", "is", "not");

    private final List<Token> tokens;
    private int pos;

    private JinjaParser(List<Token> tokens) {
        this.tokens = tokens;
    }

    static List<JinjaNode> parse(String source) {
        JinjaParser p = new JinjaParser(JinjaLexer.tokenize(source));
        List<JinjaNode> body = p.body(Set.of());
        if (p.peek().kind() != Kind.EOF) {
            throw p.error("unexpected '" + p.peek().text() + "'");
        }
        return body;
    }

    private Token peek() {
        return tokens.get(pos);
    }

    private Token peek(int ahead) {
        return tokens.get(Math.min(pos + ahead, tokens.size() - 1));
    }

    private Token next() {
        return tokens.get(pos++);
    }

    private TemplateException error(String message) {
        return new TemplateException(message + " at line " + peek().line());
    }

    private Token expect(Kind kind, String text) {
        Token t = peek();
        if (t.kind() != kind || (text != null && !t.text().equals(text))) {
            throw error("expected " + (text != null ? "'" + text + "'" : kind.name().toLowerCase()) + " but found '"
                    + (t.kind() == Kind.EOF ? "end of template" : t.text()) + "'");
        }
        return next();
    }

    private boolean acceptOp(String op) {
        if (peek().isOp(op)) {
            pos++;
            return true;
        }
        return false;
    }

    private boolean acceptName(String name) {
        if (peek().isName(name)) {
            pos++;
            return true;
        }
        return false;
    }

    private String name() {
        return expect(Kind.NAME, null).text();
    }

    /** Statements until a block tag whose keyword is in {@code ends} (left unconsumed: the caller reads it). */
    private List<JinjaNode> body(Set<String> ends) {
        List<JinjaNode> out = new ArrayList<>();
        while (true) {
            Token t = peek();
            switch (t.kind()) {
                case EOF -> {
                    if (!ends.isEmpty()) {
                        throw error("missing {% " + String.join(" or ", ends) + " %}");
                    }
                    return out;
                }
                case TEXT -> out.add(new Text((String) next().value()));
                case VAR_BEGIN -> {
                    next();
                    Expr e = expression();
                    expect(Kind.VAR_END, null);
                    out.add(new Output(e, t.line()));
                }
                case BLOCK_BEGIN -> {
                    Token kw = peek(1);
                    if (kw.kind() == Kind.NAME && ends.contains(kw.text())) {
                        return out;
                    }
                    next();
                    out.add(statement());
                }
                default -> throw error("unexpected '" + t.text() + "'");
            }
        }
    }

    /** Consumes {@code {% name ... %}} of a closing or middle tag, up to but not including its end. */
    private void openTag(String keyword) {
        expect(Kind.BLOCK_BEGIN, null);
        expect(Kind.NAME, keyword);
    }

    private void closeTag(String keyword) {
        openTag(keyword);
        while (peek().kind() == Kind.NAME) {
            next();
        }
        expect(Kind.BLOCK_END, null);
    }

    private JinjaNode statement() {
        Token kw = expect(Kind.NAME, null);
        int line = kw.line();
        switch (kw.text()) {
            case "if" -> {
                List<Branch> branches = new ArrayList<>();
                Expr test = expression();
                expect(Kind.BLOCK_END, null);
                List<JinjaNode> body = body(Set.of("elif", "else", "endif"));
                branches.add(new Branch(test, body));
                List<JinjaNode> otherwise = List.of();
                while (true) {
                    String k = peek(1).text();
                    if (k.equals("elif")) {
                        openTag("elif");
                        Expr t = expression();
                        expect(Kind.BLOCK_END, null);
                        branches.add(new Branch(t, body(Set.of("elif", "else", "endif"))));
                    } else if (k.equals("else")) {
                        openTag("else");
                        expect(Kind.BLOCK_END, null);
                        otherwise = body(Set.of("endif"));
                    } else {
                        closeTag("endif");
                        return new If(branches, otherwise);
                    }
                }
            }
            case "for" -> {
                List<String> targets = new ArrayList<>();
                boolean paren = acceptOp("(");
                targets.add(name());
                while (acceptOp(",")) {
                    targets.add(name());
                }
                if (paren) {
                    expect(Kind.OP, ")");
                }
                expect(Kind.NAME, "in");
                Expr iterable = orExpr();
                Expr filter = null;
                if (acceptName("if")) {
                    filter = expression();
                }
                acceptName("recursive");
                expect(Kind.BLOCK_END, null);
                List<JinjaNode> body = body(Set.of("else", "endfor"));
                List<JinjaNode> otherwise = List.of();
                if (peek(1).isName("else")) {
                    openTag("else");
                    expect(Kind.BLOCK_END, null);
                    otherwise = body(Set.of("endfor"));
                }
                closeTag("endfor");
                return new For(targets, iterable, filter, body, otherwise, line);
            }
            case "set" -> {
                String first = name();
                if (peek().isOp(".")) {
                    next();
                    String attr = name();
                    expect(Kind.OP, "=");
                    Expr value = tupleOrExpression();
                    expect(Kind.BLOCK_END, null);
                    return new JinjaNode.Set(List.of(), new Name(first, line), attr, value, line);
                }
                if (peek().kind() == Kind.BLOCK_END || peek().isOp("|")) {
                    List<FilterCall> filters = new ArrayList<>();
                    while (acceptOp("|")) {
                        filters.add(filterCall());
                    }
                    expect(Kind.BLOCK_END, null);
                    List<JinjaNode> body = body(Set.of("endset"));
                    closeTag("endset");
                    return new SetBlock(first, body, filters);
                }
                List<String> targets = new ArrayList<>(List.of(first));
                while (acceptOp(",")) {
                    targets.add(name());
                }
                expect(Kind.OP, "=");
                Expr value = tupleOrExpression();
                expect(Kind.BLOCK_END, null);
                return new JinjaNode.Set(targets, null, null, value, line);
            }
            case "macro" -> {
                String name = name();
                List<Param> params = new ArrayList<>();
                expect(Kind.OP, "(");
                while (!acceptOp(")")) {
                    String p = name();
                    Expr def = acceptOp("=") ? expression() : null;
                    params.add(new Param(p, def));
                    if (!peek().isOp(")")) {
                        expect(Kind.OP, ",");
                    }
                }
                expect(Kind.BLOCK_END, null);
                List<JinjaNode> body = body(Set.of("endmacro"));
                closeTag("endmacro");
                return new Macro(name, params, body);
            }
            case "filter" -> {
                List<FilterCall> filters = new ArrayList<>();
                filters.add(filterCall());
                while (acceptOp("|")) {
                    filters.add(filterCall());
                }
                expect(Kind.BLOCK_END, null);
                List<JinjaNode> body = body(Set.of("endfilter"));
                closeTag("endfilter");
                return new FilterBlock(filters, body, line);
            }
            case "generation" -> {
                expect(Kind.BLOCK_END, null);
                List<JinjaNode> body = body(Set.of("endgeneration"));
                closeTag("endgeneration");
                return new FilterBlock(List.of(), body, line);
            }
            case "do" -> {
                Expr e = expression();
                expect(Kind.BLOCK_END, null);
                return new Do(e, line);
            }
            case "break" -> {
                expect(Kind.BLOCK_END, null);
                return Loop.BREAK;
            }
            case "continue" -> {
                expect(Kind.BLOCK_END, null);
                return Loop.CONTINUE;
            }
            default -> throw new TemplateException("unknown tag '" + kw.text() + "' at line " + line);
        }
    }

    private FilterCall filterCall() {
        String name = name();
        while (acceptOp(".")) {
            name = name + "." + name();
        }
        List<Expr> args = new ArrayList<>();
        List<Kwarg> kwargs = new ArrayList<>();
        if (acceptOp("(")) {
            arguments(args, kwargs);
        }
        return new FilterCall(name, args, kwargs);
    }

    /** After '(' : positional and keyword arguments up to ')'. */
    private void arguments(List<Expr> args, List<Kwarg> kwargs) {
        while (!acceptOp(")")) {
            if (peek().kind() == Kind.NAME && peek(1).isOp("=")) {
                String k = next().text();
                next();
                kwargs.add(new Kwarg(k, expression()));
            } else {
                args.add(expression());
            }
            if (!peek().isOp(")")) {
                expect(Kind.OP, ",");
            }
        }
    }

    private Expr tupleOrExpression() {
        Expr first = expression();
        if (!peek().isOp(",")) {
            return first;
        }
        List<Expr> items = new ArrayList<>(List.of(first));
        while (acceptOp(",")) {
            if (peek().kind() == Kind.BLOCK_END) {
                break;
            }
            items.add(expression());
        }
        return new ListExpr(items);
    }

    Expr expression() {
        Expr e = orExpr();
        if (peek().isName("if")) {
            next();
            Expr test = orExpr();
            Expr otherwise = acceptName("else") ? expression() : new Literal(Undefined.ANY);
            return new Conditional(test, e, otherwise);
        }
        return e;
    }

    private Expr orExpr() {
        Expr e = andExpr();
        while (peek().isName("or")) {
            int line = next().line();
            e = new Binary("or", e, andExpr(), line);
        }
        return e;
    }

    private Expr andExpr() {
        Expr e = notExpr();
        while (peek().isName("and")) {
            int line = next().line();
            e = new Binary("and", e, notExpr(), line);
        }
        return e;
    }

    private Expr notExpr() {
        if (peek().isName("not")) {
            next();
            return new Unary("not", notExpr());
        }
        return compare();
    }

    private Expr compare() {
        Expr e = add();
        Expr result = null;
        while (true) {
            Token t = peek();
            String op;
            if (t.kind() == Kind.OP && Set.of("==", "!=", "<", ">", "<=", ">=").contains(t.text())) {
                op = t.text();
                next();
            } else if (t.isName("in")) {
                op = "in";
                next();
            } else if (t.isName("not") && peek(1).isName("in")) {
                op = "not in";
                pos += 2;
            } else {
                return result == null ? e : result;
            }
            Expr right = add();
            Expr cmp = new Binary(op, e, right, t.line());
            result = result == null ? cmp : new Binary("and", result, cmp, t.line());
            e = right;
        }
    }

    private Expr add() {
        Expr e = concat();
        while (peek().isOp("+") || peek().isOp("-")) {
            Token t = next();
            e = new Binary(t.text(), e, concat(), t.line());
        }
        return e;
    }

    private Expr concat() {
        Expr e = mul();
        while (peek().isOp("~")) {
            Token t = next();
            e = new Binary("~", e, mul(), t.line());
        }
        return e;
    }

    private Expr mul() {
        Expr e = pow();
        while (peek().isOp("*") || peek().isOp("/") || peek().isOp("//") || peek().isOp("%")) {
            Token t = next();
            e = new Binary(t.text(), e, pow(), t.line());
        }
        return e;
    }

    private Expr pow() {
        Expr e = unary();
        while (peek().isOp("**")) {
            Token t = next();
            e = new Binary("**", e, unary(), t.line());
        }
        return e;
    }

    private Expr unary() {
        if (peek().isOp("-")) {
            next();
            return new Unary("-", unaryNoFilter());
        }
        if (peek().isOp("+")) {
            next();
            return unaryNoFilter();
        }
        return filters(postfix(primary()));
    }

    private Expr unaryNoFilter() {
        return filters(postfix(primary()));
    }

    private Expr filters(Expr e) {
        while (true) {
            Token t = peek();
            if (t.isOp("|")) {
                next();
                e = new Filter(e, filterCall(), t.line());
            } else if (t.isName("is")) {
                next();
                boolean negated = acceptName("not");
                String name;
                if (peek().kind() == Kind.NAME) {
                    name = next().text();
                } else if (peek().kind() == Kind.OP && Set.of("==", "!=", "<", ">", "<=", ">=").contains(peek().text())) {
                    name = next().text();
                } else {
                    throw error("expected a test name");
                }
                List<Expr> args = new ArrayList<>();
                if (peek().isOp("(")) {
                    next();
                    List<Kwarg> ignored = new ArrayList<>();
                    arguments(args, ignored);
                } else if (startsTestArg(peek())) {
                    args.add(postfix(primary()));
                }
                e = new Test(e, name, args, negated, t.line());
            } else {
                return e;
            }
        }
    }

    private static boolean startsTestArg(Token t) {
        return switch (t.kind()) {
            case STRING, INT, FLOAT -> true;
            case NAME -> !TEST_ARG_STOP.contains(t.text());
            case OP -> t.text().equals("[") || t.text().equals("{");
            default -> false;
        };
    }

    private Expr postfix(Expr e) {
        while (true) {
            Token t = peek();
            if (t.isOp(".")) {
                next();
                Token n = next();
                if (n.kind() != Kind.NAME && n.kind() != Kind.INT) {
                    throw error("expected an attribute name");
                }
                e = n.kind() == Kind.INT ? new Item(e, new Literal(n.value()), n.line()) : new Attr(e, n.text(), n.line());
            } else if (t.isOp("[")) {
                next();
                e = subscript(e, t.line());
            } else if (t.isOp("(")) {
                next();
                List<Expr> args = new ArrayList<>();
                List<Kwarg> kwargs = new ArrayList<>();
                arguments(args, kwargs);
                e = new Call(e, args, kwargs, t.line());
            } else {
                return e;
            }
        }
    }

    private Expr subscript(Expr target, int line) {
        Expr start = null;
        if (!peek().isOp(":")) {
            start = expression();
            if (acceptOp("]")) {
                return new Item(target, start, line);
            }
        }
        expect(Kind.OP, ":");
        Expr stop = null;
        Expr step = null;
        if (!peek().isOp(":") && !peek().isOp("]")) {
            stop = expression();
        }
        if (acceptOp(":")) {
            if (!peek().isOp("]")) {
                step = expression();
            }
        }
        expect(Kind.OP, "]");
        return new Slice(target, start, stop, step);
    }

    private Expr primary() {
        Token t = next();
        switch (t.kind()) {
            case STRING -> {
                StringBuilder s = new StringBuilder((String) t.value());
                while (peek().kind() == Kind.STRING) {
                    s.append((String) next().value());
                }
                return new Literal(s.toString());
            }
            case INT, FLOAT -> {
                return new Literal(t.value());
            }
            case NAME -> {
                return switch (t.text()) {
                    case "true", "True" -> new Literal(Boolean.TRUE);
                    case "false", "False" -> new Literal(Boolean.FALSE);
                    case "none", "None" -> new Literal(null);
                    default -> new Name(t.text(), t.line());
                };
            }
            case OP -> {
                switch (t.text()) {
                    case "(" -> {
                        if (acceptOp(")")) {
                            return new ListExpr(List.of());
                        }
                        Expr e = expression();
                        if (peek().isOp(",")) {
                            List<Expr> items = new ArrayList<>(List.of(e));
                            while (acceptOp(",")) {
                                if (peek().isOp(")")) {
                                    break;
                                }
                                items.add(expression());
                            }
                            e = new ListExpr(items);
                        }
                        expect(Kind.OP, ")");
                        return e;
                    }
                    case "[" -> {
                        List<Expr> items = new ArrayList<>();
                        while (!acceptOp("]")) {
                            items.add(expression());
                            if (!peek().isOp("]")) {
                                expect(Kind.OP, ",");
                            }
                        }
                        return new ListExpr(items);
                    }
                    case "{" -> {
                        List<Expr> keys = new ArrayList<>();
                        List<Expr> values = new ArrayList<>();
                        while (!acceptOp("}")) {
                            keys.add(expression());
                            expect(Kind.OP, ":");
                            values.add(expression());
                            if (!peek().isOp("}")) {
                                expect(Kind.OP, ",");
                            }
                        }
                        return new DictExpr(keys, values);
                    }
                    default -> { }
                }
            }
            default -> { }
        }
        pos--;
        throw error("unexpected '" + (t.kind() == Kind.EOF ? "end of template" : t.text()) + "'");
    }
}
