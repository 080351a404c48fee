package dev.gantry.bench.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
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
 * Drives streaming completions against one or more servers (round robin per request) with N concurrent clients,
 * and reports aggregate tokens per second, time to first token (p50, p99) and inter-token latency (p50).
 * Speaks Ollama's {@code /api/generate} and llama-server's {@code /completion}, so both are measured the same way.
 *
 * <p>usage: LoadTool --url U[,U2...] [--api ollama|llamacpp] [--model M] [--clients N] [--requests R]
 * [--num-predict T] [--prompt-words W] [--label L] [--out FILE.jsonl] [--warm-up true|false]
 * [--conversation off|reuse|fresh] (by default one uncounted request to each server first)
 *
 * <p>By default every prompt starts with its own number, so no server can reuse another request's prefill. With
 * {@code --conversation reuse} each client's requests are the turns of one conversation, sent raw: a turn's prompt
 * is the previous turn's prompt, the text the server answered and about W new words, so a server's prompt cache can
 * skip all but the new part (llama-server is asked to cache prompts). {@code --conversation fresh} sends prompts of
 * the same lengths that each start with their own number: the baseline in which no cache can help.
 */
public final class LoadTool {
    private static final ObjectMapper JSON = new ObjectMapper();

    record Options(List<URI> urls, String api, String model, int clients, int requests, int numPredict,
                   int promptWords, String label, Path out, boolean warmUp, Conversation conversation) {
        Options(List<URI> urls, String api, String model, int clients, int requests, int numPredict,
                int promptWords, String label, Path out, boolean warmUp) {
            this(urls, api, model, clients, requests, numPredict, promptWords, label, out, warmUp, Conversation.OFF);
        }
    }

    /** How a client's requests relate: see the class comment. */
    enum Conversation {
        OFF, REUSE, FRESH;

        /**
         * The prompt of turn {@code turn} (request {@code n} overall) of client {@code client}, given the previous
         * turn's prompt and answer (both null at turn 0).
         */
        String prompt(int client, int turn, int n, String words, String previousPrompt, String previousAnswer) {
            if (this == OFF) {
                return "Request " + n + ". " + words;
            }
            String conversation = turn == 0 ? "Conversation " + client + ". " + words
                    : previousPrompt(previousPrompt) + previousAnswer + " Turn " + turn + ". " + words;
            return this == FRESH ? "Request " + n + ". " + conversation : conversation;
        }

        /** The conversation so far, without a fresh prompt's own number. */
        private String previousPrompt(String prompt) {
            return this == FRESH ? prompt.substring(prompt.indexOf(". ") + 2) : prompt;
        }
    }

    /** One run's result. */
    /**
     * @param tokensPerSecond       every token over the whole run, from the first request sent to the last token
     * @param steadyTokensPerSecond the tokens that arrived while every client was busy, over that window: from the
     *                              moment the last client got its first token to the moment the first client got
     *                              its last; 0 when there is no such window (one request a client). A run of fixed
     *                              request counts ends with fewer and fewer clients, and the more the clients'
     *                              paces differ (on several servers), the longer that end is; this figure leaves
     *                              the start and the end out
     */
    public record Result(String label, String api, int clients, int requests, int ok, int busy, int failed,
                         long tokens, double seconds, double tokensPerSecond, double ttftP50Ms, double ttftP99Ms,
                         double itlP50Ms, double itlP99Ms, double steadyTokensPerSecond) {
        String json() {
            return String.format(Locale.ROOT, "{\"label\":\"%s\",\"api\":\"%s\",\"clients\":%d,\"requests\":%d,"
                    + "\"ok\":%d,\"busy\":%d,\"failed\":%d,\"tokens\":%d,\"seconds\":%.3f,\"tokens_per_second\":%.1f,"
                    + "\"ttft_p50_ms\":%.1f,\"ttft_p99_ms\":%.1f,\"itl_p50_ms\":%.2f,\"itl_p99_ms\":%.2f,"
                    + "\"steady_tokens_per_second\":%.1f}", label, api,
                    clients, requests, ok, busy, failed, tokens, seconds, tokensPerSecond, ttftP50Ms, ttftP99Ms,
                    itlP50Ms, itlP99Ms, steadyTokensPerSecond);
        }
    }

    /**
     * Tokens a second while every client was busy (see {@link Result#steadyTokensPerSecond}): {@code arrivals} holds
     * each stream's token arrival times, {@code firstTokens} each client's first token's, {@code lastTokens} each
     * client's last token's (nanoTime). 0 when the window is empty.
     */
    static double steadyRate(List<long[]> arrivals, long[] firstTokens, long[] lastTokens) {
        if (firstTokens.length == 0) {
            return 0;
        }
        long from = Long.MIN_VALUE;
        long to = Long.MAX_VALUE;
        for (int c = 0; c < firstTokens.length; c++) {
            if (firstTokens[c] == 0 || lastTokens[c] == 0) {
                return 0; // a client that never got a token: no window where all were busy
            }
            from = Math.max(from, firstTokens[c]);
            to = Math.min(to, lastTokens[c]);
        }
        if (to <= from) {
            return 0;
        }
        long n = 0;
        for (long[] stream : arrivals) {
            for (long t : stream) {
                if (t > from && t <= to) {
                    n++;
                }
            }
        }
        return n / ((to - from) / 1e9);
    }

    public static void main(String[] args) throws Exception {
        Options o = parse(args);
        Result r = run(o);
        System.out.println(r.json());
        if (o.out() != null) {
            Files.writeString(o.out(), r.json() + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        System.exit(r.failed() > 0 ? 1 : 0);
    }

    static Result run(Options o) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        String words = prompt(o.promptWords() - 2);
        AtomicInteger next = new AtomicInteger();
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger busy = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicLong tokens = new AtomicLong();
        List<Double> ttft = Collections.synchronizedList(new ArrayList<>());
        List<Double> itl = Collections.synchronizedList(new ArrayList<>());
        List<long[]> arrivals = Collections.synchronizedList(new ArrayList<>());
        long[] firstTokens = new long[o.clients()];
        long[] lastTokens = new long[o.clients()];
        if (o.warmUp()) {
            warmUp(http, o, words);
        }
        long start = System.nanoTime();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> clients = new ArrayList<>();
            for (int c = 0; c < o.clients(); c++) {
                int client = c;
                clients.add(pool.submit(() -> {
                    String prompt = null;
                    String answer = null;
                    for (int r = 0; r < o.requests(); r++) {
                        int n = next.getAndIncrement();
                        URI base = o.urls().get(n % o.urls().size());
                        try {
                            // by default every prompt starts with its own number: no server can reuse another
                            // request's prefill, and a router's prefix affinity sees different prompts
                            prompt = o.conversation().prompt(client, r, n, words, prompt, answer);
                            Stream s = stream(http, base, o, prompt);
                            answer = s.text.toString();
                            switch (s.status) {
                                case 200 -> {
                                    ok.incrementAndGet();
                                    tokens.addAndGet(s.tokens);
                                    if (s.ttftNanos >= 0) {
                                        ttft.add(s.ttftNanos / 1e6);
                                    }
                                    itl.addAll(s.gapsMs);
                                    long[] times = s.arrivals();
                                    arrivals.add(times);
                                    if (times.length > 0) {
                                        if (firstTokens[client] == 0) {
                                            firstTokens[client] = times[0];
                                        }
                                        lastTokens[client] = times[times.length - 1];
                                    }
                                }
                                case 503 -> busy.incrementAndGet();
                                default -> failed.incrementAndGet();
                            }
                        } catch (Exception e) {
                            failed.incrementAndGet();
                            System.err.println("request failed: " + e);
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
        return new Result(o.label(), o.api(), o.clients(), o.clients() * o.requests(), ok.get(), busy.get(),
                failed.get(), tokens.get(), seconds, tokens.get() / seconds, percentile(ttft, 50), percentile(ttft, 99),
                percentile(itl, 50), percentile(itl, 99), steadyRate(arrivals, firstTokens, lastTokens));
    }

    /**
     * One short request to every server before the clock starts, not counted: this JVM's first request paid for
     * loading its HTTP client and JSON code, which put 150 to 200 ms into the first TTFT of every level (the p99 at
     * one client) and 4% into the one-client tokens per second. Its prompt starts differently from the measured
     * ones, so no server can reuse its prefill.
     */
    static void warmUp(HttpClient http, Options o, String words) {
        Options shortRun = new Options(o.urls(), o.api(), o.model(), 1, 1, 4, o.promptWords(), o.label(), null,
                false, Conversation.OFF);
        for (URI base : o.urls()) {
            try {
                stream(http, base, shortRun, "Warm up. " + words);
            } catch (Exception e) {
                System.err.println("warm-up request to " + base + " failed: " + e);
            }
        }
    }

    /** What one streamed request measured. */
    static final class Stream {
        int status;
        long tokens;
        long ttftNanos = -1;
        final List<Double> gapsMs = new ArrayList<>();
        /** The text streamed back (a conversation's next turn repeats it). */
        final StringBuilder text = new StringBuilder();
        private long[] arrivals = new long[16]; // each token's arrival (nanoTime)
        private int arrived;

        void arrived(long now) {
            if (arrived == arrivals.length) {
                arrivals = java.util.Arrays.copyOf(arrivals, 2 * arrived);
            }
            arrivals[arrived++] = now;
        }

        long[] arrivals() {
            return java.util.Arrays.copyOf(arrivals, arrived);
        }
    }

    static Stream stream(HttpClient http, URI base, Options o, String prompt) throws Exception {
        boolean ollama = o.api().equals("ollama");
        boolean conversation = o.conversation() != Conversation.OFF;
        com.fasterxml.jackson.databind.node.ObjectNode request = ollama
                ? JSON.createObjectNode().put("model", o.model()).put("prompt", prompt).put("stream", true)
                : JSON.createObjectNode().put("prompt", prompt).put("stream", true)
                        .put("n_predict", o.numPredict()).put("ignore_eos", true).put("temperature", 0.8)
                        .put("top_k", 40).put("cache_prompt", o.conversation() == Conversation.REUSE);
        if (ollama) {
            if (conversation) {
                request.put("raw", true); // the turns' text exactly as sent, as llama-server's /completion takes it
            }
            request.set("options", JSON.createObjectNode().put("num_predict", o.numPredict()).put("ignore_eos", true)
                    .put("temperature", 0.8).put("top_k", 40));
        }
        String body = JSON.writeValueAsString(request);
        URI uri = base.resolve(ollama ? "/api/generate" : "/completion");
        long sent = System.nanoTime();
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(10))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        Stream s = new Stream();
        s.status = r.statusCode();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            if (s.status != 200) {
                in.transferTo(java.io.Writer.nullWriter());
                return s;
            }
            long last = -1;
            long counted = 0;
            long reported = -1;
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isBlank()) {
                    continue;
                }
                String payload = ollama ? line : line.startsWith("data: ") ? line.substring(6) : null;
                if (payload == null || payload.equals("[DONE]")) {
                    continue;
                }
                JsonNode n = JSON.readTree(payload);
                boolean done = ollama ? n.path("done").asBoolean() : n.path("stop").asBoolean();
                if (done) {
                    reported = ollama ? n.path("eval_count").asLong(-1) : n.path("timings").path("predicted_n").asLong(-1);
                    if (n.has("error")) {
                        s.status = 500;
                    }
                    continue;
                }
                long now = System.nanoTime();
                s.text.append(n.path(ollama ? "response" : "content").asText(""));
                if (s.ttftNanos < 0) {
                    s.ttftNanos = now - sent;
                } else {
                    s.gapsMs.add((now - last) / 1e6);
                }
                last = now;
                s.arrived(now);
                counted++;
            }
            s.tokens = reported >= 0 ? reported : counted;
        }
        return s;
    }

    static double percentile(List<Double> values, double p) {
        if (values.isEmpty()) {
            return 0;
        }
        List<Double> v;
        synchronized (values) {
            v = new ArrayList<>(values);
        }
        Collections.sort(v);
        int i = (int) Math.ceil(p / 100.0 * v.size()) - 1;
        return v.get(Math.clamp(i, 0, v.size() - 1));
    }

    /** About {@code words} words of plain text (close to as many tokens for a llama tokenizer). */
    static String prompt(int words) {
        words = Math.max(1, words);
        String[] base = ("Once upon a time there was a little girl named Lily who loved to play outside in the "
                + "park with her red ball and her friend Tom").split(" ");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words; i++) {
            sb.append(i == 0 ? "" : " ").append(base[i % base.length]);
        }
        return sb.toString();
    }

    static Options parse(String[] args) {
        List<URI> urls = List.of(URI.create("http://127.0.0.1:11434"));
        String api = "ollama";
        String model = "stories260k";
        int clients = 8;
        int requests = 4;
        int numPredict = 128;
        int promptWords = 100;
        String label = "run";
        Path out = null;
        boolean warmUp = true;
        Conversation conversation = Conversation.OFF;
        for (int i = 0; i < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--url" -> urls = java.util.Arrays.stream(v.split(",")).map(URI::create).toList();
                case "--api" -> api = v;
                case "--model" -> model = v;
                case "--clients" -> clients = Integer.parseInt(v);
                case "--requests" -> requests = Integer.parseInt(v);
                case "--num-predict" -> numPredict = Integer.parseInt(v);
                case "--prompt-words" -> promptWords = Integer.parseInt(v);
                case "--label" -> label = v;
                case "--out" -> out = Path.of(v);
                case "--warm-up" -> warmUp = Boolean.parseBoolean(v);
                case "--conversation" -> conversation = Conversation.valueOf(v.toUpperCase(Locale.ROOT));
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (!api.equals("ollama") && !api.equals("llamacpp")) {
            throw new IllegalArgumentException("--api must be ollama or llamacpp");
        }
        return new Options(urls, api, model, clients, requests, numPredict, promptWords, label, out, warmUp,
                conversation);
    }
}
