package dev.gantry.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A loaded llama.cpp model ({@code llama_model *}) and its vocabulary. Owns the native model: {@link #close()}
 * frees it exactly once, and every call after that throws {@link IllegalStateException}.
 *
 * <p>Thread-safe for the read-only calls (tokenize, pieces, metadata): llama.cpp's model and vocabulary are
 * immutable after loading. Contexts made from this model must be closed before it.
 */
public final class LlamaModelHandle implements AutoCloseable {
    private final Path path;
    private final MemorySegment model;
    private final MemorySegment vocab;
    private final int vocabSize;
    private final byte[][] pieces;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final java.util.List<Adapter> adapters = new java.util.ArrayList<>();
    private volatile int[] endOfGenerationTokens;

    private LlamaModelHandle(Path path, MemorySegment model) throws Throwable {
        this.path = path;
        this.model = model;
        this.vocab = (MemorySegment) Fn.llama_model_get_vocab.invokeExact(model);
        this.vocabSize = (int) Fn.llama_vocab_n_tokens.invokeExact(vocab);
        this.pieces = new byte[vocabSize][];
    }

    /** Loads a GGUF file. Throws {@link LlamaException} with llama.cpp's last error line when it fails. */
    public static LlamaModelHandle load(Path path, ModelParams params) {
        LlamaCpp.get();
        if (!Files.isRegularFile(path)) {
            throw new LlamaException("model file not found: " + path);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) Fn.llama_model_default_params.invokeExact((java.lang.foreign.SegmentAllocator) arena);
            p.set(JAVA_INT, Layouts.offset(Layouts.MODEL_PARAMS, "n_gpu_layers"), params.gpuLayers());
            p.set(JAVA_INT, Layouts.offset(Layouts.MODEL_PARAMS, "split_mode"), params.splitMode().ordinal());
            p.set(JAVA_INT, Layouts.offset(Layouts.MODEL_PARAMS, "main_gpu"), params.mainGpu());
            // LLAMA_LOAD_MODE_AUTO (-1) maps where the backend can; NONE (0) reads the file into memory.
            p.set(JAVA_INT, Layouts.offset(Layouts.MODEL_PARAMS, "load_mode"), params.useMmap() ? -1 : 0);
            p.set(JAVA_BOOLEAN, Layouts.offset(Layouts.MODEL_PARAMS, "vocab_only"), params.vocabOnly());
            p.set(JAVA_BOOLEAN, Layouts.offset(Layouts.MODEL_PARAMS, "check_tensors"), params.checkTensors());
            if (params.tensorSplit() != null) {
                long max = LlamaCpp.get().maxDevices();
                MemorySegment split = arena.allocate(JAVA_FLOAT, max);
                float[] ts = params.tensorSplit();
                for (int i = 0; i < Math.min(ts.length, max); i++) {
                    split.setAtIndex(JAVA_FLOAT, i, ts[i]);
                }
                p.set(ADDRESS, Layouts.offset(Layouts.MODEL_PARAMS, "tensor_split"), split);
            }
            long mark = LlamaCpp.nativeErrorCount();
            MemorySegment m = (MemorySegment) Fn.llama_model_load_from_file.invokeExact(
                    arena.allocateFrom(path.toString()), p);
            if (m.equals(MemorySegment.NULL)) {
                // every error line of this load: the cause usually comes before the final "failed to load model"
                java.util.List<String> errors = LlamaCpp.nativeErrorsSince(mark);
                throw new LlamaException("llama_model_load_from_file(" + path + ") failed"
                        + (errors.isEmpty() ? LlamaCpp.lastNativeError().map(e -> ": " + e).orElse("")
                        : ": " + String.join("; ", errors)));
            }
            return new LlamaModelHandle(path, m);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_model_load_from_file", t);
        }
    }

    public Path path() {
        return path;
    }

    /** The raw {@code llama_model *}; for {@link LlamaContextHandle} and {@link LlamaSampler} only. */
    MemorySegment pointer() {
        ensureOpen();
        return model;
    }

    MemorySegment vocabPointer() {
        ensureOpen();
        return vocab;
    }

    public int vocabSize() {
        return vocabSize;
    }

    public int contextTrainLength() {
        return intCall(Fn.llama_model_n_ctx_train::invokeExact, "llama_model_n_ctx_train");
    }

    public int embeddingLength() {
        return intCall(Fn.llama_model_n_embd::invokeExact, "llama_model_n_embd");
    }

    /** Floats in one output embedding ({@code llama_model_n_embd_out}; {@code n_embd} for most models). */
    public int embeddingOutputLength() {
        return intCall(Fn.llama_model_n_embd_out::invokeExact, "llama_model_n_embd_out");
    }

    /**
     * The pooling type the GGUF asks for ({@code <arch>.pooling_type}: 0 none, 1 mean, 2 CLS, 3 last, 4 rank), or
     * -1 when it names none (generative models).
     */
    public int poolingType() {
        String arch = metadata("general.architecture").orElse("");
        try {
            return metadata(arch + ".pooling_type").map(String::strip).map(Integer::parseInt).orElse(-1);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    public int layerCount() {
        return intCall(Fn.llama_model_n_layer::invokeExact, "llama_model_n_layer");
    }

    public int headCount() {
        return intCall(Fn.llama_model_n_head::invokeExact, "llama_model_n_head");
    }

    public int headCountKv() {
        return intCall(Fn.llama_model_n_head_kv::invokeExact, "llama_model_n_head_kv");
    }

    /** Bytes of all weights. */
    public long sizeBytes() {
        try {
            return (long) Fn.llama_model_size.invokeExact(pointer());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_model_size", t);
        }
    }

    public long parameterCount() {
        try {
            return (long) Fn.llama_model_n_params.invokeExact(pointer());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_model_n_params", t);
        }
    }

    public boolean hasEncoder() {
        try {
            return (boolean) Fn.llama_model_has_encoder.invokeExact(pointer());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_model_has_encoder", t);
        }
    }

    /**
     * Whether the model keeps a recurrent state per sequence (alone or beside a KV cache): such a state cannot be
     * cut back to an earlier position.
     */
    public boolean hasRecurrentState() {
        try {
            return (boolean) Fn.llama_model_is_recurrent.invokeExact(pointer())
                    || (boolean) Fn.llama_model_is_hybrid.invokeExact(pointer());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_model_is_recurrent", t);
        }
    }

    public String description() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            int n = (int) Fn.llama_model_desc.invokeExact(pointer(), buf, 256L);
            return n < 0 ? "" : buf.getString(0);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_model_desc", t);
        }
    }

    /** A GGUF metadata value as a string, as llama.cpp holds it. */
    public Optional<String> metadata(String key) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocateFrom(key);
            int n = (int) Fn.llama_model_meta_val_str.invokeExact(pointer(), k, MemorySegment.NULL, 0L);
            if (n < 0) {
                return Optional.empty();
            }
            MemorySegment buf = arena.allocate(n + 1L);
            int m = (int) Fn.llama_model_meta_val_str.invokeExact(pointer(), k, buf, n + 1L);
            return m < 0 ? Optional.empty() : Optional.of(buf.getString(0));
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_model_meta_val_str", t);
        }
    }

    /** The model's default chat template ({@code tokenizer.chat_template}), if it has one. */
    public Optional<String> chatTemplate() {
        try {
            MemorySegment s = (MemorySegment) Fn.llama_model_chat_template.invokeExact(pointer(), MemorySegment.NULL);
            return s.equals(MemorySegment.NULL) ? Optional.empty() : Optional.of(NativeStrings.read(s));
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_model_chat_template", t);
        }
    }

    public int bos() {
        return intCall(v -> (int) Fn.llama_vocab_bos.invokeExact(v), "llama_vocab_bos", true);
    }

    /** The sentence separator token ({@code [SEP]} in BERT's vocabulary), or -1. */
    public int sep() {
        return intCall(v -> (int) Fn.llama_vocab_sep.invokeExact(v), "llama_vocab_sep", true);
    }

    /** Whether the tokenizer puts a BOS before a text it tokenizes with its special tokens. */
    public boolean addsBos() {
        return vocabFlag(Fn.llama_vocab_get_add_bos, "llama_vocab_get_add_bos");
    }

    /** Whether the tokenizer puts an EOS after a text it tokenizes with its special tokens. */
    public boolean addsEos() {
        return vocabFlag(Fn.llama_vocab_get_add_eos, "llama_vocab_get_add_eos");
    }

    /** Whether the tokenizer puts a separator after a text of a pair (BERT's [SEP]). */
    public boolean addsSep() {
        return vocabFlag(Fn.llama_vocab_get_add_sep, "llama_vocab_get_add_sep");
    }

    /** A yes-or-no property of the vocabulary, {@code llama_vocab_get_*}. */
    private boolean vocabFlag(java.lang.invoke.MethodHandle h, String name) {
        try {
            return (boolean) h.invokeExact(vocabPointer());
        } catch (Throwable t) {
            throw NativeStrings.rethrow(name, t);
        }
    }

    /**
     * The outputs of the model's classifier head ({@code llama_model_n_cls_out}): what a reranker's rank pooling gives
     * a sequence (its score first), 1 where the GGUF names no labels.
     */
    public int classifierOutputs() {
        return intCall(Fn.llama_model_n_cls_out::invokeExact, "llama_model_n_cls_out");
    }

    /** A named template of the model's ({@code tokenizer.chat_template.NAME}), such as a reranker's {@code rerank}. */
    public Optional<String> namedTemplate(String name) {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment s = (MemorySegment) Fn.llama_model_chat_template.invokeExact(pointer(),
                    arena.allocateFrom(name));
            return s.equals(MemorySegment.NULL) ? Optional.empty() : Optional.of(NativeStrings.read(s));
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_model_chat_template", t);
        }
    }

    public int eos() {
        return intCall(v -> (int) Fn.llama_vocab_eos.invokeExact(v), "llama_vocab_eos", true);
    }

    /** True for end-of-generation tokens (EOS, EOT and the model's other stop tokens). */
    public boolean isEndOfGeneration(int token) {
        try {
            return (boolean) Fn.llama_vocab_is_eog.invokeExact(vocabPointer(), token);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_vocab_is_eog", t);
        }
    }

    /** Every end-of-generation token of the vocabulary (computed once). */
    public int[] endOfGenerationTokens() {
        int[] eog = endOfGenerationTokens;
        if (eog == null) {
            eog = java.util.stream.IntStream.range(0, vocabSize).filter(this::isEndOfGeneration).toArray();
            endOfGenerationTokens = eog;
        }
        return eog;
    }

    /**
     * Tokenizes UTF-8 text.
     *
     * @param addSpecial   add BOS/EOS as the model's vocabulary asks
     * @param parseSpecial treat special-token text (such as {@code <|eot_id|>}) as those tokens
     */
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(Math.max(1, utf8.length));
            MemorySegment.copy(utf8, 0, in, JAVA_BYTE, 0, utf8.length);
            int cap = utf8.length + 2;
            MemorySegment out = arena.allocate(JAVA_INT, cap);
            int n = (int) Fn.llama_tokenize.invokeExact(vocabPointer(), in, utf8.length, out, cap, addSpecial, parseSpecial);
            if (n == Integer.MIN_VALUE) {
                throw new LlamaException("llama_tokenize overflowed for a text of " + utf8.length + " bytes");
            }
            if (n < 0) {
                cap = -n;
                out = arena.allocate(JAVA_INT, cap);
                n = (int) Fn.llama_tokenize.invokeExact(vocabPointer(), in, utf8.length, out, cap, addSpecial, parseSpecial);
                if (n < 0) {
                    throw new LlamaException("llama_tokenize returned " + n + " for a text of " + utf8.length + " bytes");
                }
            }
            return out.asSlice(0, (long) n * Integer.BYTES).toArray(JAVA_INT);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_tokenize", t);
        }
    }

    /**
     * The text of a token sequence, as llama.cpp writes it back: with {@code removeSpecial} a leading BOS and a
     * trailing EOS are dropped, and so is the space the tokenizer puts before the first word (so that tokenizing the
     * text again gives the same tokens); with {@code unparseSpecial} special tokens are written as their text.
     */
    public String detokenize(int[] tokens, boolean removeSpecial, boolean unparseSpecial) {
        for (int t : tokens) {
            if (t < 0 || t >= vocabSize) {
                throw new IllegalArgumentException("token " + t + " outside the vocabulary of " + vocabSize);
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(JAVA_INT, Math.max(1, tokens.length));
            MemorySegment.copy(tokens, 0, in, JAVA_INT, 0, tokens.length);
            int cap = Math.max(16, tokens.length * 8);
            MemorySegment out = arena.allocate(cap);
            int n = (int) Fn.llama_detokenize.invokeExact(vocabPointer(), in, tokens.length, out, cap, removeSpecial,
                    unparseSpecial);
            if (n < 0) {
                cap = -n;
                out = arena.allocate(cap);
                n = (int) Fn.llama_detokenize.invokeExact(vocabPointer(), in, tokens.length, out, cap, removeSpecial,
                        unparseSpecial);
                if (n < 0) {
                    throw new LlamaException("llama_detokenize returned " + n + " for " + tokens.length + " tokens");
                }
            }
            return new String(out.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_detokenize", t);
        }
    }

    /**
     * The bytes one token stands for when it is generated (special tokens render as nothing). Pieces are cached,
     * so after the first use of a token this is a plain array read. A piece may be part of a UTF-8 character:
     * the caller joins pieces before decoding text.
     */
    public byte[] piece(int token) {
        if (token < 0 || token >= vocabSize) {
            throw new IllegalArgumentException("token " + token + " outside the vocabulary of " + vocabSize);
        }
        byte[] p = pieces[token];
        if (p == null) {
            p = computePiece(token);
            pieces[token] = p; // a benign race: every thread computes the same bytes
        }
        return p;
    }

    /**
     * The text of one token as the vocabulary spells it, special tokens included ({@code <|begin_of_text|>}):
     * what a chat template's {@code bos_token} stands for. Empty for a token outside the vocabulary.
     */
    public String tokenText(int token) {
        if (token < 0 || token >= vocabSize) {
            return "";
        }
        try (Arena arena = Arena.ofConfined()) {
            int cap = 256;
            MemorySegment buf = arena.allocate(cap);
            int n = (int) Fn.llama_token_to_piece.invokeExact(vocabPointer(), token, buf, cap, 0, true);
            return n <= 0 ? "" : new String(buf.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_token_to_piece", t);
        }
    }

    private byte[] computePiece(int token) {
        try (Arena arena = Arena.ofConfined()) {
            int cap = 64;
            MemorySegment buf = arena.allocate(cap);
            int n = (int) Fn.llama_token_to_piece.invokeExact(vocabPointer(), token, buf, cap, 0, false);
            if (n < 0) {
                cap = -n;
                buf = arena.allocate(cap);
                n = (int) Fn.llama_token_to_piece.invokeExact(vocabPointer(), token, buf, cap, 0, false);
            }
            if (n < 0) {
                throw new LlamaException("llama_token_to_piece(" + token + ") returned " + n);
            }
            if (n == 0 && RENDERED_CONTROL_TOKENS.contains(tokenText(token))) {
                return tokenText(token).getBytes(StandardCharsets.UTF_8);
            }
            return buf.asSlice(0, n).toArray(JAVA_BYTE);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_token_to_piece", t);
        }
    }

    /**
     * Control tokens rendered in the output all the same (llama.cpp renders no control token there): the markers of
     * Command R7B's and Command A's reasoning, tool calls and answer, which the chat's parser reads (the models module's
     * {@code CommandParser}), as llama.cpp itself renders gpt-oss's channel markers.
     */
    public static final java.util.Set<String> RENDERED_CONTROL_TOKENS = java.util.Set.of("<|START_THINKING|>",
            "<|END_THINKING|>", "<|START_ACTION|>", "<|END_ACTION|>", "<|START_RESPONSE|>", "<|END_RESPONSE|>");

    /**
     * Applies one of llama.cpp's built-in chat templates (chosen by matching {@code template}, which may be the
     * Jinja text or a name such as {@code chatml}). Throws {@link LlamaException} when llama.cpp does not know it.
     */
    public static String applyChatTemplate(String template, List<ChatMessage> messages, boolean addAssistant) {
        LlamaCpp.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment chat = arena.allocate(Layouts.CHAT_MESSAGE, Math.max(1, messages.size()));
            long total = 0;
            for (int i = 0; i < messages.size(); i++) {
                ChatMessage m = messages.get(i);
                MemorySegment slot = chat.asSlice(i * Layouts.CHAT_MESSAGE.byteSize(), Layouts.CHAT_MESSAGE.byteSize());
                slot.set(ADDRESS, 0, arena.allocateFrom(m.role()));
                slot.set(ADDRESS, ADDRESS.byteSize(), arena.allocateFrom(m.content()));
                total += m.role().length() + m.content().getBytes(StandardCharsets.UTF_8).length;
            }
            MemorySegment tmpl = template == null ? MemorySegment.NULL : arena.allocateFrom(template);
            int cap = (int) Math.min(Integer.MAX_VALUE - 1, 2 * total + 256);
            MemorySegment buf = arena.allocate(cap + 1L);
            int n = (int) Fn.llama_chat_apply_template.invokeExact(tmpl, chat, (long) messages.size(), addAssistant, buf, cap);
            if (n < 0) {
                throw new LlamaException("llama.cpp has no built-in chat template matching this model's template");
            }
            if (n > cap) {
                cap = n;
                buf = arena.allocate(cap + 1L);
                n = (int) Fn.llama_chat_apply_template.invokeExact(tmpl, chat, (long) messages.size(), addAssistant, buf, cap);
            }
            return new String(buf.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_chat_apply_template", t);
        }
    }

    /**
     * Loads a LoRA adapter (a GGUF of {@code general.type} adapter for this model's architecture and shapes) that every
     * context created from this model afterwards applies at {@code scale} (1 as Ollama applies its adapters). llama.cpp
     * frees it with the model. Throws {@link LlamaException} with llama.cpp's reason when it refuses the file.
     */
    public synchronized void addAdapter(Path file, float scale) {
        ensureOpen();
        if (!Files.isRegularFile(file)) {
            throw new LlamaException("adapter file not found: " + file);
        }
        try (Arena arena = Arena.ofConfined()) {
            long mark = LlamaCpp.nativeErrorCount();
            MemorySegment a = (MemorySegment) Fn.llama_adapter_lora_init.invokeExact(model,
                    arena.allocateFrom(file.toString()));
            if (a.equals(MemorySegment.NULL)) {
                java.util.List<String> errors = LlamaCpp.nativeErrorsSince(mark);
                throw new LlamaException("llama_adapter_lora_init(" + file + ") failed"
                        + (errors.isEmpty() ? "" : ": " + String.join("; ", errors)));
            }
            adapters.add(new Adapter(a, scale));
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_adapter_lora_init", t);
        }
    }

    /** The adapters {@link #addAdapter} loaded, in order. */
    synchronized java.util.List<Adapter> adapters() {
        return java.util.List.copyOf(adapters);
    }

    /** A loaded LoRA adapter and the scale contexts apply it at. */
    record Adapter(MemorySegment pointer, float scale) {}

    /** One message for {@link #applyChatTemplate}. */
    public record ChatMessage(String role, String content) {}

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                Fn.llama_model_free.invokeExact(model);
            } catch (Throwable t) {
                throw NativeStrings.rethrow("llama_model_free", t);
            }
        }
    }

    public boolean isClosed() {
        return closed.get();
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("model " + path + " is closed");
        }
    }

    @FunctionalInterface
    private interface IntCall {
        int call(MemorySegment p) throws Throwable;
    }

    private int intCall(IntCall c, String name) {
        return intCall(c, name, false);
    }

    private int intCall(IntCall c, String name, boolean onVocab) {
        try {
            return c.call(onVocab ? vocabPointer() : pointer());
        } catch (Throwable t) {
            throw NativeStrings.rethrow(name, t);
        }
    }

    @Override
    public String toString() {
        return "LlamaModelHandle[" + path + (closed.get() ? ", closed" : "") + "]";
    }
}
