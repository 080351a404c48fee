package dev.gantry.llama.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ProbeTest {
    /** The shape of JCuda's error without libcuda.so.1 (seen on this machine), shortened. */
    private static final String JCUDA_MESSAGE = """
            Error while loading native library "JCudaDriver-12.6.0-linux-x86_64"
            Operating system name: Linux
            ---(start of nested stack traces)---
            Stack trace from the attempt to load the library as a file:
            java.lang.UnsatisfiedLinkError: no JCudaDriver-12.6.0-linux-x86_64 in java.library.path: /usr/lib
            \tat java.base/java.lang.ClassLoader.loadLibrary(ClassLoader.java:2285)
            Stack trace from the attempt to load the library as a resource:
            java.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver-12.6.0-linux-x86_64.so: libcuda.so.1: cannot open \
            shared object file: No such file or directory
            \tat java.base/jdk.internal.loader.NativeLibraries.load(Native Method)
            """;

    @Test
    void aLoaderErrorIsReducedToDlopensWords() {
        assertEquals("libcuda.so.1: cannot open shared object file: No such file or directory",
                Probe.summarise(new UnsatisfiedLinkError(JCUDA_MESSAGE)));
    }

    @Test
    void theLoaderErrorIsFoundDownTheCauseChain() {
        var e = new NoClassDefFoundError("Could not initialize class jcuda.driver.JCudaDriver");
        e.initCause(new ExceptionInInitializerError(new UnsatisfiedLinkError(JCUDA_MESSAGE)));
        assertEquals("libcuda.so.1: cannot open shared object file: No such file or directory", Probe.summarise(e));
    }

    @Test
    void otherwiseTheFirstLineOfTheFirstMessage() {
        assertEquals("CUDA_ERROR_NO_DEVICE", Probe.summarise(new RuntimeException("CUDA_ERROR_NO_DEVICE\nmore")));
        assertEquals("inner", Probe.summarise(new RuntimeException(null, new IllegalStateException("inner"))));
        assertEquals("java.lang.IllegalStateException", Probe.summarise(new IllegalStateException()));
    }

    @Test
    void foundAndUnavailable() {
        Probe<String> found = Probe.found("xyz");
        assertTrue(found.isAvailable());
        assertEquals("xyz", found.get());
        assertEquals("", found.reason());
        assertEquals(3, found.map(String::length).get());

        Probe<String> missing = Probe.unavailable("no driver", new IllegalStateException("deep"));
        assertFalse(missing.isAvailable());
        Probe<Integer> mapped = missing.map(String::length);
        assertEquals("no driver", mapped.reason());
        GpuUnavailableException e = assertThrows(GpuUnavailableException.class, missing::get);
        assertEquals("no driver", e.getMessage());
        assertSame(missing.cause().orElseThrow(), e.getCause());
        assertThrows(IllegalArgumentException.class, () -> Probe.unavailable(" "));
    }
}
