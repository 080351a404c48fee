package dev.gantry.server.ops.alert;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Posts alert events as JSON to a webhook ({@code GANTRY_ALERT_WEBHOOK}), without ever holding up whoever raised
 * them: {@link #accept} only offers the event to a bounded queue (a full queue drops it, with a log line), and one
 * virtual thread sends them in order, each with a timeout, retrying a failed post (an error status, a refused
 * connection, a timeout) a few times with a growing pause before giving it up with a log line.
 */
public final class WebhookNotifier implements AlertSink, AutoCloseable {
    private static final System.Logger LOG = System.getLogger("gantry.alerts");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Events queued at most before new ones are dropped. */
    public static final int DEFAULT_CAPACITY = 256;

    private final URI target;
    private final HttpClient http;
    private final Duration timeout;
    private final int attempts;
    private final Duration firstBackoff;
    private final BlockingQueue<AlertEvent> queue;
    private final Thread sender;
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();

    /**
     * @param timeout      for one post, connection included
     * @param attempts     posts per event at most (1 means no retry)
     * @param firstBackoff the pause before the first retry; each later one doubles it
     */
    public WebhookNotifier(URI target, int capacity, Duration timeout, int attempts, Duration firstBackoff) {
        if (attempts < 1 || capacity < 1) {
            throw new IllegalArgumentException("attempts and capacity must be >= 1");
        }
        String scheme = target.getScheme();
        if (scheme == null || !(scheme.equals("http") || scheme.equals("https")) || target.getHost() == null) {
            throw new IllegalArgumentException("GANTRY_ALERT_WEBHOOK must be an http(s) URL, was " + target);
        }
        this.target = target;
        this.timeout = timeout;
        this.attempts = attempts;
        this.firstBackoff = firstBackoff;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
        this.sender = Thread.ofVirtual().name("gantry-alert-webhook").start(this::run);
    }

    /** With the defaults: 256 queued, 5 s per post, 4 attempts, 0.5 s then 1 s then 2 s between them. */
    public static WebhookNotifier to(URI target) {
        return new WebhookNotifier(target, DEFAULT_CAPACITY, Duration.ofSeconds(5), 4, Duration.ofMillis(500));
    }

    /** Queues the event; never blocks. */
    @Override
    public void accept(AlertEvent event) {
        if (!queue.offer(event)) {
            dropped.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "alert webhook: queue full, dropped {0} {1} for GPU {2}",
                    event.kind().wire(), event.state().wire(), event.gpu());
        }
    }

    /** Events posted successfully. */
    public long delivered() {
        return delivered.get();
    }

    /** Events dropped because the queue was full. */
    public long dropped() {
        return dropped.get();
    }

    /** Events given up after every attempt failed. */
    public long failed() {
        return failed.get();
    }

    private void run() {
        try {
            while (true) {
                send(queue.take());
            }
        } catch (InterruptedException e) {
            // closed
        }
    }

    private void send(AlertEvent event) throws InterruptedException {
        byte[] body;
        try {
            body = JSON.writeValueAsBytes(event.toJson());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        HttpRequest request = HttpRequest.newBuilder(target).timeout(timeout)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        Duration pause = firstBackoff;
        String lastFailure = "";
        for (int attempt = 1; attempt <= attempts; attempt++) {
            try {
                HttpResponse<Void> r = http.send(request, HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() / 100 == 2) {
                    delivered.incrementAndGet();
                    return;
                }
                lastFailure = "HTTP " + r.statusCode();
            } catch (IOException e) {
                lastFailure = e.toString();
            }
            if (attempt < attempts) {
                Thread.sleep(pause);
                pause = pause.multipliedBy(2);
            }
        }
        failed.incrementAndGet();
        LOG.log(System.Logger.Level.WARNING, "alert webhook: gave up posting {0} {1} for GPU {2} to {3} after {4} "
                + "attempts ({5})", event.kind().wire(), event.state().wire(), event.gpu(), target, attempts,
                lastFailure);
    }

    /** Stops the sender; events still queued are not sent. */
    @Override
    public void close() {
        sender.interrupt();
        http.close();
    }
}
