package dev.gantry.server;

import dev.gantry.runtime.ReplicaPlanner;
import dev.gantry.runtime.engine.llama.LlamaCppEngineFactory;
import dev.gantry.runtime.gpu.GpuMonitor;
import dev.gantry.runtime.gpu.GpuReport;
import dev.gantry.runtime.place.GpuPlacement;
import dev.gantry.server.ops.OpsConfig;
import dev.gantry.server.ops.TermSignal;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/** {@code java -jar runtime.jar [serve|gpus|version] [options]}: starts Gantry, lists the GPUs, or prints help. */
public final class Main {
    private static final System.Logger LOG = System.getLogger("gantry");

    private Main() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
        List<String> argv = Arrays.asList(args);
        if (argv.contains("--help") || argv.contains("-h")) {
            System.out.print(ServerConfig.USAGE + "\n" + ServerConfig.describe());
            return;
        }
        if (!argv.isEmpty() && argv.getFirst().equals("version")) {
            System.out.println("gantry " + version());
            return;
        }
        boolean gpusCommand = !argv.isEmpty() && argv.getFirst().equals("gpus");
        ServerConfig config;
        OpsConfig ops;
        try {
            config = ServerConfig.fromEnv(System.getenv(), gpusCommand ? argv.subList(1, argv.size()) : argv);
            ops = OpsConfig.fromEnv(System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("gantry: " + e.getMessage());
            System.exit(2);
            return;
        }
        LlamaCppEngineFactory engines;
        GpuReport gpus;
        dev.gantry.runtime.route.RouteStrategy routing;
        try {
            routing = dev.gantry.runtime.route.RouteStrategy.parse(System.getenv("GANTRY_ROUTING"));
            engines = LlamaCppEngineFactory.initialize(config.llamaLib(), config.cacheDir());
            gpus = GpuReport.collect(config.llamaLib(), config.cacheDir());
            if (!config.gpus().isAll()) {
                gpus = gpus.selectIndexes(List.copyOf(config.gpus().gpus()));
            }
        } catch (RuntimeException e) {
            System.err.println("gantry: " + e.getMessage());
            System.exit(e instanceof IllegalArgumentException ? 2 : 1);
            return;
        }
        if (gpusCommand) {
            System.out.print(gpus.render());
            return;
        }
        LOG.log(System.Logger.Level.INFO, engines.describe());
        if (config.requireGpu() && !engines.hasGpu()) {
            System.err.println("gantry: --require-gpu: llama.cpp found no GPU backend (" + engines.describe()
                    + "); pass --llama-lib with a CUDA build of llama.cpp");
            System.exit(1);
            return;
        }
        ReplicaPlanner planner = engines.hasGpu() && gpus.hasGpu()
                ? GpuPlacement.from(gpus, config.gpus(), config.placement(), config.gpuMemoryFraction())
                : ReplicaPlanner.llamaDefault();
        GpuMonitor monitor = gpus.startMonitor(GpuMonitor.DEFAULT_PERIOD);
        Gantry gantry;
        try {
            gantry = Gantry.start(config, engines, planner, ops);
        } catch (Exception e) {
            // Netty rethrows the socket's BindException unchecked-style from bind().sync()
            if (!(e instanceof java.net.SocketException)) {
                throw e;
            }
            System.err.println("gantry: cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        gantry.models().routeStrategy(routing);
        gantry.models().gpuMemoryUsed(gpu -> monitor.snapshot().sample(gpu)
                .filter(s -> s.memoryTotalBytes() > 0 && s.memoryUsedBytes() >= 0)
                .map(s -> s.memoryUsedBytes() / (double) s.memoryTotalBytes()).orElse(Double.NaN));
        gantry.operations().watchGpus(monitor::snapshot, monitor.period());
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            gantry.close();
            monitor.close();
        }));
        AtomicBoolean terminating = new AtomicBoolean();
        TermSignal.handle(() -> {
            if (!terminating.compareAndSet(false, true)) {
                LOG.log(System.Logger.Level.INFO, "SIGTERM again: already draining");
                return;
            }
            LOG.log(System.Logger.Level.INFO, "SIGTERM: draining");
            gantry.drainAndClose();
            monitor.close();
            System.exit(0);
        });
        System.out.println("Gantry " + version() + " listening on " + config.host() + ":" + gantry.port());
        Thread.currentThread().join();
    }

    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
