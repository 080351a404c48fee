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
 * metadata follows with {@code general.file_type} set to the target. Synchronous and on the CPU; llama.cpp's call
 * cannot be interrupted once started, so a server runs it in a process of its own ({@link #main}), which it can stop,
 * and whose abort on a malformed file ends only that process.
 */
public final class LlamaQuantizer {
    private LlamaQuantizer() {}

    /** What {@link #main} prints before llama.cpp's refusal, the line a caller reads as the reason. */
    public static final String REFUSED = "gantry-quantize-refused: ";
    /** {@link #main}'s exit status when llama.cpp refused the file (1 is any other failure). */
    public static final int EXIT_REFUSED = 3;

    /**
     * Quantizes in this process and exits: {@code LIBRARY_DIR INPUT OUTPUT FILE_TYPE THREADS}, llama.cpp loaded from
     * {@code LIBRARY_DIR} (the folder the calling server loaded it from). Exits 0 when done, {@link #EXIT_REFUSED}
     * after a {@link #REFUSED} line when llama.cpp refused the file, 1 on any other failure.
     */
    public static void main(String[] args) {
        if (args.length != 5) {
            System.err.println("usage: LlamaQuantizer LIBRARY_DIR INPUT OUTPUT FILE_TYPE THREADS");
            System.exit(2);
        }
        try {
            Path lib = Path.of(args[0]);
            LlamaCpp.initialize(java.util.Optional.of(lib), Path.of(System.getProperty("java.io.tmpdir"), "gantry"));
            quantize(Path.of(args[1]), Path.of(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]));
            System.exit(0);
        } catch (LlamaException e) {
            System.out.println(REFUSED + e.getMessage().replace('\n', ' '));
            System.exit(EXIT_REFUSED);
        } catch (Throwable t) {
            t.printStackTrace();
            System.exit(1);
        }
    }

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
