package dev.gantry.models.synthetic;

import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.gguf.GgufArray;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.gguf.GgufValueType;
import dev.gantry.models.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a small decoder reranker in the shape llama.cpp reads Qwen3-Reranker's GGUFs: a {@code qwen3} model (causal,
 * RMS-normed queries and keys) whose GGUF names rank pooling, with a {@code cls.output} head that turns the last
 * token's hidden state into two outputs ("yes", "no"; llama.cpp's softmax over them makes the first the score), and a {@code rerank} template that joins a query and a document. Random F32
 * weights, the tokenizer copied from a vocabulary GGUF (llama.cpp's {@code ggml-vocab-qwen2.gguf}).
 *
 * <p>usage: SyntheticQwen3Reranker VOCAB.gguf OUT.gguf
 */
public final class SyntheticQwen3Reranker {
    private SyntheticQwen3Reranker() {}

    /** The template the GGUF carries as {@code tokenizer.chat_template.rerank}. */
    public static final String RERANK_TEMPLATE = "<|im_start|>user\nQuery: {query}\nDocument: {document}<|im_end|>\n"
            + "<|im_start|>assistant\n";

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: SyntheticQwen3Reranker VOCAB.gguf OUT.gguf");
            System.exit(2);
        }
        long bytes = write(Path.of(args[0]), Path.of(args[1]));
        System.out.printf("wrote %s (qwen3 reranker, F32): %.1f MiB%n", args[1], bytes / 1048576.0);
    }

    /** Writes the model (64 wide, 2 layers, 4 heads of which 2 for keys and values); returns the file's size. */
    public static long write(Path vocab, Path out) throws IOException {
        GgufMetadata v = new GgufReader(Integer.MAX_VALUE).read(vocab);
        if (v.getString("tokenizer.ggml.model").isEmpty()) {
            throw new IllegalArgumentException(vocab + " has no tokenizer");
        }
        long nVocab = v.vocabularySize();
        int e = 64;
        int layers = 2;
        int heads = 4;
        int kvHeads = 2;
        int headDim = e / heads;
        int ff = 128;
        String a = "qwen3";
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", a)
                .putString("general.name", "synthetic qwen3 reranker F32")
                .putU32("general.file_type", 0)
                .putU32(a + ".context_length", 2048)
                .putU32(a + ".embedding_length", e)
                .putU32(a + ".block_count", layers)
                .putU32(a + ".feed_forward_length", ff)
                .putU32(a + ".attention.head_count", heads)
                .putU32(a + ".attention.head_count_kv", kvHeads)
                .putU32(a + ".attention.key_length", headDim)
                .putU32(a + ".attention.value_length", headDim)
                .putF32(a + ".rope.freq_base", 1000000f)
                .putF32(a + ".attention.layer_norm_rms_epsilon", 1e-6f)
                .putU32(a + ".pooling_type", SyntheticBert.POOLING_RANK)
                // two labels, as Qwen3-Reranker's GGUFs carry: llama.cpp takes a softmax over a qwen3 head's outputs
                // (one output would always score 1)
                .put(a + ".classifier.output_labels", GgufValueType.ARRAY,
                        new GgufArray(GgufValueType.STRING, 2, java.util.List.of("yes", "no")))
                .copy(v, "tokenizer.")
                .putString("tokenizer.chat_template.rerank", RERANK_TEMPLATE);
        long seed = 1;
        w.tensor("token_embd.weight", GgmlType.F32, new long[] {e, nVocab}, SyntheticModel.gaussian(0.5, seed++));
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            w.tensor(p + "attn_norm.weight", GgmlType.F32, new long[] {e}, SyntheticModel.ones());
            matrix(w, p + "attn_q", e, (long) headDim * heads, seed++);
            matrix(w, p + "attn_k", e, (long) headDim * kvHeads, seed++);
            matrix(w, p + "attn_v", e, (long) headDim * kvHeads, seed++);
            matrix(w, p + "attn_output", (long) headDim * heads, e, seed++);
            w.tensor(p + "attn_q_norm.weight", GgmlType.F32, new long[] {headDim}, SyntheticModel.ones());
            w.tensor(p + "attn_k_norm.weight", GgmlType.F32, new long[] {headDim}, SyntheticModel.ones());
            w.tensor(p + "ffn_norm.weight", GgmlType.F32, new long[] {e}, SyntheticModel.ones());
            matrix(w, p + "ffn_gate", e, ff, seed++);
            matrix(w, p + "ffn_up", e, ff, seed++);
            matrix(w, p + "ffn_down", ff, e, seed++);
        }
        w.tensor("output_norm.weight", GgmlType.F32, new long[] {e}, SyntheticModel.ones());
        matrix(w, "cls.output", e, 2, seed);
        w.write(out);
        return Files.size(out);
    }

    /** A weight matrix of {@code in} by {@code out} with a standard deviation of 1/sqrt(in), as trained ones have. */
    private static void matrix(GgufWriter w, String name, long in, long out, long seed) {
        w.tensor(name + ".weight", GgmlType.F32, new long[] {in, out}, SyntheticModel.gaussian(1 / Math.sqrt(in), seed));
    }
}
