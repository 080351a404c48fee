package dev.gantry.runtime.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TextStreamerTest {

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Pushes {@code pieces}, checking every chunk, and returns the chunks (the flush last). */
    private static List<String> stream(TextStreamer st, List<byte[]> pieces) {
        List<String> out = new ArrayList<>();
        for (byte[] p : pieces) {
            out.add(st.push(p));
        }
        out.add(st.flush());
        return out;
    }

    private static List<byte[]> pieces(String... parts) {
        return Arrays.stream(parts).map(TextStreamerTest::utf8).toList();
    }

    /** Every way to cut {@code bytes} into consecutive non-empty pieces: bit i of mask cuts after byte i. */
    private static List<byte[]> split(byte[] bytes, int mask) {
        List<byte[]> out = new ArrayList<>();
        int from = 0;
        for (int i = 0; i < bytes.length - 1; i++) {
            if ((mask & (1 << i)) != 0) {
                out.add(Arrays.copyOfRange(bytes, from, i + 1));
                from = i + 1;
            }
        }
        out.add(Arrays.copyOfRange(bytes, from, bytes.length));
        return out;
    }

    private static void assertWhole(String chunk) {
        assertFalse(chunk.contains("\uFFFD"), "half a character was emitted: " + chunk);
        for (int i = 0; i < chunk.length(); i++) {
            char c = chunk.charAt(i);
            if (Character.isHighSurrogate(c)) {
                assertTrue(i + 1 < chunk.length() && Character.isLowSurrogate(chunk.charAt(i + 1)),
                        "a lone high surrogate in " + chunk);
                i++;
            } else {
                assertFalse(Character.isLowSurrogate(c), "a lone low surrogate in " + chunk);
            }
        }
    }

    // ------------------------------------------------------------------ UTF-8

    @ParameterizedTest
    @ValueSource(strings = {"é", "中", "😀", "aé中😀b", "😀😀", "中é", "€10 ½ 𝄞"})
    void multiByteCharactersAreNeverEmittedHalfWhateverTheSplit(String text) {
        byte[] bytes = utf8(text);
        int splits = 1 << (bytes.length - 1);
        for (int mask = 0; mask < splits; mask++) {
            List<byte[]> pieces = split(bytes, mask);
            TextStreamer st = new TextStreamer(List.of());
            StringBuilder all = new StringBuilder();
            for (byte[] p : pieces) {
                String chunk = st.push(p);
                assertWhole(chunk);
                all.append(chunk);
            }
            assertEquals(text, all.toString(), "everything is out before the flush, split " + mask);
            assertEquals("", st.flush());
        }
    }

    @Test
    void aCharacterIsReleasedWithItsLastByte() {
        byte[] emoji = utf8("😀");
        TextStreamer st = new TextStreamer(List.of());
        assertEquals("a", st.push(new byte[] {'a', emoji[0]}));
        assertEquals("", st.push(new byte[] {emoji[1]}));
        assertEquals("", st.push(new byte[] {emoji[2]}));
        assertEquals("😀b", st.push(new byte[] {emoji[3], 'b'}));
    }

    @Test
    void invalidBytesAreNeitherHeldForeverNorHang() {
        TextStreamer st = new TextStreamer(List.of());
        // stray continuation bytes and invalid leads decode with replacement characters at once
        assertEquals("\uFFFD", st.push(new byte[] {(byte) 0x80}));
        assertEquals("\uFFFDx", st.push(new byte[] {(byte) 0xFF, 'x'}));
        // a lead byte followed by ASCII: the lead cannot complete, both go out
        assertTrue(st.push(new byte[] {(byte) 0xE4}).isEmpty(), "a lone lead may still complete");
        String s = st.push(new byte[] {'y'});
        assertTrue(s.endsWith("y") && s.length() >= 2, s);
        // a long run of lead bytes never holds more than one unfinished character
        int released = 0;
        for (int i = 0; i < 1000; i++) {
            released += st.push(new byte[] {(byte) 0xF0}).length();
        }
        assertTrue(released >= 996, "held back " + (1000 - released) + " characters");
        String tail = st.flush();
        assertFalse(tail.isEmpty(), "the flush releases the unfinished bytes");
        // too many continuation bytes
        TextStreamer st2 = new TextStreamer(List.of("stop"));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            sb.append(st2.push(new byte[] {(byte) 0xE4, (byte) 0xB8, (byte) 0xAD, (byte) 0xAD}));
        }
        assertTrue(sb.toString().startsWith("中\uFFFD中"), sb.toString());
        sb.append(st2.flush());
        assertEquals("中\uFFFD".repeat(50), sb.toString());
    }

    @Test
    void anUnfinishedCharacterAtTheEndIsFlushedLeniently() {
        TextStreamer st = new TextStreamer(List.of());
        byte[] zh = utf8("中");
        assertEquals("ok", st.push(new byte[] {'o', 'k', zh[0], zh[1]}));
        assertEquals("\uFFFD", st.flush());
    }

    @Test
    void completePrefixHoldsOnlyAnUnfinishedTail() {
        byte[] b = utf8("a😀");
        assertEquals(5, TextStreamer.completePrefix(b, 5));
        assertEquals(1, TextStreamer.completePrefix(b, 4));
        assertEquals(1, TextStreamer.completePrefix(b, 3));
        assertEquals(1, TextStreamer.completePrefix(b, 2));
        assertEquals(1, TextStreamer.completePrefix(b, 1));
        assertEquals(0, TextStreamer.completePrefix(b, 0));
        byte[] c = utf8("é中");
        assertEquals(2, TextStreamer.completePrefix(c, 3));
        assertEquals(2, TextStreamer.completePrefix(c, 4));
        assertEquals(5, TextStreamer.completePrefix(c, 5));
    }

    // ------------------------------------------------------------------ stop strings

    @Test
    void aStopStringSpanningTokensIsCutExactly() {
        TextStreamer st = new TextStreamer(List.of("<|end|>"));
        assertEquals("Hello", st.push(utf8("Hello")));
        assertEquals(" ", st.push(utf8(" <|")));
        assertEquals("", st.push(utf8("en")));
        assertFalse(st.stopped());
        assertEquals("", st.push(utf8("d|> after")));
        assertTrue(st.stopped());
        assertEquals("<|end|>", st.matchedStop());
        assertEquals("", st.push(utf8("more")));
        assertEquals("", st.flush());
    }

    @Test
    void textBeforeAStopInsideOnePieceIsReleased() {
        TextStreamer st = new TextStreamer(List.of("STOP"));
        assertEquals("abc", st.push(utf8("abcSTOPdef")));
        assertTrue(st.stopped());
    }

    @Test
    void aPartialMatchThatDivergesIsReleased() {
        TextStreamer st = new TextStreamer(List.of("STOP"));
        assertEquals("a ", st.push(utf8("a ST")));
        assertEquals("", st.push(utf8("O")));
        assertEquals("STORY", st.push(utf8("RY")));
        assertFalse(st.stopped());
        // a divergence that starts a new partial match keeps only the new partial
        assertEquals("SS", st.push(utf8("SSS")));
        assertEquals("", st.push(utf8("TO")));
        assertEquals("", st.push(utf8("P")));
        assertTrue(st.stopped());
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        TextStreamer st = new TextStreamer(List.of("world", "lo w"));
        assertEquals("hel", st.push(utf8("hello world")));
        assertEquals("lo w", st.matchedStop());

        TextStreamer st2 = new TextStreamer(List.of("abcdef", "cd"));
        StringBuilder out = new StringBuilder();
        for (String p : List.of("xx", "a", "b", "c", "d", "e", "f")) {
            out.append(st2.push(utf8(p)));
        }
        assertEquals("xxab", out.toString());
        assertEquals("cd", st2.matchedStop());
    }

    @Test
    void aStopStringOfMultiByteCharactersSplitAcrossTokens() {
        byte[] bytes = utf8("答案：中文结束");
        List<String> stops = List.of("中文");
        for (int mask = 0; mask < (1 << (bytes.length - 1)); mask += 37) {
            TextStreamer st = new TextStreamer(stops);
            StringBuilder out = new StringBuilder();
            for (String chunk : stream(st, split(bytes, mask))) {
                assertWhole(chunk);
                out.append(chunk);
            }
            assertEquals("答案：", out.toString());
            assertTrue(st.stopped());
        }
    }

    @Test
    void flushReleasesAHeldPartialStop() {
        TextStreamer st = new TextStreamer(List.of("STOP"));
        assertEquals("abc ", st.push(utf8("abc ST")));
        assertEquals("ST", st.flush());
        assertFalse(st.stopped());
        assertNull(st.matchedStop());
    }

    @Test
    void withoutStopsEverythingGoesOutAtOnce() {
        TextStreamer st = new TextStreamer(List.of());
        assertEquals("S", st.push(utf8("S")));
        assertEquals("TOP", st.push(utf8("TOP")));
        assertEquals("", st.flush());
        assertFalse(st.stopped());
        // empty stop strings are ignored rather than matching everywhere
        TextStreamer empty = new TextStreamer(List.of(""));
        assertEquals("abc", empty.push(utf8("abc")));
        assertFalse(empty.stopped());
    }

    /** Random texts, stops and splits: the output is always the text up to the earliest stop, exactly. */
    @Test
    void randomTextsAndSplitsAlwaysGiveTheTextBeforeTheFirstStop() {
        Random random = new Random(42);
        String alphabet = "ab <|>é中😀";
        int[] codePoints = alphabet.codePoints().toArray();
        for (int round = 0; round < 3000; round++) {
            String text = randomString(random, codePoints, 1 + random.nextInt(30));
            List<String> stops = new ArrayList<>();
            for (int i = random.nextInt(3); i >= 0; i--) {
                stops.add(randomString(random, codePoints, 1 + random.nextInt(4)));
            }
            byte[] bytes = utf8(text);
            List<byte[]> pieces = new ArrayList<>();
            for (int from = 0; from < bytes.length; ) {
                int n = Math.min(bytes.length - from, 1 + random.nextInt(4));
                pieces.add(Arrays.copyOfRange(bytes, from, from + n));
                from += n;
            }
            TextStreamer st = new TextStreamer(stops);
            StringBuilder out = new StringBuilder();
            String expected = text;
            boolean expectStop = false;
            int consumed = 0;
            for (byte[] p : pieces) {
                String chunk = st.push(p);
                assertWhole(chunk);
                out.append(chunk);
                consumed += p.length;
                String seen = decodeWhole(bytes, consumed); // what the streamer has decoded so far
                if (!expectStop) {
                    int cut = earliestMatch(seen, stops);
                    if (cut >= 0) { // the stop fires at the first piece that completes one
                        expectStop = true;
                        expected = seen.substring(0, cut);
                    }
                }
                String context = "round " + round + ": text " + text + ", stops " + stops;
                assertEquals(expectStop, st.stopped(), context);
                assertTrue(seen.startsWith(out.toString()), context);
                for (String stop : stops) {
                    assertFalse(out.toString().contains(stop), "a stop string was sent: " + context);
                }
            }
            out.append(st.flush());
            assertEquals(expected, out.toString(), "round " + round + ": text " + text + ", stops " + stops);
        }
    }

    /** The complete characters of the first {@code n} bytes. */
    private static String decodeWhole(byte[] bytes, int n) {
        return new String(bytes, 0, TextStreamer.completePrefix(bytes, n), StandardCharsets.UTF_8);
    }

    private static int earliestMatch(CharSequence s, List<String> stops) {
        int cut = -1;
        String str = s.toString();
        for (String stop : stops) {
            int at = str.indexOf(stop);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        return cut;
    }

    private static String randomString(Random random, int[] codePoints, int length) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < length; i++) {
            sb.appendCodePoint(codePoints[random.nextInt(codePoints.length)]);
        }
        return sb.toString();
    }
}
