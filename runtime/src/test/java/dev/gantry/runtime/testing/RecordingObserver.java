package dev.gantry.runtime.testing;

import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.GenerationObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntConsumer;

/**
 * A {@link GenerationObserver} that records everything, for tests: tokens, the outcome (as a future), the threads it
 * was called on, and breaches of the observer protocol (a call after the end, two ends). Readiness can be switched to
 * model a slow client, and hooks can run on the runner thread when the n-th token arrives.
 */
public final class RecordingObserver implements GenerationObserver {
    /** How a generation ended: {@code error} is null for a finish, {@code reason}/{@code metrics} null for an error. */
    public record Outcome(FinishReason reason, GenerationMetrics metrics, Throwable error) {
        public boolean failed() {
            return error != null;
        }
    }

    private final List<Integer> tokens = new ArrayList<>();
    private final CompletableFuture<Outcome> outcome = new CompletableFuture<>();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private final List<String> protocolErrors = new CopyOnWriteArrayList<>();
    private final List<Hook> hooks = new CopyOnWriteArrayList<>();
    private volatile boolean ready = true;
    private volatile RuntimeException throwOnToken;

    private record Hook(int count, IntConsumer action, CompletableFuture<Void> reached) {}

    private final List<dev.gantry.runtime.sampling.TokenLogprobs> logprobs = new CopyOnWriteArrayList<>();
    private final List<dev.gantry.runtime.sampling.TokenLogprobs> promptLogprobs = new CopyOnWriteArrayList<>();

    @Override
    public void onLogprobs(dev.gantry.runtime.sampling.TokenLogprobs lp) {
        logprobs.add(lp);
    }

    @Override
    public void onPromptLogprobs(int position, dev.gantry.runtime.sampling.TokenLogprobs lp) {
        if (outcome.isDone() || tokenCount() > 0) {
            protocolErrors.add("onPromptLogprobs(" + position + ") after a token or the end");
        }
        if (position != promptLogprobs.size() + 1) {
            protocolErrors.add("onPromptLogprobs(" + position + ") after " + promptLogprobs.size() + " positions");
        }
        promptLogprobs.add(lp);
    }

    /** The generated tokens' log probabilities, in order (requests that asked). */
    public List<dev.gantry.runtime.sampling.TokenLogprobs> logprobs() {
        return List.copyOf(logprobs);
    }

    /** The prompt's log probabilities, from position 1 on (requests that scored their prompt). */
    public List<dev.gantry.runtime.sampling.TokenLogprobs> promptLogprobs() {
        return List.copyOf(promptLogprobs);
    }

    @Override
    public void onToken(int token) {
        threads.add(Thread.currentThread());
        if (outcome.isDone()) {
            protocolErrors.add("onToken(" + token + ") after the end");
        }
        int n;
        synchronized (tokens) {
            tokens.add(token);
            n = tokens.size();
        }
        for (Hook h : hooks) {
            if (h.count == n) {
                if (h.action != null) {
                    h.action.accept(token);
                }
                h.reached.complete(null);
            }
        }
        RuntimeException e = throwOnToken;
        if (e != null) {
            throw e;
        }
    }

    @Override
    public void onFinish(FinishReason reason, GenerationMetrics metrics) {
        threads.add(Thread.currentThread());
        if (!outcome.complete(new Outcome(reason, metrics, null))) {
            protocolErrors.add("onFinish(" + reason + ") after the end");
        }
    }

    @Override
    public void onError(Throwable error) {
        threads.add(Thread.currentThread());
        if (!outcome.complete(new Outcome(null, null, error))) {
            protocolErrors.add("onError(" + error + ") after the end");
        }
    }

    @Override
    public boolean isReady() {
        return ready;
    }

    /** Whether {@link #isReady()} answers true (a fast client) or false (a client that cannot take more). */
    public RecordingObserver ready(boolean ready) {
        this.ready = ready;
        return this;
    }

    /** Every later {@link #onToken} throws {@code e} after recording the token. */
    public RecordingObserver throwOnToken(RuntimeException e) {
        this.throwOnToken = e;
        return this;
    }

    /**
     * Runs {@code action} on the runner thread when the {@code count}-th token arrives (register before submitting);
     * the returned future completes then too.
     */
    public CompletableFuture<Void> onTokenCount(int count, IntConsumer action) {
        Hook h = new Hook(count, action, new CompletableFuture<>());
        hooks.add(h);
        return h.reached;
    }

    /**
     * Completes when the {@code count}-th token has arrived: at once where it already has, so it may be asked after
     * submitting (the runner can be faster than the test thread).
     */
    public CompletableFuture<Void> tokensReached(int count) {
        CompletableFuture<Void> reached = onTokenCount(count, null);
        if (tokenCount() >= count) {
            reached.complete(null);
        }
        return reached;
    }

    /** Waits for the {@code count}-th token; fails the test on a timeout or an early end rather than hanging. */
    public void awaitTokens(int count, Duration timeout) {
        get(CompletableFuture.anyOf(tokensReached(count), outcome), timeout, "token " + count + " did not arrive");
        if (tokenCount() < count) {
            throw new AssertionError("the generation ended after " + tokenCount() + " tokens, before token " + count
                    + ": " + outcome.join());
        }
    }

    public CompletableFuture<Outcome> outcome() {
        return outcome;
    }

    public boolean isDone() {
        return outcome.isDone();
    }

    /** Waits for the end; fails the test on a timeout rather than hanging. */
    public Outcome await(Duration timeout) {
        return get(outcome, timeout, "the generation did not end");
    }

    /** Waits for {@code f}; a timeout fails the test, saying {@code what} and how many tokens came. */
    private <T> T get(CompletableFuture<T> f, Duration timeout, String what) {
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError(what + " within " + timeout + " (" + tokenCount() + " tokens so far)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        } catch (ExecutionException e) {
            throw new AssertionError(e.getCause());
        }
    }

    /** Waits for the end and requires a finish (not an error). */
    public Outcome awaitFinish(Duration timeout) {
        Outcome o = await(timeout);
        if (o.failed()) {
            throw new AssertionError("the generation failed instead of finishing", o.error());
        }
        return o;
    }

    /** Waits for the end and requires an error. */
    public Throwable awaitError(Duration timeout) {
        Outcome o = await(timeout);
        if (!o.failed()) {
            throw new AssertionError("the generation finished (" + o.reason() + ") instead of failing");
        }
        return o.error();
    }

    public int[] tokens() {
        synchronized (tokens) {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    public int tokenCount() {
        synchronized (tokens) {
            return tokens.size();
        }
    }

    /** The generated text, for a {@link FakeEngine}'s byte vocabulary. */
    public String text() {
        return FakeEngine.decode(tokens());
    }

    /** The threads callbacks came from (a runner calls from its one thread). */
    public Set<Thread> threads() {
        return Set.copyOf(threads);
    }

    /** Calls that broke the observer protocol; tests assert it is empty. */
    public List<String> protocolErrors() {
        return List.copyOf(protocolErrors);
    }
}
