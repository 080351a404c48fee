package dev.gantry.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class BufferReportTest {
    @Test
    void addsUpEachDevicesBuffersFromLlamaCppsLogLines() {
        try (BufferReport r = new BufferReport()) {
            r.accept("load_tensors:        CUDA0 model buffer size =  4403.49 MiB");
            r.accept("load_tensors:   CPU_Mapped model buffer size =   281.81 MiB");
            r.accept("llama_kv_cache:      CUDA0 KV buffer size =   512.00 MiB");
            r.accept("llama_context:      CUDA0 compute buffer size =   258.50 MiB");
            r.accept("llama_context:  CUDA_Host  output buffer size =     0.49 MiB");
            r.accept("llama_context: n_ctx = 4096");
            assertEquals((long) (4403.49 * 1048576) + 512L * 1048576 + (long) (258.5 * 1048576), r.cudaBytes(0));
            assertEquals(0, r.cudaBytes(1));
            assertEquals((long) (281.81 * 1048576), r.bytesByDevice().get("CPU_Mapped"));
        }
    }

    @Test
    void recordsWhatTheRealLibraryReportsWhileLoadingOnTheCpu() throws Exception {
        NativeTestSupport.llama();
        try (BufferReport r = LlamaCpp.recordBuffers()) {
            try (LlamaModelHandle m = LlamaModelHandle.load(NativeTestSupport.tinyModel(), NativeTestSupport.cpu());
                 LlamaContextHandle c = LlamaContextHandle.create(m, ContextParams.of(256, 2, 1))) {
                org.junit.jupiter.api.Assertions.assertTrue(r.bytesByDevice().values().stream().mapToLong(Long::longValue).sum() > 0,
                        "llama.cpp's buffer lines were not seen: " + r.bytesByDevice());
            }
        }
    }
}
