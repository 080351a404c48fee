package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

/**
 * Encodes the streamed (not final) NDJSON lines of {@code /api/generate} and {@code /api/chat} by hand: the part
 * that never changes within a request is encoded once, and only the timestamp and the escaped text are written
 * per token. Produces exactly what Jackson writes for {@link Responses.GenerateChunk} and
 * {@link Responses.ChatChunk} with {@code done: false} (a test holds the two equal).
 *
 * <p>Not thread-safe: one encoder per request, used on its event loop.
 */
public final class ChunkEncoder {
    private static final byte[] CREATED = bytes("\",\"created_at\":\"");
    private static final byte[] GENERATE_TEXT = bytes("Z\",\"response\":\"");
    private static final byte[] CHAT_TEXT = bytes("Z\",\"message\":{\"role\":\"assistant\",\"content\":\"");
    private static final byte[] GENERATE_END = bytes("\",\"done\":false}\n");
    private static final byte[] CHAT_END = bytes("\"},\"done\":false}\n");

    private final byte[] head;
    private final boolean chat;
    private final Clock clock = new Clock();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(160);

    public ChunkEncoder(String model, boolean chat) {
        this.head = concat(bytes("{\"model\":\""), JsonStringEncoder.getInstance().quoteAsUTF8(model), CREATED);
        this.chat = chat;
    }

    public byte[] line(String text) {
        out.reset();
        out.writeBytes(head);
        clock.writeNow(out);
        out.writeBytes(chat ? CHAT_TEXT : GENERATE_TEXT);
        out.writeBytes(JsonStringEncoder.getInstance().quoteAsUTF8(text));
        out.writeBytes(chat ? CHAT_END : GENERATE_END);
        return out.toByteArray();
    }

    /**
     * RFC 3339 UTC time with nanoseconds, like {@link Instant#toString()} (which drops trailing zero digits; this
     * keeps all nine, which RFC 3339 readers accept): the seconds part is formatted once per second.
     */
    static final class Clock {
        private long second = Long.MIN_VALUE;
        private byte[] prefix;

        void writeNow(ByteArrayOutputStream out) {
            Instant now = Instant.now();
            if (now.getEpochSecond() != second) {
                second = now.getEpochSecond();
                LocalDateTime t = LocalDateTime.ofEpochSecond(second, 0, ZoneOffset.UTC);
                prefix = bytes(String.format("%04d-%02d-%02dT%02d:%02d:%02d.", t.getYear(), t.getMonthValue(),
                        t.getDayOfMonth(), t.getHour(), t.getMinute(), t.getSecond()));
            }
            out.writeBytes(prefix);
            int nanos = now.getNano();
            byte[] digits = new byte[9];
            for (int i = 8; i >= 0; i--) {
                digits[i] = (byte) ('0' + nanos % 10);
                nanos /= 10;
            }
            out.writeBytes(digits);
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            b.writeBytes(p);
        }
        return b.toByteArray();
    }
}
