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
import java.util.ArrayList;
import java.util.List;

/** Lexes and parses a {@link GoTemplate}'s source into {@link GoAst} nodes. */
final class GoParser {
    static final java.util.Set<String> FUNCS = java.util.Set.of("eq", "ne", "lt", "le", "gt", "ge", "and",
            "or", "not", "len", "slice", "index", "json", "print", "printf", "println", "contains", "currentDate");

    /**
     * Functions Go's templates or Ollama's define that Gantry does not render: a template calling one is rendered
     * another way (the GGUF's own template), where a name nobody defines is an error, as in Go.
     */
    static final java.util.Set<String> KNOWN_ELSEWHERE = java.util.Set.of("call", "html", "js", "urlquery",
            "toTypeScriptType", "yesterdayDate");

    private GoParser() {}

    /** Parses {@code source}; a {@link TemplateException} names the construct GoTemplate does not handle. */
    static List<Node> parse(String source) {
        Parser p = new Parser(lex(source));
        List<Node> body = p.list(java.util.Set.of());
        if (p.pos < p.items.size()) {
            throw new TemplateException("unexpected {{" + p.items.get(p.pos).text + "}}");
        }
        return body;
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
        /** Ranges whose body is being parsed around the current item: where break and continue may stand. */
        int rangeDepth;

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
                        rangeDepth++; // as Go's parser: break and continue in the body, not in the else
                        List<Node> body = list(java.util.Set.of("else", "end"));
                        rangeDepth--;
                        List<Node> otherwise = List.of();
                        if (keyword(items.get(pos).text()).equals("else")) {
                            pos++;
                            otherwise = list(java.util.Set.of("end"));
                        }
                        pos++;
                        out.add(new Range(vars, p, body, otherwise));
                    }
                    case "with" -> {
                        Pipe p = pipe(rest);
                        List<List<Node>> bodies = bodyAndElse();
                        out.add(new With(p, bodies.get(0), bodies.get(1)));
                    }
                    case "break", "continue" -> {
                        if (!rest.isEmpty()) {
                            throw new TemplateException("unexpected \"" + rest + "\" in {{" + kw + "}}");
                        }
                        if (rangeDepth == 0) {
                            throw new TemplateException("{{" + kw + "}} outside {{range}}");
                        }
                        out.add(kw.equals("break") ? new GoAst.Break() : new GoAst.Continue());
                    }
                    case "define", "template", "block" ->
                            throw TemplateException.unsupported("the {{" + kw + "}} action is not supported");
                    case "else", "end" -> throw new TemplateException("unexpected {{" + kw + "}}");
                    default -> out.add(new Action(pipe(it.text())));
                }
            }
            if (!ends.isEmpty()) {
                throw new TemplateException("missing {{end}}");
            }
            return out;
        }

        /** The body of a {@code range} or {@code with} up to its {@code else} or {@code end}, then the else body. */
        private List<List<Node>> bodyAndElse() {
            List<Node> body = list(java.util.Set.of("else", "end"));
            List<Node> otherwise = List.of();
            if (keyword(items.get(pos).text()).equals("else")) {
                pos++;
                otherwise = list(java.util.Set.of("end"));
            }
            pos++;
            return List.of(body, otherwise);
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
                    throw TemplateException.unsupported("the {{else " + keyword(rest) + "}} action is not supported");
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
                            if (KNOWN_ELSEWHERE.contains(name)) { // Go's or Ollama's, not rendered here: a fallback
                                throw TemplateException.unsupported("the function '" + name + "' is not supported");
                            }
                            // as Go's parser: a name no one defines is the template's error (Ollama answers 400)
                            throw new TemplateException("function \"" + name + "\" not defined");
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
}
