package dev.gantry.bench.peer;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import dev.gantry.bench.Generations;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.llama.LlamaCppEngineFactory;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Generates with Gantry's runtime or with de.kherud:llama (the Java binding over llama.cpp's server code), in this
 * JVM, with the same model, prompt, thread count and token budget, and prints one JSON line per round. Run each
 * engine in its own JVM (bench/compare-peer.sh does): both load a llama.cpp of their own.
 *
 * <p>usage: PeerBench gantry|kherud MODEL CONCURRENCY TOKENS ROUNDS THREADS
 */
public final class PeerBench {
    static final String PROMPT = "Once upon a time, in a small town by the sea, there lived a";

    public static void main(String[] args) throws Exception {
        String engine = args[0];
        Path model = Path.of(args[1]);
        int concurrency = Integer.parseInt(args[2]);
        int tokens = Integer.parseInt(args[3]);
        int rounds = Integer.parseInt(args[4]);
        int threads = Integer.parseInt(args[5]);
        Bench b = engine.equals("kherud") ? new Kherud(model, concurrency, threads) : new Gantry(model, concurrency, threads);
        b.round(concurrency, Math.min(tokens, 16)); // warm-up
        for (int r = 0; r < rounds; r++) {
            long start = System.nanoTime();
            int produced = b.round(concurrency, tokens);
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT, "{\"engine\":\"%s\",\"concurrency\":%d,\"threads\":%d,\"tokens\":%d,"
                    + "\"seconds\":%.4f,\"tokens_per_second\":%.1f}%n", engine, concurrency, threads, produced, seconds,
                    produced / seconds);
        }
        b.close();
        System.exit(0);
    }

    interface Bench extends AutoCloseable {
        /** Runs {@code n} generations of {@code tokens} tokens at once; returns the tokens produced. */
        int round(int n, int tokens) throws Exception;
    }

    /** Gantry's runtime: one runner, continuous batching, host sampling (greedy), no HTTP. */
    static final class Gantry implements Bench {
        final Engine engine;
        final Runner runner;

        Gantry(Path model, int concurrency, int threads) {
            EngineFactory f = LlamaCppEngineFactory.initialize(Optional.empty(), Path.of("target", "gantry-cache"));
            engine = f.load(model, new EngineFactory.LoadParams(0, -1, true));
            runner = Runner.start("peer", engine, new RunnerConfig(2048, 2048 * concurrency, concurrency, 64, 512,
                    threads, false, false));
        }

        @Override
        public int round(int n, int tokens) throws InterruptedException {
            int[] prompt = engine.tokenize(PROMPT, true, false);
            SamplingParams greedy = SamplingParams.greedyDefaults().withIgnoreEos(true);
            return Generations.runAll(runner, new GenerationRequest(prompt, greedy, tokens), n, engine::piece,
                    java.time.Duration.ofMinutes(10));
        }

        @Override
        public void close() {
            runner.close();
            engine.close();
        }
    }

    /** de.kherud:llama 4.2.0: llama.cpp's server slots behind JNI, one Java thread per generation. */
    static final class Kherud implements Bench {
        final LlamaModel model;
        final ExecutorService pool;

        Kherud(Path path, int concurrency, int threads) {
            LlamaModel.setLogger(null, (level, msg) -> { });
            model = new LlamaModel(new ModelParameters().setModel(path.toString()).setGpuLayers(0)
                    .setThreads(threads).setThreadsBatch(threads).setParallel(concurrency)
                    .setCtxSize(2048 * concurrency).enableContBatching());
            pool = Executors.newFixedThreadPool(concurrency);
        }

        @Override
        public int round(int n, int tokens) throws Exception {
            List<Future<Integer>> calls = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                calls.add(pool.submit(() -> {
                    int count = 0;
                    InferenceParameters p = new InferenceParameters(PROMPT).setNPredict(tokens).setTemperature(0f)
                            .setIgnoreEos(true).setCachePrompt(false);
                    for (LlamaOutput o : model.generate(p)) {
                        count++;
                    }
                    return count;
                }));
            }
            int total = 0;
            for (Future<Integer> c : calls) {
                total += c.get(10, TimeUnit.MINUTES);
            }
            return total;
        }

        @Override
        public void close() {
            pool.shutdownNow();
            model.close();
        }
    }
}
