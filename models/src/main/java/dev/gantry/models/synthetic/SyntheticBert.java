package dev.gantry.models.synthetic;

import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.gguf.GgufValueType;
import dev.gantry.models.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Writes BERT-architecture embedding models (llama.cpp's {@code bert}: learned positions, biased projections, post-norm
 * blocks, GELU feed-forward, non-causal attention) with random weights in real models' shapes, the tokenizer copied
 * from a WordPiece vocabulary GGUF (llama.cpp's {@code ggml-vocab-bert-bge.gguf}). Such a model has a pooling type,
 * so Ollama and Gantry treat it as embedding-only, as they do {@code mxbai-embed-large} or {@code all-minilm}.
 *
 * <p>With rank pooling the model is a reranker (as {@code bge-reranker} is): a classifier head over [CLS] gives a
 * query-document pair one score.
 *
 * <p>usage: SyntheticBert SHAPE VOCAB.gguf OUT.gguf [F16|F32] [mean|cls|rank], SHAPE one of {@code tiny},
 * {@code bge-base}, {@code mxbai-embed-large} (bert), {@code nomic-tiny}, {@code nomic-embed-text} (nomic-bert).
 */
public final class SyntheticBert {
    /**
     * The hyper-parameters of a BERT encoder; {@code architecture} {@code bert} (learned positions, biases, GELU) or
     * {@code nomic-bert} (rotary positions, one fused QKV projection, a gated SiLU feed-forward, no biases).
     */
    public record Shape(String name, int embedding, int layers, int heads, int feedForward, int contextLength,
                        String architecture) {
        public Shape(String name, int embedding, int layers, int heads, int feedForward, int contextLength) {
            this(name, embedding, layers, heads, feedForward, contextLength, "bert");
        }
    }

    public static final Shape TINY = new Shape("tiny", 64, 2, 4, 256, 512);
    /** bge-base-en-v1.5's shape. */
    public static final Shape BGE_BASE = new Shape("bge-base", 768, 12, 12, 3072, 512);
    /** mxbai-embed-large's shape (a BERT-large encoder), one of Ollama's most pulled embedding models. */
    public static final Shape MXBAI_EMBED_LARGE = new Shape("mxbai-embed-large", 1024, 24, 16, 4096, 512);
    /** A small nomic-bert, with nomic-embed-text's context of 2048. */
    public static final Shape NOMIC_TINY = new Shape("nomic-tiny", 64, 2, 4, 256, 2048, "nomic-bert");
    /** nomic-embed-text's shape, Ollama's most pulled embedding model. */
    public static final Shape NOMIC_EMBED_TEXT = new Shape("nomic-embed-text", 768, 12, 12, 3072, 2048, "nomic-bert");

    /** llama.cpp's {@code enum llama_pooling_type} values a BERT model names. */
    public static final int POOLING_MEAN = 1;
    public static final int POOLING_CLS = 2;
    /** A reranker's: the [CLS] token through a classifier head ({@code cls}, tanh, {@code cls.output}) to one score. */
    public static final int POOLING_RANK = 4;

    private SyntheticBert() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: SyntheticBert tiny|bge-base|mxbai-embed-large|nomic-tiny|nomic-embed-text "
                    + "VOCAB.gguf OUT.gguf [F16|F32] [mean|cls|rank]");
            System.exit(2);
        }
        Shape shape = shape(args[0]);
        GgmlType type = GgmlType.valueOf(args.length > 3 ? args[3].toUpperCase(Locale.ROOT) : "F16");
        int pooling = args.length < 5 ? POOLING_MEAN : switch (args[4]) {
            case "cls" -> POOLING_CLS;
            case "rank" -> POOLING_RANK;
            default -> POOLING_MEAN;
        };
        long start = System.nanoTime();
        long bytes = write(shape, Path.of(args[1]), Path.of(args[2]), type, pooling);
        System.out.printf(Locale.ROOT, "wrote %s (%s %s, %d layers, %s): %.1f MiB in %.1f s%n", args[2],
                shape.architecture(), shape.name(), shape.layers(), type, bytes / (double) (1L << 20),
                (System.nanoTime() - start) / 1e9);
    }

    public static Shape shape(String name) {
        return switch (name) {
            case "tiny" -> TINY;
            case "bge-base" -> BGE_BASE;
            case "mxbai-embed-large" -> MXBAI_EMBED_LARGE;
            case "nomic-tiny" -> NOMIC_TINY;
            case "nomic-embed-text" -> NOMIC_EMBED_TEXT;
            default -> throw new IllegalArgumentException("unknown BERT shape " + name);
        };
    }

    /**
     * Writes the model; {@code pooling} is {@link #POOLING_MEAN}, {@link #POOLING_CLS} or {@link #POOLING_RANK} (with
     * a classifier head: {@code cls} of embedding by embedding, {@code cls.output} to one score). Matrices and
     * embeddings
     * are random of {@code type} (F16 or F32), the norms' weights ones, every bias zero. Returns the file's size.
     */
    public static long write(Shape s, Path vocab, Path out, GgmlType type, int pooling) throws IOException {
        if (type != GgmlType.F16 && type != GgmlType.F32) {
            throw new IllegalArgumentException("synthetic BERT models are F16 or F32, not " + type);
        }
        GgufMetadata v = new GgufReader(Integer.MAX_VALUE).read(vocab);
        if (!"bert".equals(v.getString("tokenizer.ggml.model").orElse(""))) {
            throw new IllegalArgumentException(vocab + " has no WordPiece (bert) tokenizer");
        }
        long nVocab = v.vocabularySize();
        long typeCount = v.get("tokenizer.ggml.token_type_count").map(x -> ((Number) x).longValue()).orElse(2L);
        String a = s.architecture();
        boolean nomic = a.equals("nomic-bert");
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", a)
                .putString("general.name", "synthetic " + a + " " + s.name() + " " + type)
                .putU32("general.file_type", type == GgmlType.F16 ? 1 : 0)
                .putU32(a + ".context_length", s.contextLength())
                .putU32(a + ".embedding_length", s.embedding())
                .putU32(a + ".block_count", s.layers())
                .putU32(a + ".feed_forward_length", s.feedForward())
                .putU32(a + ".attention.head_count", s.heads())
                .putF32(a + ".attention.layer_norm_epsilon", 1e-12f)
                .put(a + ".attention.causal", GgufValueType.BOOL, false)
                .putU32(a + ".pooling_type", pooling)
                .copy(v, "tokenizer.");
        if (nomic) {
            w.putF32(a + ".rope.freq_base", 1000f);
        }
        if (v.get("tokenizer.ggml.token_type_count").isEmpty()) {
            w.putU32("tokenizer.ggml.token_type_count", typeCount);
        }
        long e = s.embedding();
        long f = s.feedForward();
        w.tensor("token_embd.weight", type, new long[] {e, nVocab}, SyntheticModel.random(type, 1));
        w.tensor("token_types.weight", GgmlType.F32, new long[] {e, typeCount}, SyntheticModel.random(GgmlType.F32, 2));
        if (!nomic) { // nomic-bert's positions are rotary
            w.tensor("position_embd.weight", type, new long[] {e, s.contextLength()}, SyntheticModel.random(type, 3));
        }
        norm(w, "token_embd_norm", e);
        for (int l = 0; l < s.layers(); l++) {
            String p = "blk." + l + ".";
            long seed = 16L * (l + 1);
            if (nomic) {
                weight(w, p + "attn_qkv", type, e, 3 * e, seed);
                weight(w, p + "attn_output", type, e, e, seed + 3);
            } else {
                matrix(w, p + "attn_q", type, e, e, seed);
                matrix(w, p + "attn_k", type, e, e, seed + 1);
                matrix(w, p + "attn_v", type, e, e, seed + 2);
                matrix(w, p + "attn_output", type, e, e, seed + 3);
            }
            norm(w, p + "attn_output_norm", e);
            if (nomic) {
                weight(w, p + "ffn_up", type, e, f, seed + 4);
                weight(w, p + "ffn_gate", type, e, f, seed + 6);
                weight(w, p + "ffn_down", type, f, e, seed + 5);
            } else {
                matrix(w, p + "ffn_up", type, e, f, seed + 4);
                matrix(w, p + "ffn_down", type, f, e, seed + 5);
            }
            norm(w, p + "layer_output_norm", e);
        }
        if (pooling == POOLING_RANK) {
            matrix(w, "cls", type, e, e, 7);
            matrix(w, "cls.output", type, e, 1, 8);
        }
        w.write(out);
        return Files.size(out);
    }

    /** A weight matrix and its (zero) bias. */
    private static void matrix(GgufWriter w, String name, GgmlType type, long in, long out, long seed) {
        weight(w, name, type, in, out, seed);
        w.tensor(name + ".bias", GgmlType.F32, new long[] {out}, GgufWriter.zeros());
    }

    private static void weight(GgufWriter w, String name, GgmlType type, long in, long out, long seed) {
        // F32 matrices get a standard deviation of 1/sqrt(in), as trained ones have about: attention then picks
        // tokens rather than averaging them all, so what a token attends to shows in the vectors (the tests rely on
        // it); F16 ones (for benchmarks, where values do not matter) are the shared small random pattern
        w.tensor(name + ".weight", type, new long[] {in, out}, type == GgmlType.F32
                ? SyntheticModel.gaussian(1 / Math.sqrt(in), seed) : SyntheticModel.random(type, seed));
    }

    private static void norm(GgufWriter w, String name, long n) {
        w.tensor(name + ".weight", GgmlType.F32, new long[] {n}, SyntheticModel.ones());
        w.tensor(name + ".bias", GgmlType.F32, new long[] {n}, GgufWriter.zeros());
    }
}
