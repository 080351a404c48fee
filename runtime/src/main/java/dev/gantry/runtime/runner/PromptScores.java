package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.sampling.TokenLogprobs;
import java.util.Arrays;
import java.util.List;

/**
 * Reports the log probabilities of scored prompts ({@link GenerationRequest#promptLogprobs}) to their observers: those
 * a step's outputs predict, computed together by the engine (on the sampling cores), and those a parked slot's
 * scored prompt already has. Each position once, in order, before any token; a sequence whose observer fails is
 * asked to finish (at the next step: it may be among the step's outputs to sample). Runner thread only.
 */
final class PromptScores {
    private static final System.Logger LOG = System.getLogger("gantry.runner");

    // report's lists, grown as needed: each scoring output's sequence, batch index, the position and token it
    // predicts, and the alternatives asked for
    private Sequence[] by = new Sequence[0];
    private int[] output = new int[0];
    private int[] position = new int[0];
    private int[] token = new int[0];
    private int[] top = new int[0];

    /** The log probabilities this step's scoring outputs ({@link Sequence#scoreOutputs}) give. */
    void report(List<Sequence> active, EngineSession session) {
        int n = 0;
        for (Sequence s : active) {
            if (s.chunk == 0 || s.embedding || s.scoreOutputs == null) {
                continue;
            }
            for (int j = 0; j < s.chunk && j < s.scoreOutputs.length; j++) {
                if (s.scoreOutputs[j] < 0) {
                    continue;
                }
                if (n == by.length) {
                    int grown = Math.max(16, 2 * n);
                    by = Arrays.copyOf(by, grown);
                    output = Arrays.copyOf(output, grown);
                    position = Arrays.copyOf(position, grown);
                    token = Arrays.copyOf(token, grown);
                    top = Arrays.copyOf(top, grown);
                }
                by[n] = s;
                output[n] = s.scoreOutputs[j];
                position[n] = s.cached - s.chunk + j + 1; // the token this output predicts
                token[n] = s.tokens[position[n]];
                top[n] = s.request.logprobs();
                n++;
            }
        }
        if (n == 0) {
            return;
        }
        TokenLogprobs[] lps = session.logprobs(output, token, top, n);
        // in order: a sequence's outputs were listed by position
        for (int k = 0; k < n; k++) {
            Sequence s = by[k];
            by[k] = null;
            int pos = position[k];
            s.promptScored = pos + 1;
            if (lps[k] != null) {
                s.keepScored(pos, lps[k]);
            }
            if (lps[k] != null && s.requestedFinish() == null) {
                tell(s, pos, lps[k]);
            }
        }
    }

    /**
     * A scoring sequence took over a slot whose prompt was scored: the positions it kept ({@code 1..cached}, those
     * the kept cells' outputs predicted) are reported from there, with the alternatives it asked for.
     */
    static void reportKnown(Sequence s, TokenLogprobs[] known) {
        int top = Math.max(0, s.request.logprobs());
        for (int pos = s.promptScored; pos <= s.cached && pos < known.length && known[pos] != null; pos++) {
            TokenLogprobs k = known[pos];
            TokenLogprobs lp = k.topTokens().length == top ? k : new TokenLogprobs(k.token(), k.logprob(),
                    Arrays.copyOf(k.topTokens(), top), Arrays.copyOf(k.topLogprobs(), top));
            s.promptScored = pos + 1;
            s.keepScored(pos, lp);
            if (!tell(s, pos, lp)) {
                return;
            }
        }
    }

    /** Hands the observer position {@code pos}'s log probabilities; false when it throws (the sequence then ends). */
    private static boolean tell(Sequence s, int pos, TokenLogprobs lp) {
        try {
            s.observer.onPromptLogprobs(pos, lp);
            return true;
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "observer failed; cancelling its sequence", e);
            s.finish(FinishReason.CANCELLED);
            return false;
        }
    }
}
