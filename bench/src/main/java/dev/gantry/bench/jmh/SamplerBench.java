package dev.gantry.bench.jmh;

import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.sampling.TokenSampler;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * One token's host sampling from a Llama 3 sized logits row (128,256 floats in native memory, where llama.cpp
 * leaves them), per token: Ollama's default chain (top-k 40, top-p 0.9, temperature 0.8) with the
 * end-of-generation tokens banned as {@code ignore_eos} does, the same with a repeat penalty over the last 64
 * tokens, and greedy.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class SamplerBench {
    static final int VOCAB = 128_256;
    static final int[] EOG = {128001, 128008, 128009};

    @Param({"defaults", "penalized", "greedy"})
    public String chain;

    Arena arena;
    MemorySegment[] rows;
    TokenSampler sampler;
    int next;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        // several rows, so a token's row is not the last one's cache lines (a GPU writes each step's rows afresh)
        rows = new MemorySegment[16];
        SplittableRandom r = new SplittableRandom(42);
        for (int j = 0; j < rows.length; j++) {
            rows[j] = logitsRow(arena, r);
        }
        SamplingParams d = SamplingParams.DEFAULTS.withIgnoreEos(true);
        SamplingParams p = switch (chain) {
            case "defaults" -> d;
            case "penalized" -> new SamplingParams(0.8f, 40, 0.9f, 0f, 1f, 1, 1.1f, 64, 0f, 0f, true);
            case "greedy" -> new SamplingParams(0f, 40, 0.9f, 0f, 1f, 1, 1f, 64, 0f, 0f, true);
            default -> throw new IllegalArgumentException(chain);
        };
        int[] history = new int[100];
        for (int i = 0; i < history.length; i++) {
            history[i] = r.nextInt(VOCAB);
        }
        sampler = new TokenSampler(p, VOCAB, EOG, history);
    }

    /** A row of {@link #VOCAB} logits in native memory, roughly a model's: most near zero, a few well above. */
    static MemorySegment logitsRow(Arena arena, SplittableRandom r) {
        MemorySegment row = arena.allocate(ValueLayout.JAVA_FLOAT, VOCAB);
        for (int i = 0; i < VOCAB; i++) {
            double v = r.nextGaussian() * 2.5 + (r.nextInt(4000) == 0 ? 12 : 0);
            row.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v);
        }
        return row;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public int sample() {
        return sampler.sample(rows[next++ & 15]);
    }
}
