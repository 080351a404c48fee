package dev.gantry.bench.jmh;

import dev.gantry.llama.LlamaBatch;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.TokenRelay;
import dev.gantry.runtime.text.TextStreamer;
import dev.gantry.server.api.ollama.ChunkEncoder;
import dev.gantry.server.api.ollama.Responses;
import dev.gantry.server.http.Json;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The Java work Gantry does for each generated token, piece by piece: adding it to the next batch, handing it from
 * the runner to the connection's thread, detokenizing it past stop strings, and encoding its NDJSON line. Each
 * result is per token. The target is under 5 µs of Java work per generated token per core.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class HotPathBench {
    static final int SEQUENCES = 64;
    static final byte[][] PIECES = {bytes(" Once"), bytes(" upon"), bytes(" a"), bytes(" time"), bytes(","),
            bytes(" there"), bytes(" was"), bytes(" a"), bytes(" little"), bytes(" girl")};

    LlamaBatch batch;
    ChunkEncoder encoder;
    TextStreamer streamer;
    TokenRelay relay;
    int next;
    Blackhole sink;

    @Setup(Level.Trial)
    public void setUp(Blackhole bh) {
        sink = bh;
        batch = LlamaBatch.allocate(SEQUENCES + 512);
        streamer = new TextStreamer(List.of("</s>", "\nUser:"));
        encoder = new ChunkEncoder("stories260k", false);
        ChunkEncoder relayEncoder = new ChunkEncoder("stories260k", false);
        // A relay on a same-thread executor whose sink encodes each chunk as Gantry writes it.
        relay = new TokenRelay(Runnable::run, t -> PIECES[t % PIECES.length], List.of("</s>", "\nUser:"),
                new TokenRelay.Sink() {
                    @Override
                    public void onText(String text) {
                        sink.consume(relayEncoder.line(text));
                    }

                    @Override
                    public void onDone(FinishReason reason, GenerationMetrics metrics) {}

                    @Override
                    public void onError(Throwable error) {}
                });
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        batch.close();
    }

    /** One decode step's batch for 64 generating sequences; per token. */
    @Benchmark
    @OperationsPerInvocation(SEQUENCES)
    public int batchAssembly() {
        batch.clear();
        int last = 0;
        for (int s = 0; s < SEQUENCES; s++) {
            last = batch.add(next++ & 511, 100 + s, s, true);
        }
        return last;
    }

    /** UTF-8-safe chunking past two stop strings. */
    @Benchmark
    public String detokenize() {
        return streamer.push(PIECES[next++ % PIECES.length]);
    }

    /** One streamed NDJSON line of {@code /api/generate} as Gantry writes it, timestamp included. */
    @Benchmark
    public byte[] ndjsonLine() {
        return encoder.line(" time");
    }

    /** The same line through Jackson and {@code Instant.toString()}, for comparison. */
    @Benchmark
    public byte[] ndjsonLineJackson() {
        return Json.line(new Responses.GenerateChunk("stories260k", Instant.now().toString(), " time", null, false,
                null, null, null, null, null, null, null, null, null));
    }

    /** The whole hand-off: relay from the runner, detokenize, cut at stops, encode the line. */
    @Benchmark
    public void tokenHandoffToWriter() {
        relay.onToken(next++);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
