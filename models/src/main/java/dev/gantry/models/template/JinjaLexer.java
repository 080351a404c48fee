package dev.gantry.models.template;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a Jinja template into text and tag tokens, applying whitespace control as Hugging Face configures Jinja
 * for chat templates: {@code trim_blocks} (the first newline after a block or comment tag goes),
 * {@code lstrip_blocks} (spaces and tabs from the start of a line up to a block tag go), and the explicit
 * {@code {%-}, {@code -%}} markers (all whitespace on that side goes; {@code +} disables the automatic trimming).
 */
final class JinjaLexer {
    enum Kind {
        TEXT, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF
    }

    record Token(Kind kind, String text, Object value, int line) {
        boolean is(Kind k, String t) {
            return kind == k && text.equals(t);
        }

        boolean isOp(String t) {
            return kind == Kind.OP && text.equals(t);
        }

        boolean isName(String t) {
            return kind == Kind.NAME && text.equals(t);
        }
    }

    private static final String[] OPS = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "|", ".",
        ",", ":", "(", ")", "[", "]", "{", "}", "=", "<", ">"};
    private static final Pattern END_RAW = Pattern.compile("\\{%[-+]?\\s*endraw\\s*[-+]?%}");

    private final String src;
    private final List<Token> out = new ArrayList<>();
    private int pos;
    private int line = 1;

    private JinjaLexer(String src) {
        this.src = src;
    }

    static List<Token> tokenize(String src) {
        JinjaLexer l = new JinjaLexer(src);
        l.run();
        return l.out;
    }

    private void run() {
        boolean stripNext = false;
        while (pos <= src.length()) {
            int start = nextTag(pos);
            boolean lineStart = pos == 0 || src.charAt(pos - 1) == '\n';
            String text = src.substring(pos, start < 0 ? src.length() : start);
            if (stripNext) {
                text = text.stripLeading();
            }
            if (start < 0) {
                emitText(text);
                break;
            }
            char type = src.charAt(start + 1);
            char mod = start + 2 < src.length() ? src.charAt(start + 2) : ' ';
            if (mod == '-') {
                text = text.stripTrailing();
            } else if (type != '{' && mod != '+') {
                int l = text.lastIndexOf('\n') + 1;
                if ((l > 0 || lineStart) && isBlank(text, l)) {
                    text = text.substring(0, l);
                }
            }
            emitText(text);
            line += count(src, pos, start);
            pos = start + 2 + (mod == '-' || mod == '+' ? 1 : 0);
            if (type == '#') {
                int end = src.indexOf("#}", pos);
                if (end < 0) {
                    throw new TemplateException("unclosed comment at line " + line);
                }
                line += count(src, pos, end);
                stripNext = src.charAt(end - 1) == '-';
                pos = end + 2;
                if (!stripNext && src.charAt(end - 1) != '+') {
                    skipNewline();
                }
                continue;
            }
            boolean block = type == '%';
            out.add(new Token(block ? Kind.BLOCK_BEGIN : Kind.VAR_BEGIN, block ? "{%" : "{{", null, line));
            int first = out.size();
            char endMod = tagBody(block ? '%' : '}');
            out.add(new Token(block ? Kind.BLOCK_END : Kind.VAR_END, block ? "%}" : "}}", null, line));
            stripNext = endMod == '-';
            if (block && endMod != '-' && endMod != '+') {
                skipNewline();
            }
            if (block && out.size() == first + 2 && out.get(first).isName("raw")) {
                raw(first);
            }
        }
        out.add(new Token(Kind.EOF, "", null, line));
    }

    /** {@code {% raw %}...{% endraw %}}: the text between is output as is. */
    private void raw(int first) {
        out.subList(first - 1, out.size()).clear();
        Matcher m = END_RAW.matcher(src);
        if (!m.find(pos)) {
            throw new TemplateException("unclosed raw block at line " + line);
        }
        String text = src.substring(pos, m.start());
        if (src.charAt(m.start() + 2) == '-') {
            text = text.stripTrailing();
        }
        emitText(text);
        line += count(src, pos, m.end());
        pos = m.end();
    }

    private void skipNewline() {
        if (src.startsWith("\r\n", pos)) {
            pos += 2;
            line++;
        } else if (pos < src.length() && src.charAt(pos) == '\n') {
            pos++;
            line++;
        }
    }

    private int nextTag(int from) {
        int i = from;
        while (true) {
            i = src.indexOf('{', i);
            if (i < 0 || i + 1 >= src.length()) {
                return -1;
            }
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') {
                return i;
            }
            i++;
        }
    }

    private void emitText(String text) {
        if (!text.isEmpty()) {
            out.add(new Token(Kind.TEXT, text, text, line));
        }
    }

    /** Lexes a tag's expression tokens up to its closing delimiter; returns the modifier before it, or ' '. */
    private char tagBody(char close) {
        int depth = 0;
        while (true) {
            while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) {
                if (src.charAt(pos) == '\n') {
                    line++;
                }
                pos++;
            }
            if (pos >= src.length()) {
                throw new TemplateException("unclosed tag at line " + line);
            }
            if (depth == 0) {
                char c = src.charAt(pos);
                if ((c == '-' || c == '+') && pos + 2 < src.length() && src.charAt(pos + 1) == close
                        && src.charAt(pos + 2) == '}') {
                    pos += 3;
                    return c;
                }
                if (c == close && pos + 1 < src.length() && src.charAt(pos + 1) == '}') {
                    pos += 2;
                    return ' ';
                }
            }
            char c = src.charAt(pos);
            if (Character.isLetter(c) || c == '_') {
                int s = pos;
                while (pos < src.length() && (Character.isLetterOrDigit(src.charAt(pos)) || src.charAt(pos) == '_')) {
                    pos++;
                }
                String name = src.substring(s, pos);
                out.add(new Token(Kind.NAME, name, name, line));
            } else if (c >= '0' && c <= '9') {
                number();
            } else if (c == '\'' || c == '"') {
                string(c);
            } else {
                String op = null;
                for (String o : OPS) {
                    if (src.startsWith(o, pos)) {
                        op = o;
                        break;
                    }
                }
                if (op == null) {
                    throw new TemplateException("unexpected character '" + c + "' at line " + line);
                }
                switch (op) {
                    case "(", "[", "{" -> depth++;
                    case ")", "]", "}" -> depth = Math.max(0, depth - 1);
                    default -> { }
                }
                pos += op.length();
                out.add(new Token(Kind.OP, op, op, line));
            }
        }
    }

    private void number() {
        int s = pos;
        boolean real = false;
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (Character.isDigit(c) || c == '_') {
                pos++;
            } else if (c == '.' && !real && pos + 1 < src.length() && Character.isDigit(src.charAt(pos + 1))) {
                real = true;
                pos++;
            } else if ((c == 'e' || c == 'E') && pos + 1 < src.length()
                    && (Character.isDigit(src.charAt(pos + 1)) || src.charAt(pos + 1) == '-' || src.charAt(pos + 1) == '+')) {
                real = true;
                pos += 2;
            } else {
                break;
            }
        }
        String n = src.substring(s, pos).replace("_", "");
        out.add(real ? new Token(Kind.FLOAT, n, Double.parseDouble(n), line)
                : new Token(Kind.INT, n, Long.parseLong(n), line));
    }

    private void string(char q) {
        int startLine = line;
        pos++;
        StringBuilder b = new StringBuilder();
        while (true) {
            if (pos >= src.length()) {
                throw new TemplateException("unterminated string at line " + startLine);
            }
            char c = src.charAt(pos++);
            if (c == q) {
                break;
            }
            if (c == '\n') {
                line++;
            }
            if (c != '\\' || pos >= src.length()) {
                b.append(c);
                continue;
            }
            char e = src.charAt(pos++);
            switch (e) {
                case 'n' -> b.append('\n');
                case 't' -> b.append('\t');
                case 'r' -> b.append('\r');
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case '0' -> b.append('\0');
                case '\\', '\'', '"' -> b.append(e);
                case '\n' -> line++;
                case 'u', 'x' -> {
                    int len = e == 'u' ? 4 : 2;
                    try {
                        b.append((char) Integer.parseInt(src.substring(pos, pos + len), 16));
                        pos += len;
                    } catch (RuntimeException bad) {
                        b.append('\\').append(e);
                    }
                }
                default -> b.append('\\').append(e);
            }
        }
        out.add(new Token(Kind.STRING, b.toString(), b.toString(), startLine));
    }

    private static boolean isBlank(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != ' ' && c != '\t') {
                return false;
            }
        }
        return true;
    }

    private static int count(String s, int from, int to) {
        int n = 0;
        for (int i = from; i < to && i < s.length(); i++) {
            if (s.charAt(i) == '\n') {
                n++;
            }
        }
        return n;
    }
}
