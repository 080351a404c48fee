package dev.gantry.server;

import dev.gantry.runtime.engine.llama.LlamaCppEngineFactory;
import java.util.Arrays;
import java.util.List;

/** {@code java -jar runtime.jar [serve] [options]}: starts Gantry, or prints its version or help. */
public final class Main {
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
        ServerConfig config;
        try {
            config = ServerConfig.fromEnv(System.getenv(), argv);
        } catch (IllegalArgumentException e) {
            System.err.println("gantry: " + e.getMessage());
            System.exit(2);
            return;
        }
        LlamaCppEngineFactory engines;
        try {
            engines = LlamaCppEngineFactory.initialize(config.llamaLib(), config.cacheDir());
        } catch (RuntimeException e) {
            System.err.println("gantry: " + e.getMessage());
            System.exit(1);
            return;
        }
        System.getLogger("gantry").log(System.Logger.Level.INFO, engines.describe());
        if (!config.gpus().isEmpty()) {
            System.getLogger("gantry").log(System.Logger.Level.WARNING, "--gpus {0}: placement across GPUs is not "
                    + "built yet; llama.cpp places the model on the devices it finds", config.gpus());
        }
        Gantry gantry;
        try {
            gantry = Gantry.start(config, engines);
        } catch (Exception e) {
            // Netty rethrows the socket's BindException unchecked-style from bind().sync()
            if (!(e instanceof java.net.SocketException)) {
                throw e;
            }
            System.err.println("gantry: cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(gantry::close));
        System.out.println("Gantry " + version() + " listening on " + config.host() + ":" + gantry.port());
        Thread.currentThread().join();
    }

    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
