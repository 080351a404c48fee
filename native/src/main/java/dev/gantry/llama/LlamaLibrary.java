package dev.gantry.llama;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Finds and loads llama.cpp's shared libraries, once per process.
 *
 * <p>Search order: a user folder ({@code --llama-lib DIR} or {@code GANTRY_LLAMA_LIB}) when given, else the CPU
 * libraries packed into this jar, extracted to a cache folder. Every folder tried, and why it failed, goes into the
 * error, so a user can see what happened. Not used directly: {@link LlamaCpp#initialize} calls it.
 */
final class LlamaLibrary {
    static final String RESOURCE_DIR = "gantry/llama/" + platform();

    private static volatile SymbolLookup symbols;

    private LlamaLibrary() {}

    /** The symbols of libllama, libggml and libggml-base; throws if {@link #load} has not succeeded. */
    static SymbolLookup symbols() {
        SymbolLookup s = symbols;
        if (s == null) {
            throw new IllegalStateException("llama.cpp is not loaded: call LlamaCpp.initialize first");
        }
        return s;
    }

    /** What was loaded from where. */
    record Loaded(Path directory, String source) {}

    static synchronized Loaded load(Optional<Path> userDir, Path cacheDir) {
        List<String> tried = new ArrayList<>();
        if (userDir.isPresent()) {
            Path dir = userDir.get().toAbsolutePath();
            try {
                bind(dir);
                return new Loaded(dir, "user folder");
            } catch (RuntimeException e) {
                tried.add(dir + ": " + e.getMessage());
                throw new LlamaUnavailableException("could not load llama.cpp; tried " + String.join("; ", tried), e);
            }
        }
        try {
            Path dir = extractBundled(cacheDir);
            bind(dir);
            return new Loaded(dir, "bundled CPU libraries");
        } catch (RuntimeException e) {
            tried.add("bundled " + RESOURCE_DIR + " extracted under " + cacheDir + ": " + e.getMessage());
            throw new LlamaUnavailableException("could not load llama.cpp; tried " + String.join("; ", tried)
                    + " (pass --llama-lib DIR or set GANTRY_LLAMA_LIB to a folder with libllama.so)", e);
        }
    }

    private static void bind(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("not a folder");
        }
        if (symbols != null) {
            return;
        }
        Path base = find(dir, "libggml-base");
        Path ggml = find(dir, "libggml");
        Path llama = find(dir, "libllama");
        // Global arena: the libraries stay loaded for the life of the process, as the handles that point into them do.
        Arena arena = Arena.global();
        SymbolLookup lookup;
        try {
            lookup = SymbolLookup.libraryLookup(base, arena)
                    .or(SymbolLookup.libraryLookup(ggml, arena))
                    .or(SymbolLookup.libraryLookup(llama, arena));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("dlopen failed: " + e.getMessage(), e);
        }
        if (lookup.find("llama_decode").isEmpty()) {
            throw new IllegalStateException(llama + " has no llama_decode symbol");
        }
        symbols = lookup;
    }

    /** Finds {@code name.so}, else a versioned {@code name.*.so} (the npm packages name them so). */
    private static Path find(Path dir, String name) {
        Path plain = dir.resolve(name + ".so");
        if (Files.isRegularFile(plain)) {
            return plain;
        }
        try (Stream<Path> files = Files.list(dir)) {
            // npm's builds are named libllama.v0.5.0.so (CPU) and libllama.cuda.v0.5.0.so (CUDA)
            return files.filter(p -> {
                        String f = p.getFileName().toString();
                        return f.startsWith(name + ".") && f.endsWith(".so");
                    })
                    .sorted()
                    .findFirst()
                    .orElseThrow(() -> new IllegalStateException("no " + name + ".so"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Copies the packed libraries to {@code cacheDir/llama/<hash>}, named by a hash of the index so that two
     * versions never mix; a folder that is already complete is reused.
     */
    static Path extractBundled(Path cacheDir) {
        ClassLoader cl = LlamaLibrary.class.getClassLoader();
        byte[] index = readResource(cl, RESOURCE_DIR + "/index.txt")
                .orElseThrow(() -> new IllegalStateException("this build has no bundled llama.cpp for " + platform()));
        List<String> names = new String(index, StandardCharsets.UTF_8).lines().map(String::strip)
                .filter(s -> !s.isEmpty()).toList();
        Path dir = cacheDir.resolve("llama").resolve(sha256(index).substring(0, 16));
        Path done = dir.resolve(".complete");
        if (Files.exists(done)) {
            return dir;
        }
        try {
            Files.createDirectories(dir);
            for (String name : names) {
                try (InputStream in = cl.getResourceAsStream(RESOURCE_DIR + "/" + name)) {
                    if (in == null) {
                        throw new IllegalStateException("missing bundled library " + name);
                    }
                    Path tmp = Files.createTempFile(dir, name, ".part");
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                    Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                }
            }
            Files.writeString(done, String.join("\n", names));
        } catch (IOException e) {
            throw new UncheckedIOException("extracting llama.cpp to " + dir + ": " + e.getMessage(), e);
        }
        return dir;
    }

    private static Optional<byte[]> readResource(ClassLoader cl, String name) {
        try (InputStream in = cl.getResourceAsStream(name)) {
            return in == null ? Optional.empty() : Optional.of(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.contains("linux") ? "linux" : os.contains("mac") ? "macos" : os.replace(' ', '_');
        String a = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : arch;
        return o + "-" + a;
    }
}
