package dev.gantry.bench.jmh;

import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.route.ReplicaLoad;
import dev.gantry.runtime.route.RouteRequest;
import dev.gantry.runtime.route.RouteStrategy;
import dev.gantry.runtime.route.Router;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.GenerationObserver;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import dev.gantry.runtime.runner.RunnerStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The runner's scheduling against a simulated GPU, on any machine: each decode is split into the forward passes
 * llama.cpp would make of it with one KV stream per sequence (runs of consecutive sequence ids), and sleeps for
 * what those cost (a fixed part per pass, a part per output, a part per prompt token), so admission, the batch
 * order, the prompt budget and the adaptive controller can be studied without a GPU. Closed-loop clients, as the load tool drives a server: each
 * sends its next request when the last one ends.
 *
 * <p>With -Dsim.replicas=N there are N runners, each on its own simulated GPU, and every request goes where the
 * server's router sends it ({@link LoadedModel#loadOf}, least-loaded): how routing shuffles sequences between
 * replicas, and what that costs each one in gaps between its ids (placeholders, moves).
 *
 * <p>usage: [-Dsim.jitter=J] [-Dsim.think=MS] [-Dsim.replicas=N] [-Dsim.slower=F] [-Dsim.moveMs=R,C] RunnerSim
 * CLIENTS REQUESTS_EACH [ITL_TARGET_MS] [FIXED_MS PER_OUTPUT_MS PER_PROMPT_TOKEN_MS]
 * (defaults: 50 ms; 3, 0.15, 0.1: an 8B Q4_0 model on one H200, from the GPU runs in bench/RESULTS.md)
 */
public final class RunnerSim {
    static final int PROMPT = 100;
    static final int GENERATE = 128;
    /** Every gap between two tokens of one generation, in nanoseconds. */
    static final java.util.Queue<Long> GAPS = new java.util.concurrent.ConcurrentLinkedQueue<>();
    /**
     * With -Dsim.think=MS a client sends its next request that long after its last one ended, as a real client's
     * round trip through HTTP takes a while (0 by default: at once).
     */
    static final long THINK_MS = Long.getLong("sim.think", 0);
    static final java.util.concurrent.ScheduledExecutorService CLIENTS =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "sim-clients");
                t.setDaemon(true);
                return t;
            });

    public static void main(String[] args) throws Exception {
        int clients = Integer.parseInt(args[0]);
        int each = Integer.parseInt(args[1]);
        long itl = args.length > 2 ? Long.parseLong(args[2]) : 50;
        double fixed = args.length > 5 ? Double.parseDouble(args[3]) : 3;
        double perOutput = args.length > 5 ? Double.parseDouble(args[4]) : 0.15;
        double perToken = args.length > 5 ? Double.parseDouble(args[5]) : 0.1;
        NullEngine.StepCost cost = (outputs, tokens) -> (long) (1e6 * (fixed + perOutput * outputs
                + perToken * (tokens - outputs)));
        RunnerConfig config = new RunnerConfig(1024, 128 * 1024, 128, 512, 512, 1, false, false,
                itl * 1_000_000L);
        int replicas = Integer.getInteger("sim.replicas", 1);
        List<Runner> runners = new ArrayList<>();
        // -Dsim.slower=F makes the last replica's steps F times as long (a card or a host placement a few percent
        // slower, as the probes of real replicas differ by up to 5%)
        double slower = Double.parseDouble(System.getProperty("sim.slower", "1"));
        for (int r = 0; r < replicas; r++) {
            NullEngine.StepCost own = r == replicas - 1 && slower != 1
                    ? (outputs, tokens) -> (long) (slower * cost.nanos(outputs, tokens)) : cost;
            runners.add(Runner.start("sim" + r, new NullEngine(own), config));
        }
        Router router = new Router(RouteStrategy.LEAST_LOADED);
        Submitter runner = (req, observer) -> {
            if (runners.size() == 1) {
                runners.getFirst().submit(req, observer);
                return;
            }
            List<ReplicaLoad> loads = new ArrayList<>();
            for (int r = 0; r < runners.size(); r++) {
                loads.add(LoadedModel.loadOf(r, runners.get(r), Double.NaN, 1));
            }
            int[] prompt = req.prompt();
            runners.get(router.choose(loads, new RouteRequest(Router.prefixHash(prompt, prompt.length))))
                    .submit(req, observer);
        };
        try {
            // Numbered prompts, as the load tool sends: they differ from the second token on, so none takes over
            // another's cached prefix.
            java.util.concurrent.atomic.AtomicInteger numbers = new java.util.concurrent.atomic.AtomicInteger();
            // With -Dsim.jitter=J their lengths vary by up to J tokens either way, as real prompts' token counts do
            // ("Request 7." and "Request 123." are not the same length); 0 by default.
            int jitter = Integer.getInteger("sim.jitter", 0);
            java.util.function.Supplier<GenerationRequest> request = () -> {
                int n = numbers.incrementAndGet();
                int[] prompt = new int[PROMPT - jitter + n % (2 * jitter + 1)];
                Arrays.fill(prompt, 7);
                prompt[0] = 1;
                for (int i = 1; i <= 6; i++, n /= 10) { // six digits: no two requests of a run alike
                    prompt[i] = 3 + n % 10;
                }
                return new GenerationRequest(prompt, SamplingParams.greedyDefaults(), GENERATE);
            };
            List<Long> ttft = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Double> itls = java.util.Collections.synchronizedList(new ArrayList<>());
            CountDownLatch done = new CountDownLatch(clients * each);
            long start = System.nanoTime();
            for (int c = 0; c < clients; c++) {
                submit(runner, request, each, ttft, itls, done);
            }
            Thread sampler = Thread.ofPlatform().daemon().start(() -> {
                try {
                    while (true) {
                        Thread.sleep(250);
                        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  t=%.2fs",
                                (System.nanoTime() - start) / 1e9));
                        for (Runner r : runners) {
                            RunnerStats s = r.stats();
                            line.append(String.format(Locale.ROOT, " | active=%d waiting=%d budget=%d maxActive=%d",
                                    s.active(), s.waiting(), s.promptBudget(), s.maxActive()));
                        }
                        System.out.println(line);
                    }
                } catch (InterruptedException e) {
                    // done
                }
            });
            done.await(10, TimeUnit.MINUTES);
            sampler.interrupt();
            double seconds = (System.nanoTime() - start) / 1e9;
            long[] t = ttft.stream().mapToLong(Long::longValue).sorted().toArray();
            double[] g = itls.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            long[] gaps = GAPS.stream().mapToLong(Long::longValue).sorted().toArray();
            System.out.printf(Locale.ROOT, "{\"clients\":%d,\"requests\":%d,\"itl_target_ms\":%d,\"tokens_per_second\":%.1f,"
                            + "\"ttft_p50_ms\":%.1f,\"ttft_p99_ms\":%.1f,\"itl_mean_p50_ms\":%.2f,\"passes_per_step\":%.2f,"
                            + "\"id_runs_per_step\":%.2f,\"token_gap_p99_ms\":%.1f,\"token_gap_max_ms\":%.1f}%n",
                    clients, clients * each, itl, clients * each * (double) GENERATE / seconds,
                    t[t.length / 2] / 1e6, t[(int) (t.length * 0.99)] / 1e6, g[g.length / 2],
                    NullEngine.PASSES.get() / (double) Math.max(1, NullEngine.DECODES.get()),
                    NullEngine.RUNS.get() / (double) Math.max(1, NullEngine.DECODES.get()),
                    gaps[(int) (gaps.length * 0.99)] / 1e6, gaps[gaps.length - 1] / 1e6);
            for (int r = 0; r < runners.size(); r++) { // each replica's steps: sequences, placeholders, moves
                RunnerStats s = runners.get(r).stats();
                double steps = Math.max(1, s.steps());
                System.out.printf(Locale.ROOT, "{\"replica\":%d,\"steps\":%d,\"sequences_per_step\":%.1f,"
                                + "\"passes_per_step\":%.2f,\"fillers_per_step\":%.2f,\"parked_fillers_per_step\":%.2f,"
                                + "\"moves\":%d,\"completed\":%d}%n",
                        r, s.steps(), s.sequenceSteps() / steps, s.forwardPasses() / steps, s.gapFillers() / steps,
                        s.parkedFillers() / steps, s.idMoves(), s.completed());
            }
        } finally {
            for (Runner r : runners) {
                r.close();
            }
        }
    }

    /** Where a simulated client's request goes: the one runner, or the one the router picks. */
    private interface Submitter {
        void submit(GenerationRequest request, GenerationObserver observer);
    }

    private static void submit(Submitter runner, java.util.function.Supplier<GenerationRequest> request, int left,
                               List<Long> ttft, List<Double> itls, CountDownLatch done) {
        if (left == 0) {
            return;
        }
        long sent = System.nanoTime();
        runner.submit(request.get(), new GenerationObserver() {
            long first;
            long last;

            @Override
            public void onToken(int token) {
                long now = System.nanoTime();
                if (last != 0) {
                    GAPS.add(now - last);
                }
                last = now;
                if (first == 0) {
                    first = now;
                    ttft.add(first - sent);
                }
            }

            @Override
            public void onFinish(FinishReason reason, GenerationMetrics metrics) {
                itls.add((System.nanoTime() - first) / 1e6 / Math.max(1, metrics.generatedTokens() - 1));
                done.countDown();
                if (THINK_MS > 0) {
                    CLIENTS.schedule(() -> submit(runner, request, left - 1, ttft, itls, done), THINK_MS,
                            TimeUnit.MILLISECONDS);
                } else {
                    submit(runner, request, left - 1, ttft, itls, done);
                }
            }

            @Override
            public void onError(Throwable error) {
                done.countDown();
            }
        });
    }
}
