package dev.gantry.bench.jmh;

import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import dev.gantry.runtime.runner.TokenRelay;
import dev.gantry.server.api.ollama.ChunkEncoder;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The runner's whole Java path per generated token, with an engine that decodes for free: admission, batch
 * building, sampling bookkeeping, the hand-off to a writer thread, detokenization and NDJSON encoding. Wall time
 * per token over two threads (runner and writer), so CPU per token is at most twice this figure.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class RunnerLoopBench {
    static final int TOKENS = 128;
    static final int REQUESTS = 64;

    @Param({"1", "64"})
    public int concurrency;

    Runner runner;
    ExecutorService writer;
    final AtomicLong bytes = new AtomicLong();

    @Setup(Level.Trial)
    public void setUp() {
        runner = Runner.start("bench", new NullEngine(),
                new RunnerConfig(4096, 65536, 64, 512, 512, 1, false));
        writer = Executors.newSingleThreadExecutor();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        runner.close();
        writer.shutdownNow();
    }

    /** 64 requests of 128 tokens, {@code concurrency} at a time; per generated token. */
    @Benchmark
    @OperationsPerInvocation(TOKENS * REQUESTS)
    public void generate() throws InterruptedException {
        int rounds = REQUESTS / concurrency;
        for (int r = 0; r < rounds; r++) {
            CountDownLatch done = new CountDownLatch(concurrency);
            for (int i = 0; i < concurrency; i++) {
                ChunkEncoder encoder = new ChunkEncoder("m", false);
                TokenRelay relay = new TokenRelay(writer, runnerPiece(), List.of(), new TokenRelay.Sink() {
                    @Override
                    public void onText(String text) {
                        bytes.addAndGet(encoder.line(text).length);
                    }

                    @Override
                    public void onDone(FinishReason reason, GenerationMetrics metrics) {
                        done.countDown();
                    }

                    @Override
                    public void onError(Throwable error) {
                        done.countDown();
                    }
                });
                relay.bind(runner.submit(new GenerationRequest(new int[] {1, 50, 60}, SamplingParams.greedyDefaults(),
                        TOKENS), relay));
            }
            if (!done.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("generations did not finish");
            }
        }
    }

    private static java.util.function.IntFunction<byte[]> runnerPiece() {
        NullEngine e = new NullEngine();
        return e::piece;
    }
}
