package dev.gantry.models.synthetic;

import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.gguf.GgufWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Writes llama-architecture GGUF models with random weights in real models' exact tensor shapes, for benchmarks:
 * decoding speed depends on shapes and types, not on the weights' values. The vocabulary and tokenizer are copied
 * from a vocabulary-only GGUF (llama.cpp's test vocabularies), so prompts tokenize as they would for the real
 * model.
 *
 * <p>usage: SyntheticModel SHAPE[:LAYERS] VOCAB.gguf OUT.gguf [TYPE] [zeros], SHAPE one of {@code llama3-8b},
 * {@code llama3-70b}, {@code llama3-405b}, {@code tiny}, LAYERS how many of its blocks to keep (all by default);
 * TYPE {@code Q4_0} (default), {@code Q8_0} or {@code F16}. With {@code zeros} the weight matrices are all zero and
 * take no disk space (holes of a sparse file; the norms stay ones): a model larger than the disk, for measuring
 * placement and speed, which do not depend on the values.
 */
public final class SyntheticModel {
    /** The hyper-parameters of a llama-shaped model. */
    public record Shape(String name, int embedding, int layers, int heads, int kvHeads, int feedForward,
                        int contextLength, float ropeBase) {}

    public static final Shape LLAMA3_8B = new Shape("llama3-8b", 4096, 32, 32, 8, 14336, 131072, 500000f);
    public static final Shape LLAMA3_70B = new Shape("llama3-70b", 8192, 80, 64, 8, 28672, 131072, 500000f);
    public static final Shape LLAMA3_405B = new Shape("llama3-405b", 16384, 126, 128, 8, 53248, 131072, 500000f);
    public static final Shape TINY = new Shape("tiny", 256, 2, 4, 2, 512, 4096, 10000f);

    private SyntheticModel() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: SyntheticModel llama3-8b|llama3-70b|llama3-405b|tiny[:LAYERS] VOCAB.gguf "
                    + "OUT.gguf [Q4_0|Q8_0|F16] [zeros]");
            System.exit(2);
        }
        Shape shape = shape(args[0]);
        GgmlType type = GgmlType.valueOf(args.length > 3 ? args[3].toUpperCase(Locale.ROOT) : "Q4_0");
        boolean zeros = args.length > 4 && args[4].equals("zeros");
        long start = System.nanoTime();
        long bytes = write(shape, Path.of(args[1]), Path.of(args[2]), type, zeros);
        System.out.printf(Locale.ROOT, "wrote %s (%s, %d layers, %s%s): %.2f GiB in %.1f s%n", args[2], shape.name(),
                shape.layers(), type, zeros ? ", zero weights, sparse" : "", bytes / (double) (1L << 30),
                (System.nanoTime() - start) / 1e9);
    }

    /** A shape by name, {@code NAME} or {@code NAME:LAYERS} for the first LAYERS blocks of it. */
    public static Shape shape(String spec) {
        int colon = spec.indexOf(':');
        String name = colon < 0 ? spec : spec.substring(0, colon);
        Shape s = switch (name) {
            case "llama3-8b" -> LLAMA3_8B;
            case "llama3-70b" -> LLAMA3_70B;
            case "llama3-405b" -> LLAMA3_405B;
            case "tiny" -> TINY;
            default -> throw new IllegalArgumentException("unknown shape " + name);
        };
        if (colon < 0) {
            return s;
        }
        int layers = Integer.parseInt(spec.substring(colon + 1));
        if (layers < 1) {
            throw new IllegalArgumentException("a model needs at least one layer: " + spec);
        }
        return new Shape(s.name() + "-" + layers + "l", s.embedding(), layers, s.heads(), s.kvHeads(),
                s.feedForward(), s.contextLength(), s.ropeBase());
    }

    /** Writes the model with random weights; returns the file's size. */
    public static long write(Shape s, Path vocab, Path out, GgmlType type) throws IOException {
        return write(s, vocab, out, type, false);
    }

    /** Writes the model, its weight matrices random or all zero (sparse); returns the file's size. */
    public static long write(Shape s, Path vocab, Path out, GgmlType type, boolean zeros) throws IOException {
        GgufMetadata v = new GgufReader(Integer.MAX_VALUE).read(vocab);
        long nVocab = v.vocabularySize();
        int headDim = s.embedding() / s.heads();
        int kvDim = headDim * s.kvHeads();
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("general.name", "synthetic " + s.name() + " " + type)
                .putU32("general.file_type", fileType(type))
                .putU32("llama.context_length", s.contextLength())
                .putU32("llama.embedding_length", s.embedding())
                .putU32("llama.block_count", s.layers())
                .putU32("llama.feed_forward_length", s.feedForward())
                .putU32("llama.attention.head_count", s.heads())
                .putU32("llama.attention.head_count_kv", s.kvHeads())
                .putU32("llama.rope.dimension_count", headDim)
                .putF32("llama.rope.freq_base", s.ropeBase())
                .putF32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .putU32("llama.vocab_size", nVocab)
                .copy(v, "tokenizer.");
        if (v.getString("tokenizer.ggml.model").isEmpty()) {
            throw new IllegalArgumentException(vocab + " has no tokenizer");
        }
        long e = s.embedding();
        w.tensor("token_embd.weight", type, new long[] {e, nVocab}, weights(type, 1, zeros));
        for (int l = 0; l < s.layers(); l++) {
            String p = "blk." + l + ".";
            w.tensor(p + "attn_norm.weight", GgmlType.F32, new long[] {e}, ones());
            w.tensor(p + "attn_q.weight", type, new long[] {e, e}, weights(type, l * 16L + 2, zeros));
            w.tensor(p + "attn_k.weight", type, new long[] {e, kvDim}, weights(type, l * 16L + 3, zeros));
            w.tensor(p + "attn_v.weight", type, new long[] {e, kvDim}, weights(type, l * 16L + 4, zeros));
            w.tensor(p + "attn_output.weight", type, new long[] {e, e}, weights(type, l * 16L + 5, zeros));
            w.tensor(p + "ffn_norm.weight", GgmlType.F32, new long[] {e}, ones());
            w.tensor(p + "ffn_gate.weight", type, new long[] {e, s.feedForward()}, weights(type, l * 16L + 6, zeros));
            w.tensor(p + "ffn_up.weight", type, new long[] {e, s.feedForward()}, weights(type, l * 16L + 7, zeros));
            w.tensor(p + "ffn_down.weight", type, new long[] {s.feedForward(), e}, weights(type, l * 16L + 8, zeros));
        }
        w.tensor("output_norm.weight", GgmlType.F32, new long[] {e}, ones());
        w.tensor("output.weight", type, new long[] {e, nVocab}, weights(type, 9, zeros));
        w.write(out);
        return java.nio.file.Files.size(out);
    }

    private static GgufWriter.TensorData weights(GgmlType type, long seed, boolean zeros) {
        return zeros ? GgufWriter.zeros() : random(type, seed);
    }

    private static long fileType(GgmlType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            default -> throw new IllegalArgumentException("synthetic models support F32, F16, Q4_0 and Q8_0, not " + t);
        };
    }

    static GgufWriter.TensorData ones() {
        return (out, bytes) -> {
            ByteBuffer b = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining()) {
                b.putFloat(1f);
            }
            b.flip();
            writeFully(out, b);
        };
    }

    /** F32 values drawn from a normal distribution of standard deviation {@code std}. */
    static GgufWriter.TensorData gaussian(double std, long seed) {
        return (out, bytes) -> {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1 << 16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (long left = bytes; left > 0; ) {
                b.clear();
                while (b.hasRemaining() && left > 0) {
                    b.putFloat((float) (rnd.nextGaussian() * std));
                    left -= 4;
                }
                b.flip();
                while (b.hasRemaining()) {
                    out.write(b);
                }
            }
        };
    }

    /**
     * Random weights: one pattern of whole blocks, repeated. Quantized blocks get a small fixed scale (2^-8 as
     * F16) so activations stay finite through dozens of layers; F16 and F32 values are small too.
     */
    static GgufWriter.TensorData random(GgmlType type, long seed) {
        return (out, bytes) -> {
            int block = type.bytesPerBlock();
            int blocks = Math.max(1, (1 << 20) / block);
            ByteBuffer pattern = ByteBuffer.allocate(blocks * block).order(ByteOrder.LITTLE_ENDIAN);
            SplittableRandom rnd = new SplittableRandom(seed);
            for (int i = 0; i < blocks; i++) {
                switch (type) {
                    case Q4_0, Q8_0 -> {
                        pattern.putShort((short) 0x1C00); // F16 of 2^-8
                        for (int j = 2; j < block; j++) {
                            pattern.put((byte) rnd.nextInt(256));
                        }
                    }
                    case F16 -> pattern.putShort((short) (0x1C00 | rnd.nextInt(0x200) | (rnd.nextBoolean() ? 0x8000 : 0)));
                    case F32 -> pattern.putFloat((float) (rnd.nextGaussian() * 0.02));
                    default -> throw new IllegalArgumentException("no random data for " + type);
                }
            }
            long left = bytes;
            while (left > 0) {
                pattern.clear();
                pattern.limit((int) Math.min(pattern.capacity(), left));
                left -= pattern.limit();
                writeFully(out, pattern);
            }
        };
    }

    private static void writeFully(WritableByteChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            out.write(b);
        }
    }

}
