package dev.gantry.runtime.sampling;

/**
 * What a {@link TokenSampler} must keep to besides its chain: a grammar, for one sequence. The sampler draws as if
 * there were none, asks whether the token is allowed, and only when it is not restricts the whole row and draws
 * again, as llama-server does: checking one token is cheap, restricting a 128K vocabulary is not. For a plain
 * softmax draw the outcome has the same distribution as restricting first.
 */
public interface TokenConstraint extends AutoCloseable {
    /** Whether {@code token} may come next. */
    boolean allows(int token);

    /** Sets every logit of a token that may not come next to -inf; returns how many tokens may come next. */
    int restrict(float[] logits);

    /** Records the chosen token, one {@link #allows} said may come next (llama.cpp's grammar aborts on others). */
    void accept(int token);

    /** The token to end with when no token may come next (an end-of-generation token). */
    int endToken();

    @Override
    void close();
}
