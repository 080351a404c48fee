package dev.gantry.bench.jmh;

import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.sampling.ParallelSampling;
import dev.gantry.runtime.sampling.TokenSampler;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A step's host sampling timed the way a runner meets it, without JMH (for a GPU host, which has only the staged
 * jars): {@code rows} rows of 128,256 logits in native memory, drawn from a pool of rows larger than the caches (a
 * GPU writes each step's rows afresh), a busy wait of {@code gap} microseconds between steps (the runner thread
 * spinning in the device's synchronize while the sampling pool's workers park), each step sampled whole rows
 * (as {@code StepSamplingBench.parallel}), then a row a task and split into 2, 4 and 8 parts a row where the cores
 * allow, those tasks handed out before the wait as a runner does ({@link ParallelSampling#prepare}). Prints the
 * median, mean and 90th percentile microseconds of a step.
 *
 * <pre>java -cp runtime.jar:gantry-bench.jar dev.gantry.bench.jmh.SamplingTimer [rows,...] [gap-us] [steps]</pre>
 */
public final class SamplingTimer {
    private SamplingTimer() {
    }

    public static void main(String[] args) {
        int[] rowCounts = Arrays.stream((args.length > 0 ? args[0] : "1,4,8,64").split(","))
                .mapToInt(Integer::parseInt).toArray();
        long gapNanos = (args.length > 1 ? Long.parseLong(args[1]) : 3000) * 1000;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 2000;
        int pool = 256; // 128 MB of rows
        SplittableRandom r = new SplittableRandom(42);
        SamplingParams p = SamplingParams.DEFAULTS.withIgnoreEos(true);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment[] all = new MemorySegment[pool];
            for (int j = 0; j < pool; j++) {
                all[j] = SamplerBench.logitsRow(arena, r);
            }
            System.out.printf("cores %d, gap %d us, %d steps each%n", Runtime.getRuntime().availableProcessors(),
                    gapNanos / 1000, steps);
            System.out.println("| rows | parts | median us | mean us | p90 us |");
            System.out.println("| --- | --- | --- | --- | --- |");
            int cores = Runtime.getRuntime().availableProcessors();
            int[] next = {0};
            for (int n : rowCounts) {
                TokenSampler[] samplers = new TokenSampler[n];
                for (int j = 0; j < n; j++) {
                    samplers[j] = new TokenSampler(p, SamplerBench.VOCAB, SamplerBench.EOG, new int[0]);
                }
                float[][] copies = new float[n][SamplerBench.VOCAB];
                int[] tokens = new int[n];
                MemorySegment[] rows = new MemorySegment[n];
                MemorySegment[] sources = new MemorySegment[n];
                // 0: whole rows through forEach (workers woken at sampling); N: prepared, N parts a row
                for (int parts : new int[] {0, 1, 2, 4, 8}) {
                    if (parts > 0 && n * parts > cores) {
                        continue;
                    }
                    long[] took = new long[steps];
                    for (int warm = 0; warm < 2; warm++) {
                        for (int step = 0; step < steps; step++) {
                            for (int j = 0; j < n; j++) {
                                rows[j] = all[next[0]++ % pool];
                            }
                            // as a runner: the parts handed out before it waits for the device, started after
                            ParallelSampling.Prepared prepared = null;
                            if (parts > 0) {
                                for (TokenSampler s : samplers) {
                                    s.beginSplit(parts);
                                }
                                int q = parts;
                                prepared = ParallelSampling.prepare(n * q,
                                        t -> samplers[t / q].scanPart(sources[t / q], copies[t / q], t % q));
                            }
                            long until = System.nanoTime() + gapNanos;
                            while (System.nanoTime() < until) {
                                Thread.onSpinWait();
                            }
                            long t0 = System.nanoTime();
                            if (parts == 0) {
                                ParallelSampling.forEach(n, j -> tokens[j] = samplers[j].sample(rows[j]));
                            } else {
                                System.arraycopy(rows, 0, sources, 0, n);
                                prepared.start();
                                for (int j = 0; j < n; j++) {
                                    tokens[j] = samplers[j].finishSplit(copies[j]);
                                }
                            }
                            took[step] = System.nanoTime() - t0;
                        }
                    }
                    long[] sorted = took.clone();
                    Arrays.sort(sorted);
                    System.out.printf("| %d | %s | %.1f | %.1f | %.1f |%n", n, parts == 0 ? "whole rows"
                            : parts == 1 ? "a row a task" : parts,
                            sorted[steps / 2] / 1e3, mean(took) / 1e3, sorted[steps * 9 / 10] / 1e3);
                }
            }
        }
    }

    private static double mean(long[] v) {
        return Arrays.stream(v).average().orElse(0);
    }
}
