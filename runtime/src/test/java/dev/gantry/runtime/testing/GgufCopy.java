package dev.gantry.runtime.testing;

import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.gguf.GgufTensorInfo;
import dev.gantry.models.gguf.GgufWriter;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.BiConsumer;

/** A copy of a GGUF file, its metadata edited (a chat template set, tokens renamed) and its tensors as they are. */
public final class GgufCopy {
    private GgufCopy() {}

    /** Copies {@code source} to {@code target}; {@code edit} gets the source's metadata and the writer to change. */
    public static void copy(Path source, Path target, BiConsumer<GgufMetadata, GgufWriter> edit) throws IOException {
        GgufMetadata meta = new GgufReader(1 << 20).read(source);
        GgufWriter w = new GgufWriter(meta.alignment()).copy(meta, "");
        edit.accept(meta, w);
        for (GgufTensorInfo t : meta.tensors()) {
            GgmlType type = t.type().orElseThrow();
            long[] dims = t.dimensions().stream().mapToLong(Long::longValue).toArray();
            long offset = meta.dataOffset() + t.offset();
            w.tensor(t.name(), type, dims, (out, bytes) -> {
                try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
                    for (long done = 0; done < bytes; ) {
                        done += in.transferTo(offset + done, bytes - done, out);
                    }
                }
            });
        }
        w.write(target);
    }
}
