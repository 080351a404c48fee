package dev.gantry.server.api.ollama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/** An input cut to the context keeps the special tokens its tokenizer put around it, as Ollama's cut does. */
class EmbedTruncateTest {
    @Test
    void bertKeepsItsClsAndSep() {
        int[] with = {101, 5, 6, 7, 8, 9, 102};
        int[] plain = {5, 6, 7, 8, 9};
        assertArrayEquals(new int[] {101, 5, 6, 102}, EmbedHandlers.truncate(with, plain, 4));
    }

    @Test
    void aLlamaTokenizerKeepsItsBos() {
        int[] with = {1, 5, 6, 7, 8};
        int[] plain = {5, 6, 7, 8};
        assertArrayEquals(new int[] {1, 5, 6}, EmbedHandlers.truncate(with, plain, 3));
    }

    @Test
    void withoutSpecialTokensItIsThePlainCut() {
        int[] t = {5, 6, 7, 8};
        assertArrayEquals(new int[] {5, 6}, EmbedHandlers.truncate(t, t, 2));
    }

    @Test
    void aContextTooSmallForTheSpecialsIsThePlainCut() {
        int[] with = {101, 5, 6, 102};
        assertArrayEquals(new int[] {101, 5}, EmbedHandlers.truncate(with, new int[] {5, 6}, 2));
    }
}
