package dev.gantry.models.synthetic;

import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.gguf.GgufTensorInfo;
import dev.gantry.models.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Writes a LoRA adapter GGUF for a base model, as llama.cpp reads one ({@code general.type} adapter,
 * {@code adapter.type} lora, {@code adapter.lora.alpha}): for each weight matrix of the base's blocks (n_in by
 * n_out), {@code NAME.lora_a} of n_in by {@code rank} and {@code NAME.lora_b} of {@code rank} by n_out, F32, drawn
 * from a normal distribution; with {@code zeroB} the B matrices are zeros, so the adapter changes nothing. For tests
 * and benchmarks: such an adapter changes what a model says without teaching it anything.
 *
 * <p>usage: SyntheticLora BASE.gguf OUT.gguf [rank] [alpha] [std]
 */
public final class SyntheticLora {
    private SyntheticLora() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: SyntheticLora BASE.gguf OUT.gguf [rank] [alpha] [std]");
            System.exit(2);
        }
        int rank = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        float alpha = args.length > 3 ? Float.parseFloat(args[3]) : rank;
        double std = args.length > 4 ? Double.parseDouble(args[4]) : 0.1;
        int n = write(Path.of(args[0]), Path.of(args[1]), rank, alpha, std, false);
        System.out.println("wrote " + args[1] + ": " + n + " matrices of rank " + rank);
    }

    /** Writes the adapter; returns how many of the base's matrices it adapts. */
    public static int write(Path base, Path out, int rank, float alpha, double std, boolean zeroB) throws IOException {
        if (rank < 1) {
            throw new IllegalArgumentException("rank " + rank);
        }
        GgufMetadata m = new GgufReader().read(base);
        String arch = m.architecture();
        GgufWriter w = new GgufWriter()
                .putString("general.architecture", arch)
                .putString("general.type", "adapter")
                .putString("general.name", "synthetic LoRA for " + m.getString("general.name").orElse(arch))
                .putString("adapter.type", "lora")
                .putF32("adapter.lora.alpha", alpha);
        int count = 0;
        long seed = 1;
        for (GgufTensorInfo t : m.tensors()) {
            String name = t.name();
            if (!name.startsWith("blk.") || !name.endsWith(".weight") || t.dimensions().size() != 2) {
                continue;
            }
            long in = t.dimensions().get(0);
            long outDim = t.dimensions().get(1);
            w.tensor(name + ".lora_a", GgmlType.F32, new long[] {in, rank}, SyntheticModel.gaussian(std, seed++));
            w.tensor(name + ".lora_b", GgmlType.F32, new long[] {rank, outDim},
                    zeroB ? GgufWriter.zeros() : SyntheticModel.gaussian(std, seed++));
            count++;
        }
        if (count == 0) {
            throw new IllegalArgumentException(base + " has no block weight matrices to adapt");
        }
        w.write(out);
        return count;
    }
}
