package dev.gantry.models.gguf;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Names for llama.cpp's {@code general.file_type} values ({@code enum llama_ftype}), spelled the way
 * Ollama shows them as {@code quantization_level}, and the fall-back when a file has no such key.
 *
 * <p>Stateless; thread-safe.
 */
public final class Quantization {

    /** Index = llama_ftype value; null = unused or retired number. */
    private static final String[] FTYPE_NAMES = new String[39];

    static {
        String[] names = {
            "F32", "F16", "Q4_0", "Q4_1", "Q4_1_F16", null, null, "Q8_0", "Q5_0", "Q5_1",
            "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ2_XXS",
            "IQ2_XS", "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ3_M", "IQ2_S", "IQ2_M",
            "IQ4_XS", "IQ1_M", "BF16", null, null, null, "TQ1_0", "TQ2_0", "MXFP4"
        };
        System.arraycopy(names, 0, FTYPE_NAMES, 0, names.length);
    }

    private Quantization() {
    }

    /**
     * The types {@code create} quantizes to, as llama.cpp's {@code llama-quantize} names them (the quantizations
     * that need no importance matrix), with its short names for the K-quant mixes; Ollama's {@code q4_K_M},
     * {@code q4_K_S} and {@code q8_0} among them.
     */
    private static final java.util.Map<String, Integer> TARGETS = buildTargets();

    private static java.util.Map<String, Integer> buildTargets() {
        java.util.Map<String, Integer> t = new java.util.LinkedHashMap<>();
        for (String name : new String[] {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M",
                "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "F16", "BF16", "F32"}) {
            t.put(name, java.util.Arrays.asList(FTYPE_NAMES).indexOf(name));
        }
        t.put("Q3_K", t.get("Q3_K_M"));
        t.put("Q4_K", t.get("Q4_K_M"));
        t.put("Q5_K", t.get("Q5_K_M"));
        return java.util.Collections.unmodifiableMap(t);
    }

    /** The {@code llama_ftype} a quantization name (any case) stands for, where {@code create} can quantize to it. */
    public static java.util.OptionalInt target(String name) {
        Integer ftype = TARGETS.get(name.toUpperCase(java.util.Locale.ROOT));
        return ftype == null ? java.util.OptionalInt.empty() : java.util.OptionalInt.of(ftype);
    }

    /** The names {@link #target} takes, for an error message. */
    public static java.util.Set<String> targets() {
        return TARGETS.keySet();
    }

    /** Ollama's label for a {@code general.file_type} number, or {@code "unknown"}. */
    public static String fileTypeName(long ftype) {
        // llama.cpp sets bit 10 (LLAMA_FTYPE_GUESSED) on types it guessed; the name is the same
        long base = ftype & ~1024L;
        if (base >= 0 && base < FTYPE_NAMES.length && FTYPE_NAMES[(int) base] != null) {
            return FTYPE_NAMES[(int) base];
        }
        return "unknown";
    }

    /**
     * The label for a file with no {@code general.file_type}: the ggml type holding the most elements.
     * Small tensors (norms, biases) are F32 in nearly every file, so weighting by element count lets the
     * big weight matrices decide. For K-quants this gives the plain type ("Q4_K"): the _S/_M/_L suffix
     * names a per-tensor mix that the tensors alone cannot tell apart.
     */
    static String dominantTensorType(List<GgufTensorInfo> tensors) {
        Map<GgmlType, Long> elements = new EnumMap<>(GgmlType.class);
        for (GgufTensorInfo t : tensors) {
            t.type().ifPresent(type -> elements.merge(type, t.elementCount(), Long::sum));
        }
        return elements.entrySet().stream()
                .max(Map.Entry.comparingByValue())
                .map(e -> e.getKey().name())
                .orElse("unknown");
    }
}
