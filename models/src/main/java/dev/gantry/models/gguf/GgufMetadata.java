package dev.gantry.models.gguf;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;

/**
 * The parsed header of one GGUF file: version, key/value metadata, tensor infos, and typed accessors for
 * the keys the server reports (Ollama's {@code /api/tags} and {@code /api/show} details) and the runtime
 * sizes memory with.
 *
 * <p>Values use the Java types listed on {@link GgufValueType}. Architecture-specific keys are looked up
 * under {@code <general.architecture>.}, e.g. {@code llama.context_length}. Accessors for counts the file
 * may lack return {@link OptionalLong}: vocabulary-only files, for one, have no tensors and often no
 * context length, and a silent 0 would end up as a divisor.
 *
 * <p>Immutable and thread-safe; build one with {@link GgufReader}.
 */
public final class GgufMetadata {

    private final int version;
    private final long fileSize;
    private final long alignment;
    private final long dataOffset;
    private final Map<String, Object> kv;
    private final Map<String, GgufValueType> types;
    private final List<GgufTensorInfo> tensors;
    private final long parameterCount;

    /**
     * Creates metadata from parts already parsed; {@link GgufReader} is the usual way.
     *
     * @param kv in file order; copied
     */
    public GgufMetadata(int version, long fileSize, long alignment, long dataOffset,
                        Map<String, Object> kv, List<GgufTensorInfo> tensors) {
        this(version, fileSize, alignment, dataOffset, kv, Map.of(), tensors);
    }

    /**
     * As above, with the GGUF type each value was stored as (the Java types do not tell {@code UINT32} from
     * {@code INT64}; llama.cpp checks them, so a copy must keep them).
     */
    public GgufMetadata(int version, long fileSize, long alignment, long dataOffset,
                        Map<String, Object> kv, Map<String, GgufValueType> types, List<GgufTensorInfo> tensors) {
        this.types = Map.copyOf(types);
        this.version = version;
        this.fileSize = fileSize;
        this.alignment = alignment;
        this.dataOffset = dataOffset;
        // unmodifiable LinkedHashMap rather than Map.copyOf: keep the file's order for /api/show
        this.kv = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(kv, "kv")));
        this.tensors = List.copyOf(tensors);
        long sum = 0;
        for (GgufTensorInfo t : this.tensors) {
            sum = Math.addExact(sum, t.elementCount());
        }
        this.parameterCount = sum;
    }

    /** The type a value was stored as, when the metadata came from a file. */
    public Optional<GgufValueType> typeOf(String key) {
        return Optional.ofNullable(types.get(key));
    }

    /** GGUF format version: 2 or 3. */
    public int version() {
        return version;
    }

    /** The file's size in bytes when it was read. */
    public long fileSize() {
        return fileSize;
    }

    /** Data alignment: {@code general.alignment}, or 32. */
    public long alignment() {
        return alignment;
    }

    /** Offset of the tensor data section: the end of the header, rounded up to {@link #alignment()}. */
    public long dataOffset() {
        return dataOffset;
    }

    /** Bytes from the data offset to the end of the file (0 for a file that ends with its header). */
    public long tensorDataBytes() {
        return Math.max(0, fileSize - dataOffset);
    }

    /** All key/values, in file order. */
    public Map<String, Object> metadata() {
        return kv;
    }

    /** All tensor infos, in file order. */
    public List<GgufTensorInfo> tensors() {
        return tensors;
    }

    /** The number of tensors. */
    public int tensorCount() {
        return tensors.size();
    }

    /** The value of {@code key}, in the Java types listed on {@link GgufValueType}. */
    public Optional<Object> get(String key) {
        return Optional.ofNullable(kv.get(key));
    }

    /** The value of {@code key} if it is a string. */
    public Optional<String> getString(String key) {
        return kv.get(key) instanceof String s ? Optional.of(s) : Optional.empty();
    }

    /** The value of {@code key} if it is an integer of any width (a bool or float is not). */
    public OptionalLong getLong(String key) {
        return asLong(kv.get(key));
    }

    /** The value of {@code key} if it is a number of any type, widened to double. */
    public OptionalDouble getDouble(String key) {
        return kv.get(key) instanceof Number n ? OptionalDouble.of(n.doubleValue()) : OptionalDouble.empty();
    }

    /** The value of {@code key} if it is an array. */
    public Optional<GgufArray> getArray(String key) {
        return kv.get(key) instanceof GgufArray a ? Optional.of(a) : Optional.empty();
    }

    /** {@code general.architecture}, or {@code "unknown"} as Ollama reports a file without one. */
    public String architecture() {
        return getString("general.architecture").orElse("unknown");
    }

    /**
     * The architectures for which llama.cpp (v0.5.0, {@code llama_model::create_memory}) makes no KV cache: the
     * encoders (BERT and its kin, Gemma's embedding model), which run over a whole input at once, and diffusion and
     * audio models.
     */
    public static final java.util.Set<String> NO_KV_CACHE_ARCHITECTURES = java.util.Set.of("bert", "modern-bert",
            "nomic-bert", "nomic-bert-moe", "neo-bert", "jina-bert-v2", "jina-bert-v3", "eurobert", "gemma-embedding",
            "wavtokenizer-dec", "dream", "llada", "llada-moe", "rnd1");

    /** Whether llama.cpp keeps no KV cache for architecture {@code arch} ({@link #NO_KV_CACHE_ARCHITECTURES}). */
    public static boolean keepsNoKvCache(String arch) {
        return NO_KV_CACHE_ARCHITECTURES.contains(arch);
    }

    /** The model family Ollama reports: the architecture. */
    public String modelFamily() {
        return architecture();
    }

    /** {@code general.name}. */
    public Optional<String> name() {
        return getString("general.name");
    }

    /** {@code <arch>.context_length}: the context the model was built for. */
    public OptionalLong contextLength() {
        return archLong("context_length");
    }

    /** {@code <arch>.block_count}: the number of layers. */
    public OptionalLong blockCount() {
        return archLong("block_count");
    }

    /** {@code <arch>.embedding_length}. */
    public OptionalLong embeddingLength() {
        return archLong("embedding_length");
    }

    /** {@code <arch>.feed_forward_length} (the largest, where a model stores one per layer). */
    public OptionalLong feedForwardLength() {
        return archLong("feed_forward_length");
    }

    /** {@code <arch>.attention.head_count} (the largest, where a model stores one per layer). */
    public OptionalLong headCount() {
        return archLong("attention.head_count");
    }

    /** {@code <arch>.attention.head_count_kv}, or {@link #headCount()} when absent (no grouped-query attention). */
    public OptionalLong headCountKv() {
        OptionalLong kvHeads = archLong("attention.head_count_kv");
        return kvHeads.isPresent() ? kvHeads : headCount();
    }

    /** {@code general.file_type}: llama.cpp's {@code llama_ftype} number. */
    public OptionalLong fileType() {
        return getLong("general.file_type");
    }

    /**
     * The quantization as Ollama shows it ({@code "Q4_K_M"}, {@code "F16"}...): from {@code general.file_type}
     * when present, else the ggml type holding most elements ({@code "F32"} for the all-F32 test model; the
     * plain type such as {@code "Q4_K"} for K-quants), else {@code "unknown"}.
     */
    public String quantizationLevel() {
        OptionalLong ftype = fileType();
        if (ftype.isPresent()) {
            return Quantization.fileTypeName(ftype.getAsLong());
        }
        return Quantization.dominantTensorType(tensors);
    }

    /** {@code tokenizer.chat_template}: the Jinja chat template, if the file carries one. */
    public Optional<String> chatTemplate() {
        return getString("tokenizer.chat_template");
    }

    /** {@code tokenizer.ggml.model}: {@code llama} (SentencePiece), {@code gpt2} (BPE), {@code bert}... */
    public Optional<String> tokenizerModel() {
        return getString("tokenizer.ggml.model");
    }

    /**
     * Vocabulary size: the length of {@code tokenizer.ggml.tokens} (known even when the array was not
     * materialised), else {@code <arch>.vocab_size}, else 0.
     */
    public long vocabularySize() {
        Optional<GgufArray> tokens = getArray("tokenizer.ggml.tokens");
        if (tokens.isPresent()) {
            return tokens.get().length();
        }
        return archLong("vocab_size").orElse(0);
    }

    /** Total elements over all tensors: the model's parameter count. */
    public long parameterCount() {
        return parameterCount;
    }

    /** {@link #parameterCount()} as Ollama's {@code parameter_size}; see {@link #formatParameterCount(long)}. */
    public String parameterSizeLabel() {
        return formatParameterCount(parameterCount);
    }

    /**
     * Formats a parameter count the way Ollama's {@code format.HumanNumber} does, in decimal units:
     * at least 1e9 as billions, one decimal ({@code "8.0B"}) or none when whole ({@code "7B"}); at least
     * 1e6 as millions, two decimals ({@code "494.03M"}) or none when whole; at least 1e3 as whole thousands
     * ({@code 292800 -> "293K"}); below that the plain number. Rounding is Go's: the quotient as a double,
     * rounded half-even.
     */
    public static String formatParameterCount(long count) {
        if (count < 0) {
            throw new IllegalArgumentException("negative parameter count " + count);
        }
        if (count >= 1_000_000_000L) {
            return scaled(count, 1_000_000_000L, 1, "B");
        }
        if (count >= 1_000_000L) {
            return scaled(count, 1_000_000L, 2, "M");
        }
        if (count >= 1_000L) {
            return scaled(count, 1_000L, 0, "K");
        }
        return Long.toString(count);
    }

    private static String scaled(long count, long unit, int decimals, String suffix) {
        if (count % unit == 0) {
            return count / unit + suffix;
        }
        // Go divides in float64 and prints that double's exact value rounded half-even; new BigDecimal(double)
        // keeps the exact binary value, so the labels match Ollama's digit for digit
        java.math.BigDecimal v = new java.math.BigDecimal((double) count / unit)
                .setScale(decimals, java.math.RoundingMode.HALF_EVEN);
        return v.toPlainString() + suffix;
    }

    private OptionalLong archLong(String suffix) {
        Object v = kv.get(architecture() + "." + suffix);
        if (v instanceof GgufArray a && a.isMaterialised()) {
            // some architectures store one value per layer; the largest one is what sizing needs
            return a.elements().stream().map(GgufMetadata::asLong)
                    .filter(OptionalLong::isPresent)
                    .mapToLong(OptionalLong::getAsLong)
                    .max();
        }
        return asLong(v);
    }

    private static OptionalLong asLong(Object v) {
        return v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte
                ? OptionalLong.of(((Number) v).longValue())
                : OptionalLong.empty();
    }

    @Override
    public String toString() {
        return "GgufMetadata[v" + version + ", " + architecture() + ", " + kv.size() + " keys, "
                + tensors.size() + " tensors, " + parameterSizeLabel() + " parameters, " + quantizationLevel() + "]";
    }
}
