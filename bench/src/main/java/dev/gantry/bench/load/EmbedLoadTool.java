package dev.gantry.bench.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Drives OpenAI-style embedding requests ({@code POST /v1/embeddings}, which Gantry and llama-server both serve)
 * with N concurrent clients against one or more servers (round robin per request), and reports inputs and input
 * tokens a second and the requests' latency (p50, p99). Every input starts with its own number, so no two are alike.
 * Input tokens are the servers' own count ({@code usage.prompt_tokens}).
 *
 * <p>usage: EmbedLoadTool --url U[,U2...] [--model M] [--clients N] [--requests R] [--inputs K] [--words W]
 * [--label L] [--out FILE.jsonl] (one uncounted request to each server first)
 */
public final class EmbedLoadTool {
    private static final ObjectMapper JSON = new ObjectMapper();

    record Options(List<URI> urls, String model, int clients, int requests, int inputs, int words, String label,
                   Path out) {}

    /** One run's result. */
    public record Result(String label, int clients, int requests, int ok, int failed, long inputs, long tokens,
                         double seconds, double inputsPerSecond, double tokensPerSecond, double latencyP50Ms,
                         double latencyP99Ms, java.util.Map<String, Integer> errors) {
        String json() {
            ObjectNode errs = JSON.createObjectNode();
            errors.forEach(errs::put);
            return String.format(Locale.ROOT, "{\"label\":\"%s\",\"clients\":%d,\"requests\":%d,\"ok\":%d,"
                    + "\"failed\":%d,\"inputs\":%d,\"tokens\":%d,\"seconds\":%.3f,\"inputs_per_second\":%.1f,"
                    + "\"tokens_per_second\":%.1f,\"latency_p50_ms\":%.1f,\"latency_p99_ms\":%.1f,\"errors\":%s}",
                    label, clients, requests, ok, failed, inputs, tokens, seconds, inputsPerSecond, tokensPerSecond,
                    latencyP50Ms, latencyP99Ms, errs);
        }
    }

    private EmbedLoadTool() {}

    public static void main(String[] args) throws Exception {
        Options o = parse(args);
        Result r = run(o);
        String line = r.json();
        System.out.println(line);
        if (o.out() != null) {
            Files.writeString(o.out(), line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
    }

    static Result run(Options o) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        String words = LoadTool.prompt(o.words());
        for (URI base : o.urls()) { // uncounted: the client's own first-request costs stay out of the figures
            send(http, base, o.model(), List.of("Warm up. " + words));
        }
        AtomicInteger next = new AtomicInteger();
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicLong inputs = new AtomicLong();
        AtomicLong tokens = new AtomicLong();
        List<Double> latency = Collections.synchronizedList(new ArrayList<>());
        // each failure's kind (status and the start of its message, or the exception's class) and how often
        java.util.Map<String, Integer> errors = new java.util.concurrent.ConcurrentSkipListMap<>();
        long start = System.nanoTime();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> clients = new ArrayList<>();
            for (int c = 0; c < o.clients(); c++) {
                clients.add(pool.submit(() -> {
                    for (int r = 0; r < o.requests(); r++) {
                        int n = next.getAndIncrement();
                        List<String> batch = new ArrayList<>(o.inputs());
                        for (int i = 0; i < o.inputs(); i++) {
                            batch.add("Input " + (n * o.inputs() + i) + ". " + words);
                        }
                        long sent = System.nanoTime();
                        try {
                            Answer a = send(http, o.urls().get(n % o.urls().size()), o.model(), batch);
                            if (a.status == 200 && a.vectors == batch.size()) {
                                latency.add((System.nanoTime() - sent) / 1e6);
                                ok.incrementAndGet();
                                inputs.addAndGet(a.vectors);
                                tokens.addAndGet(a.tokens);
                            } else {
                                failed.incrementAndGet();
                                String why = a.status + " " + (a.error == null ? "vectors " + a.vectors : a.error);
                                errors.merge(why.substring(0, Math.min(120, why.length())), 1, Integer::sum);
                            }
                        } catch (Exception e) {
                            failed.incrementAndGet();
                            errors.merge(e.getClass().getSimpleName(), 1, Integer::sum);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : clients) {
                f.get();
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(o.label(), o.clients(), o.clients() * o.requests(), ok.get(), failed.get(), inputs.get(),
                tokens.get(), seconds, inputs.get() / seconds, tokens.get() / seconds,
                LoadTool.percentile(latency, 50), LoadTool.percentile(latency, 99), errors);
    }

    record Answer(int status, int vectors, long tokens, String error) {}

    static Answer send(HttpClient http, URI base, String model, List<String> inputs) throws Exception {
        ObjectNode body = JSON.createObjectNode().put("model", model);
        ArrayNode in = body.putArray("input");
        inputs.forEach(in::add);
        HttpRequest request = HttpRequest.newBuilder(base.resolve("/v1/embeddings"))
                .timeout(Duration.ofMinutes(5)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build();
        HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        if (response.statusCode() != 200) {
            return new Answer(response.statusCode(), 0, 0, new String(response.body(),
                    java.nio.charset.StandardCharsets.UTF_8));
        }
        JsonNode r = JSON.readTree(response.body());
        int vectors = 0;
        for (JsonNode d : r.path("data")) {
            if (d.path("embedding").isArray() && !d.path("embedding").isEmpty()) {
                vectors++;
            }
        }
        return new Answer(200, vectors, r.path("usage").path("prompt_tokens").asLong(0), null);
    }

    static Options parse(String[] args) {
        List<URI> urls = List.of(URI.create("http://127.0.0.1:11434"));
        String model = "stories260k";
        int clients = 8;
        int requests = 16;
        int inputs = 1;
        int words = 100;
        String label = "embed";
        Path out = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--url" -> urls = java.util.Arrays.stream(v.split(",")).map(URI::create).toList();
                case "--model" -> model = v;
                case "--clients" -> clients = Integer.parseInt(v);
                case "--requests" -> requests = Integer.parseInt(v);
                case "--inputs" -> inputs = Integer.parseInt(v);
                case "--words" -> words = Integer.parseInt(v);
                case "--label" -> label = v;
                case "--out" -> out = Path.of(v);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (clients < 1 || requests < 1 || inputs < 1) {
            throw new IllegalArgumentException("clients, requests and inputs must be at least 1");
        }
        return new Options(urls, model, clients, requests, inputs, words, label, out);
    }
}
