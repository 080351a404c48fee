package dev.gantry.runtime.grammar;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A small GBNF recognizer for tests: parses the subset {@link JsonGrammar} writes (rules, literals, character
 * classes, groups, alternation, {@code ? * +} and {@code {m,n}}) and says whether a whole text matches
 * {@code root}. It explores every alternative (the set of positions each part can end at), so it is exact but only
 * for short texts. Independent of llama.cpp's parser, so a test can say which documents a grammar admits.
 */
final class GbnfMatcher {
    private sealed interface Node permits Lit, Cls, Ref, Seq, Alt, Rep {}

    private record Lit(int[] cps) implements Node {}

    private record Cls(boolean negated, List<int[]> ranges) implements Node {}

    private record Ref(String name) implements Node {}

    private record Seq(List<Node> items) implements Node {}

    private record Alt(List<Node> options) implements Node {}

    private record Rep(Node node, int min, int max) implements Node {}

    private final Map<String, Node> rules = new HashMap<>();
    private String src;
    private int at;

    GbnfMatcher(String grammar) {
        for (String line : grammar.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            int sep = line.indexOf(" ::= ");
            if (sep < 0) {
                throw new IllegalArgumentException("not a rule: " + line);
            }
            src = line.substring(sep + 5);
            at = 0;
            Node body = alternatives();
            skip();
            if (at != src.length()) {
                throw new IllegalArgumentException("unparsed rest in " + line + " at " + at);
            }
            rules.put(line.substring(0, sep).strip(), body);
        }
        if (!rules.containsKey("root")) {
            throw new IllegalArgumentException("no root rule");
        }
    }

    boolean matches(String text) {
        int[] cps = text.codePoints().toArray();
        return ends(new Ref("root"), cps, 0, 0).contains(cps.length);
    }

    private Set<Integer> ends(Node n, int[] t, int pos, int depth) {
        if (depth > 4000) {
            throw new IllegalStateException("too deep");
        }
        Set<Integer> out = new TreeSet<>();
        switch (n) {
            case Lit l -> {
                if (pos + l.cps().length <= t.length) {
                    for (int i = 0; i < l.cps().length; i++) {
                        if (t[pos + i] != l.cps()[i]) {
                            return out;
                        }
                    }
                    out.add(pos + l.cps().length);
                }
            }
            case Cls c -> {
                if (pos < t.length) {
                    boolean in = false;
                    for (int[] r : c.ranges()) {
                        in |= t[pos] >= r[0] && t[pos] <= r[1];
                    }
                    if (in != c.negated()) {
                        out.add(pos + 1);
                    }
                }
            }
            case Ref r -> {
                Node body = rules.get(r.name());
                if (body == null) {
                    throw new IllegalArgumentException("undefined rule " + r.name());
                }
                out.addAll(ends(body, t, pos, depth + 1));
            }
            case Seq s -> {
                Set<Integer> cur = Set.of(pos);
                for (Node item : s.items()) {
                    Set<Integer> next = new TreeSet<>();
                    for (int p : cur) {
                        next.addAll(ends(item, t, p, depth + 1));
                    }
                    cur = next;
                    if (cur.isEmpty()) {
                        break;
                    }
                }
                out.addAll(cur);
            }
            case Alt a -> {
                for (Node o : a.options()) {
                    out.addAll(ends(o, t, pos, depth + 1));
                }
            }
            case Rep r -> {
                Set<Integer> cur = Set.of(pos);
                if (r.min() == 0) {
                    out.add(pos);
                }
                for (int k = 1; r.max() < 0 || k <= r.max(); k++) {
                    Set<Integer> next = new TreeSet<>();
                    for (int p : cur) {
                        next.addAll(ends(r.node(), t, p, depth + 1));
                    }
                    if (next.isEmpty() || (k > r.min() && out.containsAll(next))) {
                        break;
                    }
                    cur = next;
                    if (k >= r.min()) {
                        out.addAll(next);
                    }
                }
            }
        }
        return out;
    }

    private Node alternatives() {
        List<Node> options = new ArrayList<>();
        options.add(sequence());
        skip();
        while (at < src.length() && src.charAt(at) == '|') {
            at++;
            options.add(sequence());
            skip();
        }
        return options.size() == 1 ? options.getFirst() : new Alt(options);
    }

    private Node sequence() {
        List<Node> items = new ArrayList<>();
        while (true) {
            skip();
            if (at >= src.length() || src.charAt(at) == '|' || src.charAt(at) == ')') {
                return items.size() == 1 ? items.getFirst() : new Seq(items);
            }
            Node n = primary();
            skip();
            while (at < src.length()) {
                char c = src.charAt(at);
                if (c == '?') {
                    n = new Rep(n, 0, 1);
                    at++;
                } else if (c == '*') {
                    n = new Rep(n, 0, -1);
                    at++;
                } else if (c == '+') {
                    n = new Rep(n, 1, -1);
                    at++;
                } else if (c == '{') {
                    int close = src.indexOf('}', at);
                    String[] parts = src.substring(at + 1, close).split(",", -1);
                    int min = Integer.parseInt(parts[0].strip());
                    int max = parts.length == 1 ? min : parts[1].isBlank() ? -1 : Integer.parseInt(parts[1].strip());
                    n = new Rep(n, min, max);
                    at = close + 1;
                } else {
                    break;
                }
            }
            items.add(n);
        }
    }

    private Node primary() {
        char c = src.charAt(at);
        if (c == '"') {
            at++;
            List<Integer> cps = new ArrayList<>();
            while (src.charAt(at) != '"') {
                cps.add(character());
            }
            at++;
            return new Lit(cps.stream().mapToInt(Integer::intValue).toArray());
        }
        if (c == '[') {
            at++;
            boolean negated = src.charAt(at) == '^';
            if (negated) {
                at++;
            }
            List<int[]> ranges = new ArrayList<>();
            while (src.charAt(at) != ']') {
                int lo = character();
                int hi = lo;
                if (src.charAt(at) == '-' && src.charAt(at + 1) != ']') {
                    at++;
                    hi = character();
                }
                ranges.add(new int[] {lo, hi});
            }
            at++;
            return new Cls(negated, ranges);
        }
        if (c == '(') {
            at++;
            Node inner = alternatives();
            skip();
            if (src.charAt(at) != ')') {
                throw new IllegalArgumentException("expected ) at " + at + " in " + src);
            }
            at++;
            return inner;
        }
        int start = at;
        while (at < src.length() && (Character.isLetterOrDigit(src.charAt(at)) || src.charAt(at) == '-')) {
            at++;
        }
        if (start == at) {
            throw new IllegalArgumentException("unexpected " + c + " at " + at + " in " + src);
        }
        return new Ref(src.substring(start, at));
    }

    private int character() {
        int c = src.codePointAt(at);
        at += Character.charCount(c);
        if (c != '\\') {
            return c;
        }
        char e = src.charAt(at++);
        return switch (e) {
            case 'n' -> '\n';
            case 'r' -> '\r';
            case 't' -> '\t';
            case 'x' -> hex(2);
            case 'u' -> hex(4);
            default -> e;
        };
    }

    private int hex(int digits) {
        int v = Integer.parseInt(src.substring(at, at + digits), 16);
        at += digits;
        return v;
    }

    private void skip() {
        while (at < src.length() && src.charAt(at) == ' ') {
            at++;
        }
    }
}
