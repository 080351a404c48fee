package dev.gantry.llama;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a quantized copy of a GGUF model through {@code llama_model_quantize}: the tensors llama.cpp's rules pick
 * (weight matrices; with a K-quant mix, some at a higher type) go to the target type, the rest are copied, and the
 * metadata follows with {@code general.file_type} set to the target. Synchronous and on the CPU; it cannot be
 * interrupted once started.
 */
public final class LlamaQuantizer {
    private LlamaQuantizer() {}

    /**
     * Quantizes {@code input} to {@code output} (created or replaced).
     *
     * @param fileType the target, a {@code llama_ftype} number (2 = Q4_0, 7 = Q8_0, 15 = Q4_K_M...)
     * @param threads  CPU threads to quantize with (at least 1)
     * @throws LlamaException with llama.cpp's error lines when it fails
     */
    public static void quantize(Path input, Path output, int fileType, int threads) {
        LlamaCpp.get();
        if (!Files.isRegularFile(input)) {
            throw new LlamaException("model file not found: " + input);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads " + threads);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) Fn.llama_model_quantize_default_params.invokeExact(
                    (SegmentAllocator) arena);
            p.set(JAVA_INT, Layouts.offset(Layouts.QUANTIZE_PARAMS, "nthread"), threads);
            p.set(JAVA_INT, Layouts.offset(Layouts.QUANTIZE_PARAMS, "ftype"), fileType);
            long mark = LlamaCpp.nativeErrorCount();
            int status = (int) Fn.llama_model_quantize.invokeExact(arena.allocateFrom(input.toString()),
                    arena.allocateFrom(output.toString()), p);
            if (status != 0) {
                java.util.List<String> errors = LlamaCpp.nativeErrorsSince(mark);
                throw new LlamaException("llama_model_quantize(" + input + ") failed"
                        + (errors.isEmpty() ? "" : ": " + String.join("; ", errors)));
            }
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_model_quantize", t);
        }
    }
}
