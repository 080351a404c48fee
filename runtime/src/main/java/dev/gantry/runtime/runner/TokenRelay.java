package dev.gantry.runtime.runner;

import dev.gantry.runtime.sampling.TokenLogprobs;
import dev.gantry.runtime.text.TextStreamer;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.IntFunction;

/**
 * Hands one generation's tokens from the runner thread to another thread (the request's event loop), where they are
 * detokenized, cut at stop strings and written. The runner's side costs an array store and, at most once per
 * drain, an {@link Executor#execute}; everything slow happens on the executor, in order.
 *
 * <p>When a stop string matches, the relay ends the generation through its handle, so the runner frees the
 * sequence at its next step; tokens sampled after the match are dropped and not counted.
 */
public final class TokenRelay implements GenerationObserver {
    /** The consumer, called on the executor, in order, never concurrently. */
    public interface Sink {
        void onText(String text);

        void onDone(FinishReason reason, GenerationMetrics metrics);

        void onError(Throwable error);

        /**
         * A token's log probabilities, just before its text (which a stop string or an unfinished character may hold
         * back); {@code pieces} gives any token's bytes. Only for requests that asked. The default ignores them.
         */
        default void onLogprobs(TokenLogprobs logprobs, IntFunction<byte[]> pieces) {}

        /**
         * Prompt token {@code position}'s log probabilities ({@link GenerationObserver#onPromptLogprobs}), in order,
         * before any text. Only for requests that asked. The default ignores them.
         */
        default void onPromptLogprobs(int position, TokenLogprobs logprobs, IntFunction<byte[]> pieces) {}

        /** Called after each batch of deliveries, so text written without flushing goes out together. */
        default void flush() {}

        /** False while the client's connection cannot take more bytes. */
        default boolean isWritable() {
            return true;
        }
    }

    /** Tokens a relay buffers before it tells the runner to skip the sequence. */
    static final int MAX_BACKLOG = 256;

    private final Executor executor;
    private final IntFunction<byte[]> pieces;
    private final TextStreamer streamer;
    private final Sink sink;
    private volatile GenerationHandle handle;

    private final Object lock = new Object();
    private int[] buffer = new int[32];
    private int[] spare = new int[32];
    /** Each buffered token's log probabilities, once any came (in step with {@link #buffer}). */
    private TokenLogprobs[] logprobs;
    private TokenLogprobs[] spareLogprobs;
    private int count;
    /** Prompt positions and their log probabilities not yet delivered (a request that scores its prompt). */
    private java.util.ArrayList<PromptLogprobs> prompt;
    /** Runner thread: the log probabilities of the token {@link #onToken} gets next. */
    private TokenLogprobs nextLogprobs;
    private boolean scheduled;
    private FinishReason finishReason;
    private GenerationMetrics finishMetrics;
    private Throwable error;

    // executor side
    private boolean ended;
    private int consumed;

    public TokenRelay(Executor executor, IntFunction<byte[]> pieces, List<String> stops, Sink sink) {
        this.executor = executor;
        this.pieces = pieces;
        this.streamer = new TextStreamer(stops);
        this.sink = sink;
    }

    /** The handle of the generation this relay serves; needed to end it at a stop string. */
    public void bind(GenerationHandle handle) {
        this.handle = handle;
    }

    @Override
    public void onLogprobs(TokenLogprobs lp) {
        nextLogprobs = lp;
    }

    private record PromptLogprobs(int position, TokenLogprobs logprobs) {}

    @Override
    public void onPromptLogprobs(int position, TokenLogprobs lp) {
        synchronized (lock) {
            if (prompt == null) {
                prompt = new java.util.ArrayList<>();
            }
            prompt.add(new PromptLogprobs(position, lp));
            scheduleLocked();
        }
    }

    @Override
    public void onToken(int token) {
        TokenLogprobs lp = nextLogprobs;
        nextLogprobs = null;
        synchronized (lock) {
            if (count == buffer.length) {
                buffer = java.util.Arrays.copyOf(buffer, buffer.length * 2);
            }
            if (lp != null && logprobs == null) {
                logprobs = new TokenLogprobs[buffer.length];
                spareLogprobs = new TokenLogprobs[buffer.length];
            }
            if (logprobs != null) {
                if (logprobs.length < buffer.length) {
                    logprobs = java.util.Arrays.copyOf(logprobs, buffer.length);
                }
                logprobs[count] = lp;
            }
            buffer[count++] = token;
            scheduleLocked();
        }
    }

    @Override
    public void onFinish(FinishReason reason, GenerationMetrics metrics) {
        synchronized (lock) {
            finishReason = reason;
            finishMetrics = metrics;
            scheduleLocked();
        }
    }

    @Override
    public void onError(Throwable t) {
        synchronized (lock) {
            error = t;
            scheduleLocked();
        }
    }

    @Override
    public boolean isReady() {
        int backlog;
        synchronized (lock) {
            backlog = count;
        }
        return backlog < MAX_BACKLOG && sink.isWritable();
    }

    private void scheduleLocked() {
        if (!scheduled) {
            scheduled = true;
            executor.execute(this::drain);
        }
    }

    private void drain() {
        while (true) {
            int[] tokens;
            TokenLogprobs[] lps;
            int n;
            FinishReason reason;
            GenerationMetrics metrics;
            Throwable failure;
            java.util.List<PromptLogprobs> scored;
            synchronized (lock) {
                if (count == 0 && finishReason == null && error == null && (prompt == null || prompt.isEmpty())) {
                    scheduled = false;
                    return;
                }
                scored = prompt == null || prompt.isEmpty() ? null : prompt;
                if (scored != null) {
                    prompt = null;
                }
                tokens = buffer;
                n = count;
                buffer = spare;
                spare = tokens;
                lps = logprobs;
                if (lps != null) {
                    logprobs = spareLogprobs.length >= buffer.length ? spareLogprobs : new TokenLogprobs[buffer.length];
                    spareLogprobs = lps;
                }
                count = 0;
                reason = finishReason;
                metrics = finishMetrics;
                failure = error;
                finishReason = null;
                error = null;
            }
            try {
                if (scored != null && !ended) {
                    try {
                        for (PromptLogprobs p : scored) {
                            sink.onPromptLogprobs(p.position(), p.logprobs(), pieces);
                        }
                    } catch (RuntimeException e) {
                        textFailed(e);
                        continue;
                    }
                }
                deliver(tokens, lps, n, reason, metrics, failure);
                sink.flush();
            } catch (RuntimeException e) {
                GenerationHandle h = handle;
                if (h != null) {
                    h.cancel();
                }
                ended = true;
            }
        }
    }

    /** A token's text cannot be made (the model is gone): the generation ends and the consumer hears why. */
    private void textFailed(RuntimeException e) {
        ended = true;
        GenerationHandle h = handle;
        if (h != null) {
            h.cancel();
        }
        sink.onError(e);
    }

    private void deliver(int[] tokens, TokenLogprobs[] lps, int n, FinishReason reason, GenerationMetrics metrics,
                         Throwable failure) {
        if (ended) {
            return;
        }
        for (int i = 0; i < n && !streamer.stopped(); i++) {
            byte[] piece;
            try {
                piece = pieces.apply(tokens[i]);
            } catch (RuntimeException e) {
                textFailed(e);
                return;
            }
            if (lps != null && lps[i] != null) {
                sink.onLogprobs(lps[i], pieces);
                lps[i] = null;
            }
            String text = streamer.push(piece);
            consumed++;
            if (!text.isEmpty()) {
                sink.onText(text);
            }
            if (streamer.stopped()) {
                GenerationHandle h = handle;
                if (h != null) {
                    h.finish(FinishReason.STOP);
                }
            }
        }
        if (failure != null) {
            ended = true;
            sink.onError(failure);
        } else if (reason != null) {
            ended = true;
            String tail = streamer.flush();
            if (!tail.isEmpty()) {
                sink.onText(tail);
            }
            boolean byStopString = streamer.stopped();
            sink.onDone(byStopString ? FinishReason.STOP : reason,
                    byStopString ? metrics.withGeneratedTokens(consumed) : metrics);
        }
    }
}
