package dev.gantry.runtime.text;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Turns token pieces into text chunks that are safe to send: never half a UTF-8 character, and never the start of a
 * stop string that may still complete. When a stop string matches, the text before it is released and the
 * streamer reports {@link #stopped()}; the stop string itself is never sent (as Ollama and llama-server do).
 *
 * <p>Not thread-safe: one request's tokens go through one streamer, in order.
 */
public final class TextStreamer {
    private final List<String> stops;
    private final int longestStop;
    private byte[] pending = new byte[16];
    private int pendingLength;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;
    private String matchedStop;

    public TextStreamer(List<String> stops) {
        this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
        this.longestStop = this.stops.stream().mapToInt(String::length).max().orElse(0);
    }

    /** Adds a token's bytes; returns the text that can be sent now (often the piece itself, sometimes ""). */
    public String push(byte[] piece) {
        if (stopped) {
            return "";
        }
        append(piece);
        int complete = completePrefix(pending, pendingLength);
        if (complete > 0) {
            held.append(new String(pending, 0, complete, StandardCharsets.UTF_8));
            System.arraycopy(pending, complete, pending, 0, pendingLength - complete);
            pendingLength -= complete;
        }
        return release(false);
    }

    /** At the end of generation: everything still held (an unfinished character decodes leniently). */
    public String flush() {
        if (stopped) {
            return "";
        }
        if (pendingLength > 0) {
            held.append(new String(pending, 0, pendingLength, StandardCharsets.UTF_8));
            pendingLength = 0;
        }
        return release(true);
    }

    public boolean stopped() {
        return stopped;
    }

    /** The stop string that ended the text, or null. */
    public String matchedStop() {
        return matchedStop;
    }

    private String release(boolean all) {
        if (longestStop == 0) {
            String out = held.toString();
            held.setLength(0);
            return out;
        }
        int cut = -1;
        for (String stop : stops) {
            int at = held.indexOf(stop);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
                matchedStop = stop;
            }
        }
        if (cut >= 0) {
            stopped = true;
            String out = held.substring(0, cut);
            held.setLength(0);
            return out;
        }
        int keep = all ? 0 : partialStopSuffix();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** The length of the longest suffix of {@code held} that is a proper prefix of some stop string. */
    private int partialStopSuffix() {
        int max = Math.min(held.length(), longestStop - 1);
        for (int n = max; n > 0; n--) {
            int from = held.length() - n;
            for (String stop : stops) {
                if (stop.length() > n && regionMatches(from, stop, n)) {
                    return n;
                }
            }
        }
        return 0;
    }

    private boolean regionMatches(int from, String stop, int n) {
        for (int i = 0; i < n; i++) {
            if (held.charAt(from + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private void append(byte[] piece) {
        if (pendingLength + piece.length > pending.length) {
            pending = java.util.Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + piece.length));
        }
        System.arraycopy(piece, 0, pending, pendingLength, piece.length);
        pendingLength += piece.length;
    }

    /**
     * How many leading bytes form whole UTF-8 characters: only a trailing, unfinished sequence (at most 3 bytes)
     * is held back. Invalid bytes are passed on (the decoder replaces them) rather than held forever.
     */
    static int completePrefix(byte[] b, int length) {
        for (int back = 1; back <= Math.min(3, length); back++) {
            int lead = b[length - back] & 0xff;
            if ((lead & 0xC0) == 0x80) {
                continue; // a continuation byte: look further back for its lead
            }
            int need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            return need > back ? length - back : length;
        }
        return length;
    }
}
