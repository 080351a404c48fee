package dev.gantry.runtime.engine.llama;

import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.llama.LlamaSampler;
import dev.gantry.runtime.sampling.TokenConstraint;

/** A GBNF grammar for one sequence, kept by llama.cpp's grammar sampler (a chain of it alone). */
final class GrammarConstraint implements TokenConstraint {
    private final LlamaSampler grammar;
    private final int[] endTokens;

    /** @throws IllegalArgumentException when llama.cpp rejects the grammar */
    GrammarConstraint(LlamaModelHandle model, String gbnf) {
        this.endTokens = model.endOfGenerationTokens();
        try {
            this.grammar = LlamaSampler.chain().grammar(model, gbnf, "root").build();
        } catch (IllegalArgumentException e) { // the request's format or grammar: the client's to fix (a 400)
            throw new IllegalArgumentException("invalid format: llama.cpp cannot use the grammar made from it ("
                    + e.getMessage() + ")", e);
        }
    }

    /**
     * {@code c} after the tokens generated so far, which it must have seen (a sequence re-admitted after preemption
     * resumes mid-document; the prompt is not part of them). Closes it and throws when one does not fit.
     */
    static <C extends TokenConstraint> C resumed(C c, int[] generated) {
        try {
            for (int t : generated) {
                // llama.cpp aborts the process on a token its grammar cannot take: refuse it here instead
                if (!c.allows(t)) {
                    throw new IllegalArgumentException("token " + t + " of the generated text does not fit the grammar");
                }
                c.accept(t);
            }
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    @Override
    public boolean allows(int token) {
        return grammar.allows(token);
    }

    @Override
    public int restrict(float[] logits) {
        grammar.applyTo(logits);
        int left = 0;
        for (float l : logits) {
            if (l > Float.NEGATIVE_INFINITY) { // NaN is never drawn, so it does not count
                left++;
            }
        }
        return left;
    }

    @Override
    public void accept(int token) {
        grammar.accept(token);
    }

    @Override
    public int endToken() {
        if (endTokens.length == 0) {
            throw new IllegalStateException("the grammar admits no next token and the model has no end token");
        }
        return endTokens[0];
    }

    @Override
    public void close() {
        grammar.close();
    }
}
