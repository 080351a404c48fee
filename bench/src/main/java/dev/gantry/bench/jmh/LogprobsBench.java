package dev.gantry.bench.jmh;

import dev.gantry.runtime.sampling.TokenLogprobs;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One token's log probability and its {@code top} likeliest alternatives from a Llama 3 sized logits row (128,256
 * floats in native memory, where llama.cpp leaves them): what a request with {@code logprobs} costs the runner
 * thread for each generated token, and a scored prompt for each of its tokens.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class LogprobsBench {
    @Param({"0", "1", "5"})
    public int top;

    Arena arena;
    MemorySegment[] rows;
    float[] scratch = new float[SamplerBench.VOCAB];
    int next;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        rows = new MemorySegment[16]; // several rows, so a token's row is not the last one's cache lines
        SplittableRandom r = new SplittableRandom(42);
        for (int j = 0; j < rows.length; j++) {
            rows[j] = SamplerBench.logitsRow(arena, r);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public TokenLogprobs logprobs() {
        MemorySegment row = rows[next++ & (rows.length - 1)];
        return TokenLogprobs.of(row, SamplerBench.VOCAB, 1234, top, scratch);
    }
}
