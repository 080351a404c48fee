package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.gantry.llama.gpu.GpuTelemetry;
import dev.gantry.llama.gpu.NvmlDevice;
import dev.gantry.llama.gpu.NvmlSample;
import dev.gantry.runtime.gpu.GpuMonitor;
import dev.gantry.server.ops.OpsConfig;
import dev.gantry.server.ops.alert.AlertEvent;
import dev.gantry.server.ops.alert.AlertKind;
import dev.gantry.server.ops.alert.WebhookNotifier;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * GPU alerts end to end: a fake NVML feeds the real GPU monitor of a running Gantry; a real local HTTP receiver
 * gets the webhook's JSON, refusing the first post so the retry shows. The figures also reach {@code /metrics}.
 */
class AlertWebhookTest {
    private static final long GIB = 1L << 30;
    private static final NvmlDevice DEVICE = new NvmlDevice(0, "Fake H100", "GPU-fake", "0000:01:00.0");

    /** NVML as a test sets it: one GPU whose next reading is whatever {@link #reading} holds. */
    static final class FakeNvml implements GpuTelemetry {
        volatile NvmlSample reading = new NvmlSample(50, 10, 10 * GIB, 80 * GIB, 60, 250.0);

        @Override
        public List<NvmlDevice> devices() {
            return List.of(DEVICE);
        }

        @Override
        public NvmlSample sample(NvmlDevice device) {
            return reading;
        }

        @Override
        public void close() {}
    }

    /** A webhook receiver: answers 500 to the first post, 200 to the rest, and keeps every body. */
    static final class Receiver implements AutoCloseable {
        final HttpServer server;
        final BlockingQueue<String> bodies = new LinkedBlockingQueue<>();
        final AtomicInteger posts = new AtomicInteger();

        Receiver(int failFirst) throws Exception {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
            server.createContext("/hook", ex -> {
                String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                boolean fail = posts.incrementAndGet() <= failFirst;
                bodies.add((fail ? "refused " : "") + body);
                ex.sendResponseHeaders(fail ? 500 : 204, -1);
                ex.close();
            });
            server.start();
        }

        URI uri() {
            return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/hook");
        }

        String next() throws InterruptedException {
            String b = bodies.poll(60, TimeUnit.SECONDS);
            if (b == null) {
                throw new AssertionError("no post within 60 s");
            }
            return b;
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    @Test
    void aHotGpuIsPostedOnceWithARetryAndItsRecoveryOnce() throws Exception {
        FakeNvml nvml = new FakeNvml();
        try (Receiver receiver = new Receiver(1);
             TestServer server = TestServer.start(TestServer.defaults(),
                     OpsConfig.defaults().withAlertWebhook(receiver.uri()));
             GpuMonitor monitor = GpuMonitor.start(nvml, Map.of(0, DEVICE), Duration.ofMillis(20))) {
            server.gantry.operations().watchGpus(monitor::snapshot, monitor.period());

            nvml.reading = new NvmlSample(50, 10, 10 * GIB, 80 * GIB, 85, 250.0); // above 80 C
            String refused = receiver.next();
            assertTrue(refused.startsWith("refused "), refused);
            String retried = receiver.next();
            assertEquals(refused.substring("refused ".length()), retried, "the retry posts the same event");
            JsonNode fired = TestServer.json(retried);
            assertEquals("gantry", fired.get("source").asText());
            assertEquals("gpu_temperature_high", fired.get("alert").asText());
            assertEquals("firing", fired.get("state").asText());
            assertEquals(0, fired.get("gpu").asInt());
            assertEquals(85.0, fired.get("value").asDouble());
            assertEquals(80.0, fired.get("threshold").asDouble());
            Instant.parse(fired.get("at").asText());
            assertTrue(fired.get("message").asText().contains("GPU 0 temperature 85"), fired.toString());

            PrometheusText m = PrometheusText.parse(server.get("/metrics").body());
            Map<String, String> gpu0 = Map.of("gpu", "0");
            assertEquals(85.0, m.valueOrZero("gantry_gpu_temperature_celsius", gpu0));
            assertEquals(80.0 * GIB, m.valueOrZero("gantry_gpu_memory_total_bytes", gpu0));
            assertEquals(10.0 * GIB, m.valueOrZero("gantry_gpu_memory_used_bytes", gpu0));
            assertEquals(50.0, m.valueOrZero("gantry_gpu_utilization_percent", gpu0));
            assertEquals(250.0, m.valueOrZero("gantry_gpu_power_watts", gpu0));

            nvml.reading = new NvmlSample(50, 10, 10 * GIB, 80 * GIB, 70, 250.0);
            JsonNode resolved = TestServer.json(receiver.next());
            assertEquals("gpu_temperature_high", resolved.get("alert").asText());
            assertEquals("resolved", resolved.get("state").asText());
            assertEquals(70.0, resolved.get("value").asDouble());
            assertEquals(3, receiver.posts.get(), "one episode: a refused post, its retry, the recovery");
        }
    }

    @Test
    void aStuckWebhookNeverBlocksTheCaller() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        HttpServer stuck = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        stuck.createContext("/hook", ex -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.sendResponseHeaders(204, -1);
            ex.close();
        });
        stuck.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        stuck.start();
        URI uri = URI.create("http://127.0.0.1:" + stuck.getAddress().getPort() + "/hook");
        try (WebhookNotifier hook = new WebhookNotifier(uri, 1, Duration.ofMillis(200), 2, Duration.ofMillis(10))) {
            AlertEvent e = new AlertEvent(AlertKind.GPU_MEMORY_HIGH, AlertEvent.State.FIRING, 0, 0.97, 0.95,
                    Instant.now(), "GPU 0 memory 97.0% used");
            for (int i = 0; i < 5; i++) {
                hook.accept(e); // returns at once: one event in flight, one queued, the rest dropped
            }
            assertTrue(hook.dropped() >= 3, "dropped " + hook.dropped());
            HealthAndReadinessTest.waitFor(() -> hook.failed() >= 1);
            assertEquals(0, hook.delivered(), "every post timed out");
        } finally {
            release.countDown();
            stuck.stop(0);
        }
    }
}
