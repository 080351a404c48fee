package dev.gantry.runtime.sampling;

import java.util.function.IntFunction;

/**
 * Per vocabulary, the few tokens {@link AfterThinking} must look at closely: those that may take part in opening a
 * reasoning block, those that may close one (their text has a {@code >}), and those of whitespace alone. Built once
 * per model (a pass over every token's text); then a row is filtered with array reads.
 */
public final class ThinkTags {
    final boolean[] mayOpen;
    final boolean[] mayClose;
    final boolean[] blank;

    private ThinkTags(int vocab) {
        mayOpen = new boolean[vocab];
        mayClose = new boolean[vocab];
        blank = new boolean[vocab];
    }

    /** @param piece each token's text (empty for a token that has none, such as an end of generation) */
    public static ThinkTags of(int vocab, IntFunction<String> piece) {
        ThinkTags tags = new ThinkTags(vocab);
        String open = AfterThinking.OPEN;
        for (int t = 0; t < vocab; t++) {
            String p = piece.apply(t);
            if (p.isEmpty()) {
                continue;
            }
            tags.blank[t] = p.isBlank();
            tags.mayClose[t] = p.indexOf('>') >= 0;
            String s = p.stripLeading();
            boolean may = s.startsWith("<");
            for (int k = 1; k < open.length() && !may; k++) { // a continuation of a tag begun by earlier tokens
                String rest = open.substring(k);
                may = rest.startsWith(p) || p.startsWith(rest);
            }
            tags.mayOpen[t] = may && !tags.blank[t];
        }
        return tags;
    }
}
