package dev.gantry.runtime.engine.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The forward passes llama.cpp's sequential equal split makes of a batch, from each token's sequence id. */
class MicroBatchesTest {
    static Stream<Arguments> batches() {
        return Stream.of(
                Arguments.of("one token of each of a run of ids", new int[] {0, 1, 2, 3}, 512, 1),
                Arguments.of("a gap splits the run", new int[] {0, 1, 3, 4}, 512, 2),
                Arguments.of("two gaps", new int[] {0, 2, 4}, 512, 3),
                Arguments.of("ids out of order: a run only grows upwards", new int[] {2, 0, 1}, 512, 2),
                Arguments.of("a prompt's rest after one token of each", new int[] {0, 1, 2, 3, 1, 1, 1}, 512, 2),
                // the second pass takes seqs 1 and 2 two tokens each, the third seq 1's last
                Arguments.of("two prompts' rests of different lengths", new int[] {0, 1, 2, 3, 1, 1, 1, 2, 2}, 512, 3),
                Arguments.of("two prompts' rests of one length", new int[] {0, 1, 2, 1, 1, 2, 2}, 512, 2),
                Arguments.of("rests of non-adjacent ids", new int[] {0, 1, 2, 0, 0, 2, 2}, 512, 3),
                Arguments.of("the pass's token limit cuts a run", new int[] {0, 1, 2, 3}, 2, 2),
                Arguments.of("the limit cuts one sequence's tokens", new int[] {5, 5, 5, 5, 5}, 2, 3),
                Arguments.of("an empty batch", new int[] {}, 512, 0));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("batches")
    void countsThePasses(String name, int[] sequenceOf, int maxTokens, int passes) {
        assertEquals(passes, new MicroBatches().count(sequenceOf, sequenceOf.length, maxTokens));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("batches")
    void anInstanceCanBeReusedForBatchesOfAnySize(String name, int[] sequenceOf, int maxTokens, int passes) {
        MicroBatches m = new MicroBatches();
        m.count(new int[] {0, 3, 1, 7, 7, 2, 9, 9, 9, 9, 4}, 11, 512);
        assertEquals(passes, m.count(sequenceOf, sequenceOf.length, maxTokens));
    }
}
