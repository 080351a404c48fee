package dev.gantry.bench;

import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.GenerationObserver;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/** Runs a round of identical generations on a runner, for the benchmarks that drive the runtime without HTTP. */
public final class Generations {
    private Generations() {}

    /**
     * Submits {@code n} copies of {@code request}, waits until all end, and returns the tokens produced.
     *
     * @param onToken called on the runner thread for every token (for example, to detokenize it)
     */
    public static int runAll(Runner runner, GenerationRequest request, int n, IntConsumer onToken, Duration timeout)
            throws InterruptedException {
        CountDownLatch done = new CountDownLatch(n);
        AtomicInteger produced = new AtomicInteger();
        for (int i = 0; i < n; i++) {
            runner.submit(request, new GenerationObserver() {
                @Override
                public void onToken(int token) {
                    onToken.accept(token);
                    produced.incrementAndGet();
                }

                @Override
                public void onFinish(FinishReason reason, GenerationMetrics metrics) {
                    done.countDown();
                }

                @Override
                public void onError(Throwable error) {
                    error.printStackTrace();
                    done.countDown();
                }
            });
        }
        if (!done.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException(n + " generations did not finish within " + timeout);
        }
        return produced.get();
    }
}
