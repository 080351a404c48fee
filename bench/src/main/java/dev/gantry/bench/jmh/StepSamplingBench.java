package dev.gantry.bench.jmh;

import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.sampling.ParallelSampling;
import dev.gantry.runtime.sampling.TokenSampler;
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
 * One runner step's host sampling: {@code sequences} sequences, each with its own sampler (Ollama's default chain,
 * end-of-generation tokens banned) and its own 128,256-float logits row in native memory, as llama.cpp leaves a
 * step's outputs. {@code serial} samples them one after the other on the benchmark's thread, {@code parallel}
 * through {@link ParallelSampling} as a runner does. Per step.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class StepSamplingBench {
    @Param({"64"})
    public int sequences;

    Arena arena;
    MemorySegment[] rows;
    TokenSampler[] samplers;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        rows = new MemorySegment[sequences];
        samplers = new TokenSampler[sequences];
        SplittableRandom r = new SplittableRandom(42);
        SamplingParams p = SamplingParams.DEFAULTS.withIgnoreEos(true);
        for (int j = 0; j < sequences; j++) {
            rows[j] = SamplerBench.logitsRow(arena, r);
            samplers[j] = new TokenSampler(p, SamplerBench.VOCAB, SamplerBench.EOG, new int[0]);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public int serial() {
        int sum = 0;
        for (int j = 0; j < sequences; j++) {
            sum += samplers[j].sample(rows[j]);
        }
        return sum;
    }

    @Benchmark
    public int parallel() {
        int[] tokens = new int[sequences];
        ParallelSampling.forEach(sequences, j -> tokens[j] = samplers[j].sample(rows[j]));
        return tokens[sequences - 1];
    }
}
