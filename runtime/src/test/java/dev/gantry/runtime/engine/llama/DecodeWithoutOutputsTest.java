package dev.gantry.runtime.engine.llama;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.gantry.llama.ContextParams;
import dev.gantry.llama.LlamaBatch;
import dev.gantry.llama.LlamaContextHandle;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/**
 * What prompts decoded ahead rest on (LlamaCppSession#decodesAhead): a decode whose tokens make no output leaves
 * the rows of the decode before it where they are, with the same values, so the host may sample them while the
 * device runs it. Checked against the pinned llama.cpp itself, so an upgrade that changes it fails here.
 */
class DecodeWithoutOutputsTest extends TinyEngineTestBase {

    @Test
    void aDecodeWithoutOutputsLeavesTheLastDecodesRowsInPlace() {
        check(engine, model, new ContextParams(4 * 256, 256, 256, 4, 1, 1, 0, 1, false, false, false, -1));
    }

    /**
     * Two sequences decode with an output each; a decode of a third's prompt and the second's rest without outputs
     * follows; the two rows located before it hold what they held, and the decode after it outputs as usual.
     */
    static void check(dev.gantry.runtime.engine.Engine engine, dev.gantry.llama.LlamaModelHandle model,
                      ContextParams params) {
        int[] first = engine.tokenize("Once upon a time there was a little girl", true, false);
        int[] second = engine.tokenize("The cat sat on the mat and looked at the big red ball", true, false);
        try (LlamaContextHandle ctx = LlamaContextHandle.create(model, params);
             LlamaBatch batch = LlamaBatch.allocate(256)) {
            int[] outputs = new int[2];
            for (int i = 0; i < first.length; i++) {
                outputs[0] = batch.add(first[i], i, 0, i == first.length - 1);
            }
            for (int i = 0; i < 4; i++) {
                outputs[1] = batch.add(second[i], i, 1, i == 3);
            }
            assertEquals(0, ctx.decode(batch));
            MemorySegment[] rows = {ctx.logits(outputs[0]), ctx.logits(outputs[1])};
            float[][] before = {rows[0].toArray(JAVA_FLOAT), rows[1].toArray(JAVA_FLOAT)};
            assertFalse(java.util.Arrays.equals(before[0], before[1]), "two different rows");
            batch.clear();
            for (int i = 0; i < second.length; i++) {
                batch.add(second[i], i, 2, false);
            }
            for (int i = 4; i < second.length - 1; i++) {
                batch.add(second[i], i, 1, false);
            }
            assertEquals(0, ctx.decode(batch));
            ctx.synchronize();
            for (int r = 0; r < rows.length; r++) {
                assertArrayEquals(before[r], rows[r].toArray(JAVA_FLOAT), "row " + r + " changed");
            }
            batch.clear();
            int last = batch.add(second[second.length - 1], second.length - 1, 1, true);
            assertEquals(0, ctx.decode(batch));
            assertEquals(before[0].length, ctx.logits(last).toArray(JAVA_FLOAT).length);
        }
    }
}
