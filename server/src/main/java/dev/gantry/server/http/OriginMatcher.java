package dev.gantry.server.http;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Which browser origins may call the API (CORS): the {@code OLLAMA_ORIGINS} patterns plus the local origins Ollama
 * always allows. A pattern may hold {@code *} wildcards ({@code http://localhost:*}, {@code chrome-extension://*},
 * or {@code *} alone for any origin). Matching ignores case. Immutable.
 */
public final class OriginMatcher {
    /** Ollama's built-in origins: local pages on any port, and desktop and editor webviews. */
    static final List<String> BUILT_IN;

    static {
        List<String> b = new ArrayList<>();
        for (String host : List.of("localhost", "127.0.0.1", "0.0.0.0")) {
            b.add("http://" + host);
            b.add("https://" + host);
            b.add("http://" + host + ":*");
            b.add("https://" + host + ":*");
        }
        b.addAll(List.of("app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*"));
        BUILT_IN = List.copyOf(b);
    }

    private final List<String> patterns;

    private OriginMatcher(List<String> patterns) {
        this.patterns = patterns;
    }

    /** The given patterns and the built-in ones. */
    public static OriginMatcher of(List<String> configured) {
        List<String> all = new ArrayList<>();
        for (String p : configured) {
            all.add(p.strip().toLowerCase(Locale.ROOT));
        }
        BUILT_IN.forEach(p -> all.add(p.toLowerCase(Locale.ROOT)));
        return new OriginMatcher(List.copyOf(all));
    }

    public List<String> patterns() {
        return patterns;
    }

    public boolean allows(String origin) {
        String o = origin.strip().toLowerCase(Locale.ROOT);
        for (String p : patterns) {
            if (matches(p, o)) {
                return true;
            }
        }
        return false;
    }

    /** Glob match where {@code *} stands for any run of characters, including none. */
    static boolean matches(String pattern, String s) {
        int p = 0;
        int i = 0;
        int star = -1;
        int mark = 0;
        while (i < s.length()) {
            if (p < pattern.length() && pattern.charAt(p) == '*') {
                star = p++;
                mark = i;
            } else if (p < pattern.length() && pattern.charAt(p) == s.charAt(i)) {
                p++;
                i++;
            } else if (star >= 0) {
                p = star + 1;
                i = ++mark;
            } else {
                return false;
            }
        }
        while (p < pattern.length() && pattern.charAt(p) == '*') {
            p++;
        }
        return p == pattern.length();
    }
}
