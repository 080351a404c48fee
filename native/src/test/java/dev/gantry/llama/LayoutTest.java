package dev.gantry.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The hand-written struct layouts match llama.cpp v0.5.0: sizes, and the library's defaults read back. */
class LayoutTest {
    @BeforeAll
    static void load() {
        NativeTestSupport.llama();
    }

    @Test
    void structSizesMatchTheHeader() {
        assertEquals(80, Layouts.MODEL_PARAMS.byteSize());
        assertEquals(160, Layouts.CONTEXT_PARAMS.byteSize());
        assertEquals(56, Layouts.BATCH.byteSize());
        assertEquals(12, Layouts.TOKEN_DATA.byteSize());
        assertEquals(32, Layouts.TOKEN_DATA_ARRAY.byteSize());
        assertEquals(24, Layouts.offset(Layouts.TOKEN_DATA_ARRAY, "sorted"));
        assertEquals(16, Layouts.MODEL_PARAMS.byteOffset(java.lang.foreign.MemoryLayout.PathElement.groupElement("n_gpu_layers")));
        assertEquals(20, Layouts.offset(Layouts.MODEL_PARAMS, "split_mode"));
        assertEquals(32, Layouts.offset(Layouts.MODEL_PARAMS, "main_gpu"));
        assertEquals(40, Layouts.offset(Layouts.MODEL_PARAMS, "tensor_split"));
        assertEquals(72, Layouts.offset(Layouts.MODEL_PARAMS, "vocab_only"));
    }

    @Test
    void modelDefaultsReadBackAsDocumented() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) Fn.llama_model_default_params.invokeExact((SegmentAllocator) arena);
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, Layouts.offset(Layouts.MODEL_PARAMS, "devices")));
            assertEquals(-1, p.get(JAVA_INT, Layouts.offset(Layouts.MODEL_PARAMS, "n_gpu_layers")));
            assertEquals(1, p.get(JAVA_INT, Layouts.offset(Layouts.MODEL_PARAMS, "split_mode")), "LAYER");
            assertEquals(-1, p.get(JAVA_INT, Layouts.offset(Layouts.MODEL_PARAMS, "load_mode")), "AUTO");
            assertEquals(1, p.get(JAVA_INT, Layouts.offset(Layouts.MODEL_PARAMS, "lazy_mode")), "AUTO");
            assertEquals(0, p.get(JAVA_INT, Layouts.offset(Layouts.MODEL_PARAMS, "main_gpu")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, Layouts.offset(Layouts.MODEL_PARAMS, "tensor_split")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, Layouts.offset(Layouts.MODEL_PARAMS, "kv_overrides")));
            assertEquals(false, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.MODEL_PARAMS, "vocab_only")));
            assertEquals(false, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.MODEL_PARAMS, "check_tensors")));
            assertEquals(true, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.MODEL_PARAMS, "use_extra_bufts")));
            assertEquals(false, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.MODEL_PARAMS, "no_host")));
            assertEquals(false, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.MODEL_PARAMS, "load_mtp")));
        }
    }

    @Test
    void contextDefaultsReadBackAsDocumented() throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) Fn.llama_context_default_params.invokeExact((SegmentAllocator) arena);
            assertEquals(512, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "n_ctx")));
            assertEquals(2048, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "n_batch")));
            assertEquals(512, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "n_ubatch")));
            assertEquals(1, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "n_seq_max")));
            assertEquals(0, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "n_rs_seq")));
            assertEquals(0, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "n_outputs_max")));
            assertEquals(1, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "n_outputs_max_per_seq")));
            assertEquals(4, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "n_threads")), "GGML_DEFAULT_N_THREADS");
            assertEquals(-1, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "flash_attn_type")), "AUTO");
            assertEquals(0.0f, p.get(JAVA_FLOAT, Layouts.offset(Layouts.CONTEXT_PARAMS, "rope_freq_base")));
            assertEquals(-1.0f, p.get(JAVA_FLOAT, Layouts.offset(Layouts.CONTEXT_PARAMS, "yarn_ext_factor")));
            assertEquals(-1.0f, p.get(JAVA_FLOAT, Layouts.offset(Layouts.CONTEXT_PARAMS, "yarn_beta_slow")));
            assertEquals(0, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "yarn_orig_ctx")));
            assertEquals(-1.0f, p.get(JAVA_FLOAT, Layouts.offset(Layouts.CONTEXT_PARAMS, "defrag_thold")));
            assertEquals(1, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "type_k")), "F16");
            assertEquals(1, p.get(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, "type_v")), "F16");
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, Layouts.offset(Layouts.CONTEXT_PARAMS, "abort_callback")));
            assertEquals(false, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.CONTEXT_PARAMS, "embeddings")));
            assertEquals(true, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.CONTEXT_PARAMS, "offload_kqv")));
            assertEquals(true, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.CONTEXT_PARAMS, "no_perf")));
            assertEquals(true, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.CONTEXT_PARAMS, "op_offload")));
            assertEquals(true, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.CONTEXT_PARAMS, "swa_full")));
            assertEquals(false, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.CONTEXT_PARAMS, "kv_unified")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, Layouts.offset(Layouts.CONTEXT_PARAMS, "samplers")));
            assertEquals(0L, p.get(JAVA_LONG, Layouts.offset(Layouts.CONTEXT_PARAMS, "n_samplers")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, Layouts.offset(Layouts.CONTEXT_PARAMS, "ctx_other")));
        }
    }

    @Test
    void quantizeDefaultsReadBackAsDocumented() throws Throwable {
        assertEquals(64, Layouts.QUANTIZE_PARAMS.byteSize());
        assertEquals(16, Layouts.offset(Layouts.QUANTIZE_PARAMS, "allow_requantize"));
        assertEquals(24, Layouts.offset(Layouts.QUANTIZE_PARAMS, "imatrix"));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) Fn.llama_model_quantize_default_params.invokeExact(
                    (SegmentAllocator) arena);
            assertEquals(0, p.get(JAVA_INT, Layouts.offset(Layouts.QUANTIZE_PARAMS, "nthread")));
            assertEquals(7, p.get(JAVA_INT, Layouts.offset(Layouts.QUANTIZE_PARAMS, "ftype")), "Q8_0");
            assertEquals(43, p.get(JAVA_INT, Layouts.offset(Layouts.QUANTIZE_PARAMS, "output_tensor_type")),
                    "GGML_TYPE_COUNT");
            assertEquals(43, p.get(JAVA_INT, Layouts.offset(Layouts.QUANTIZE_PARAMS, "token_embedding_type")));
            assertEquals(false, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.QUANTIZE_PARAMS, "allow_requantize")));
            assertEquals(true, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.QUANTIZE_PARAMS, "quantize_output_tensor")));
            assertEquals(false, p.get(JAVA_BOOLEAN, Layouts.offset(Layouts.QUANTIZE_PARAMS, "dry_run")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, Layouts.offset(Layouts.QUANTIZE_PARAMS, "imatrix")));
            assertEquals(MemorySegment.NULL, p.get(ADDRESS, Layouts.offset(Layouts.QUANTIZE_PARAMS, "prune_layers")));
            assertEquals(8L << 30, p.get(JAVA_LONG, Layouts.offset(Layouts.QUANTIZE_PARAMS, "max_buf_size")));
        }
    }

    @Test
    void cpuDeviceIsListed() {
        assertTrue(LlamaCpp.get().devices().stream().anyMatch(d -> d.type() == BackendDevice.Type.CPU),
                () -> "devices: " + LlamaCpp.get().devices());
    }
}
