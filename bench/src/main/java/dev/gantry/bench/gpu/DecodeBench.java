package dev.gantry.bench.gpu;

import dev.gantry.bench.Generations;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.llama.LlamaCppEngineFactory;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import dev.gantry.runtime.runner.RunnerStats;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/**
 * Gantry's runner on one GPU without HTTP: N sequences of T tokens, with host or device sampling, greedy or
 * Ollama's default chain; prints tokens/s and where each step's time went (decode, sampling, the rest). It
 * separates the engine loop from the server when a served figure falls short.
 *
 * <p>usage: DecodeBench LLAMA_LIB MODEL GPU SEQUENCES TOKENS host|device greedy|chain
 */
public final class DecodeBench {
    public static void main(String[] args) throws Exception {
        Path lib = Path.of(args[0]);
        Path model = Path.of(args[1]);
        int gpu = Integer.parseInt(args[2]);
        int n = Integer.parseInt(args[3]);
        int tokens = Integer.parseInt(args[4]);
        boolean device = args[5].equals("device");
        boolean greedy = args[6].equals("greedy");
        LlamaCppEngineFactory f = LlamaCppEngineFactory.initialize(Optional.of(lib), Path.of("/tmp/gantry-cache"));
        int threads = Math.min(4, dev.gantry.llama.LlamaCpp.defaultThreads(Runtime.getRuntime().availableProcessors()));
        try (Engine engine = f.load(model, EngineFactory.LoadParams.onGpu(999, gpu));
             Runner runner = Runner.start("bench", engine, new RunnerConfig(1024, n * 1024, n, 64, 512, threads, device,
                     false))) {
            int[] prompt = engine.tokenize("Once upon a time ".repeat(25), true, false);
            SamplingParams p = (greedy ? SamplingParams.greedyDefaults() : SamplingParams.DEFAULTS).withIgnoreEos(true);
            round(runner, prompt, p, n, 16);
            RunnerStats before = runner.stats();
            long start = System.nanoTime();
            round(runner, prompt, p, n, tokens);
            double s = (System.nanoTime() - start) / 1e9;
            RunnerStats after = runner.stats();
            long steps = after.steps() - before.steps();
            System.out.printf(Locale.ROOT, "{\"sequences\":%d,\"tokens\":%d,\"sampling\":\"%s\",\"chain\":\"%s\","
                            + "\"tokens_per_second\":%.1f,\"steps\":%d,\"step_ms\":%.2f,\"decode_ms\":%.2f,\"sample_ms\":%.2f}%n",
                    n, tokens, device ? "device" : "host", greedy ? "greedy" : "chain", (double) n * tokens / s, steps,
                    (after.stepNanos() - before.stepNanos()) / 1e6 / steps,
                    (after.decodeNanos() - before.decodeNanos()) / 1e6 / steps,
                    (after.sampleNanos() - before.sampleNanos()) / 1e6 / steps);
        }
        System.exit(0);
    }

    static void round(Runner runner, int[] prompt, SamplingParams p, int n, int tokens) throws InterruptedException {
        Generations.runAll(runner, new GenerationRequest(prompt, p, tokens), n, t -> { }, Duration.ofMinutes(5));
    }
}
