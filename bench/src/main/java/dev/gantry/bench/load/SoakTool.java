package dev.gantry.bench.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A soak run: mixed streaming and whole generate, chat (some with a JSON format after reasoning), scored prompts
 * and (where the server has it) embed requests from N clients
 * for a number of minutes against a running server, with the server process's resident memory, native memory
 * (Native Memory Tracking, when the server runs with {@code -XX:NativeMemoryTracking=summary}), heap after a full
 * GC and open file count sampled at the start, every few minutes, and at the end. A leak shows as a drift between
 * the first and last samples under the same load; the tool prints both and the difference.
 *
 * <p>usage: SoakTool --url U --pid PID [--model M] [--minutes N] [--clients C] [--sample-minutes S]
 * [--jcmd PATH] [--api-key K]
 */
public final class SoakTool {
    private static final ObjectMapper JSON = new ObjectMapper();

    record Options(URI url, long pid, String model, double minutes, int clients, double sampleMinutes, String jcmd,
                   String apiKey) {}

    /** One look at the server process. Negative where unknown. */
    record Sample(Instant at, long rssBytes, long nativeCommittedBytes, long heapUsedAfterGcBytes, int openFiles,
                  int threads) {
        String line() {
            return String.format(Locale.ROOT, "%s rss=%.1fMiB native=%.1fMiB heap_after_gc=%.1fMiB open_files=%d "
                    + "threads=%d", at, mib(rssBytes), mib(nativeCommittedBytes), mib(heapUsedAfterGcBytes),
                    openFiles, threads);
        }
    }

    final Options o;
    /** Replaced for the load and closed before the last sample, so its pooled connections are not counted. */
    HttpClient http = newClient();
    final Map<String, LongAdder> outcomes = new ConcurrentHashMap<>();
    final LongAdder tokens = new LongAdder();

    static HttpClient newClient() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
                .build();
    }

    SoakTool(Options o) {
        this.o = o;
    }

    public static void main(String[] args) throws Exception {
        Options o = parse(args);
        System.exit(new SoakTool(o).run() ? 0 : 1);
    }

    boolean run() throws Exception {
        boolean embed = hasEmbed();
        System.out.printf(Locale.ROOT, "soak: %s, %d clients, %.1f minutes, model %s, embed %s%n", o.url(),
                o.clients(), o.minutes(), o.model(), embed ? "on" : "off (no /api/embed)");
        warmUp();
        http.close(); // its idle keep-alive connection would be counted as the server's open file
        http = newClient();
        Thread.sleep(1000);
        Sample first = sample();
        System.out.println("start  " + first.line());
        long end = System.nanoTime() + (long) (o.minutes() * 60e9);
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < o.clients(); i++) {
            int seed = i;
            clients.add(Thread.ofVirtual().start(() -> client(seed, end, embed)));
        }
        List<Sample> samples = new ArrayList<>(List.of(first));
        long nextSample = System.nanoTime() + (long) (o.sampleMinutes() * 60e9);
        while (System.nanoTime() < end) {
            Thread.sleep(Math.max(1, Math.min(1000, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime()))));
            if (System.nanoTime() >= nextSample && System.nanoTime() < end) {
                Sample s = sample();
                samples.add(s);
                System.out.println("during " + s.line());
                nextSample += (long) (o.sampleMinutes() * 60e9);
            }
        }
        for (Thread t : clients) {
            t.join(Duration.ofMinutes(5));
        }
        http.close();
        Thread.sleep(2000); // let the server see the last connections close
        Sample last = sample();
        samples.add(last);
        System.out.println("end    " + last.line());
        System.out.printf(Locale.ROOT, "drift  rss=%+.1fMiB native=%+.1fMiB heap_after_gc=%+.1fMiB open_files=%+d "
                        + "threads=%+d%n", mib(last.rssBytes() - first.rssBytes()),
                mib(last.nativeCommittedBytes() - first.nativeCommittedBytes()),
                mib(last.heapUsedAfterGcBytes() - first.heapUsedAfterGcBytes()), last.openFiles() - first.openFiles(),
                last.threads() - first.threads());
        long total = outcomes.values().stream().mapToLong(LongAdder::sum).sum();
        System.out.printf(Locale.ROOT, "requests %d: %s; %d tokens, %.1f tokens/s%n", total, outcomes,
                tokens.sum(), tokens.sum() / (o.minutes() * 60));
        long failures = outcomes.entrySet().stream().filter(e -> e.getKey().contains("error"))
                .mapToLong(e -> e.getValue().sum()).sum();
        return failures == 0;
    }

    /** One client: a random mix of requests until the deadline. */
    void client(int seed, long end, boolean embed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        while (System.nanoTime() < end) {
            int pick = rnd.nextInt(embed ? 14 : 12);
            int predict = 16 + rnd.nextInt(112);
            String kind;
            String path;
            String body;
            if (pick < 3) {
                kind = "generate-stream";
                path = "/api/generate";
                body = "{\"model\":\"" + o.model() + "\",\"prompt\":\"Once upon a time " + rnd.nextInt(1000)
                        + "\",\"options\":{\"num_predict\":" + predict + "}}";
            } else if (pick < 5) {
                kind = "generate";
                path = "/api/generate";
                body = "{\"model\":\"" + o.model() + "\",\"prompt\":\"The little dog " + rnd.nextInt(1000)
                        + "\",\"stream\":false,\"options\":{\"num_predict\":" + predict + "}}";
            } else if (pick < 8) {
                kind = "chat-stream";
                path = "/api/chat";
                body = "{\"model\":\"" + o.model() + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a "
                        + "story about " + rnd.nextInt(1000) + " cats\"}],\"options\":{\"num_predict\":" + predict
                        + "}}";
            } else if (pick < 9) {
                // a JSON format with reasoning: the grammar held after the block (which this template opens and
                // the tiny model never closes) or from the first token of an answer that opens none
                kind = "chat-format";
                path = "/api/chat";
                String template = "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}"
                        + "{{ .Content }}{{ end }}" + (rnd.nextBoolean() ? "{{ if .Think }}<think>{{ end }}" : "");
                body = "{\"model\":\"" + o.model() + "\",\"template\":\"" + template + "\",\"think\":true,"
                        + "\"format\":\"json\",\"messages\":[{\"role\":\"user\",\"content\":\"A cat " + rnd.nextInt(1000)
                        + "\"}],\"options\":{\"num_predict\":" + predict + "}}";
            } else if (pick < 10) {
                // OpenAI's choices: a list of prompts, n of each, one event stream (some left early)
                kind = "openai-choices-stream";
                path = "/v1/completions";
                body = "{\"model\":\"" + o.model() + "\",\"prompt\":[\"Once upon a time\",\"The dog " + rnd.nextInt(1000)
                        + "\",\"A cat\"],\"n\":2,\"max_tokens\":" + predict + ",\"stream\":true,"
                        + "\"stream_options\":{\"include_usage\":true}}";
            } else if (pick < 11) {
                kind = "openai-chat-n";
                path = "/v1/chat/completions";
                body = "{\"model\":\"" + o.model() + "\",\"n\":3,\"max_tokens\":" + predict + ",\"messages\":[{\"role\":"
                        + "\"user\",\"content\":\"A story about " + rnd.nextInt(1000) + " birds\"}]}";
            } else if (pick < 12) {
                // a scored prompt (echo, logprobs, max_tokens 0 or 1), as an evaluation harness sends a question's
                // answers one after the other: a few contexts, each with one of four answers
                kind = rnd.nextBoolean() ? "openai-score-stream" : "openai-score";
                path = "/v1/completions";
                body = "{\"model\":\"" + o.model() + "\",\"prompt\":\"Question " + rnd.nextInt(8) + ": Once upon a "
                        + "time there was a little cat who lived in a big house by the river. What did the cat like? "
                        + "Answer: " + rnd.nextInt(4) + " fish\",\"echo\":true,\"logprobs\":1,\"max_tokens\":"
                        + rnd.nextInt(2) + ",\"stream\":" + kind.endsWith("stream") + "}";
            } else {
                kind = "embed";
                path = "/api/embed";
                body = "{\"model\":\"" + o.model() + "\",\"input\":[\"a cat\",\"a dog " + rnd.nextInt(1000) + "\"]}";
            }
            // a few clients leave early now and then, as real ones do
            boolean leave = kind.endsWith("stream") && rnd.nextInt(20) == 0;
            outcomes.computeIfAbsent(kind + " " + send(path, body, leave), k -> new LongAdder()).increment();
        }
    }

    String send(String path, String body, boolean leaveEarly) {
        HttpRequest.Builder b = HttpRequest.newBuilder(o.url().resolve(path)).timeout(Duration.ofMinutes(5))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (o.apiKey() != null) {
            b.header("Authorization", "Bearer " + o.apiKey());
        }
        try {
            HttpResponse<InputStream> r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = r.body();
                 BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                if (r.statusCode() != 200) {
                    in.readAllBytes();
                    return r.statusCode() == 503 ? "busy" : "error " + r.statusCode();
                }
                JsonNode last = null;
                int n = 0;
                boolean done = false; // OpenAI's event stream ended with [DONE]
                for (String line; (line = lines.readLine()) != null; ) {
                    if (line.isBlank()) {
                        continue;
                    }
                    String json = line.startsWith("data: ") ? line.substring("data: ".length()) : line;
                    if (json.equals("[DONE]")) {
                        done = true;
                        continue;
                    }
                    last = JSON.readTree(json);
                    if (leaveEarly && ++n == 5) {
                        return "left";
                    }
                }
                if (last == null || last.has("error")) {
                    return "error " + (last == null ? "empty" : last.get("error").toString());
                }
                if (path.startsWith("/v1/")) { // the whole answer, or the stream's usage chunk, carries the usage
                    tokens.add(last.path("usage").path("completion_tokens").asLong());
                    boolean streamed = body.contains("\"stream\":true");
                    return !streamed || done ? "ok" : "error incomplete";
                }
                tokens.add(last.path("eval_count").asLong());
                return last.has("embeddings") || last.path("done").asBoolean() ? "ok" : "error incomplete";
            }
        } catch (IOException e) {
            return "error " + e.getClass().getSimpleName();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "error interrupted";
        }
    }

    boolean hasEmbed() {
        String r = send("/api/embed", "{\"model\":\"" + o.model() + "\",\"input\":\"probe\"}", false);
        return r.equals("ok");
    }

    void warmUp() {
        send("/api/generate", "{\"model\":\"" + o.model() + "\",\"prompt\":\"warm up\",\"stream\":false,"
                + "\"options\":{\"num_predict\":8}}", false);
    }

    Sample sample() {
        long pid = o.pid();
        long rss = -1;
        int threads = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                } else if (line.startsWith("Threads:")) {
                    threads = Integer.parseInt(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or the process is gone
        }
        int files = -1;
        try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            files = (int) fds.count();
        } catch (IOException | RuntimeException e) {
            // no access
        }
        jcmd("GC.run");
        long heap = parse(jcmd("GC.heap_info"), "used (\\d+)K", 1024);
        long nativeCommitted = parse(jcmd("VM.native_memory summary"), "Total: reserved=\\d+KB, committed=(\\d+)KB",
                1024);
        return new Sample(Instant.now(), rss, nativeCommitted, heap, files, threads);
    }

    String jcmd(String command) {
        List<String> cmd = new ArrayList<>(List.of(o.jcmd(), Long.toString(o.pid())));
        cmd.addAll(List.of(command.split(" ")));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(60, TimeUnit.SECONDS);
            return out;
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    static long parse(String text, String regex, long unit) {
        Matcher m = Pattern.compile(regex).matcher(text);
        return m.find() ? Long.parseLong(m.group(1)) * unit : -1;
    }

    static double mib(long bytes) {
        return bytes / (double) (1L << 20);
    }

    static Options parse(String[] args) {
        URI url = URI.create("http://127.0.0.1:11434");
        long pid = -1;
        String model = "stories260k";
        double minutes = 30;
        int clients = 8;
        double sampleMinutes = 5;
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        String key = System.getenv("GANTRY_API_KEY");
        for (int i = 0; i + 1 < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--url" -> url = URI.create(v);
                case "--pid" -> pid = Long.parseLong(v);
                case "--model" -> model = v;
                case "--minutes" -> minutes = Double.parseDouble(v);
                case "--clients" -> clients = Integer.parseInt(v);
                case "--sample-minutes" -> sampleMinutes = Double.parseDouble(v);
                case "--jcmd" -> jcmd = v;
                case "--api-key" -> key = v;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (pid < 0) {
            throw new IllegalArgumentException("--pid of the server process is required (to sample its memory)");
        }
        return new Options(url, pid, model, minutes, clients, sampleMinutes, jcmd, key);
    }
}
