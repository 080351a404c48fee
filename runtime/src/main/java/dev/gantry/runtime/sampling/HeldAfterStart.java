package dev.gantry.runtime.sampling;

/**
 * A request's grammar held only from some point of the answer on (after a reasoning block, in gpt-oss's final
 * message): its subclasses say when; ending and closing are the grammar's.
 */
abstract class HeldAfterStart implements TokenConstraint {
    protected final TokenConstraint grammar;

    HeldAfterStart(TokenConstraint grammar) {
        this.grammar = grammar;
    }

    /** How many tokens of {@code logits} may still come (a finite logit). */
    static int finite(float[] logits) {
        int n = 0;
        for (float l : logits) {
            if (l > Float.NEGATIVE_INFINITY) {
                n++;
            }
        }
        return n;
    }

    @Override
    public int endToken() {
        return grammar.endToken();
    }

    @Override
    public void close() {
        grammar.close();
    }
}
