package dev.gantry.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * One downcall handle per llama.cpp function Gantry uses, resolved once. This class is initialised only after
 * {@link LlamaLibrary#load} succeeded ({@link LlamaCpp} guarantees it), so the handles are {@code static final}
 * and the JIT can inline them.
 *
 * <p>Functions that return quickly and never call back into Java are linked {@code critical}, which skips the
 * thread-state transition: that matters for per-token calls such as sampling and logits access.
 */
final class Fn {
    private Fn() {}

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LOOKUP = LlamaLibrary.symbols();
    private static final Linker.Option CRITICAL = Linker.Option.critical(false);
    private static final long SIZE_T = JAVA_LONG.byteSize();

    private static MethodHandle h(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment address = LOOKUP.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("llama.cpp has no symbol " + name + " (wrong release?)"));
        return LINKER.downcallHandle(address, fd, options);
    }

    private static FunctionDescriptor fn(java.lang.foreign.MemoryLayout ret, java.lang.foreign.MemoryLayout... args) {
        return FunctionDescriptor.of(ret, args);
    }

    private static FunctionDescriptor proc(java.lang.foreign.MemoryLayout... args) {
        return FunctionDescriptor.ofVoid(args);
    }

    static {
        if (SIZE_T != 8) {
            throw new ExceptionInInitializerError("Gantry's bindings assume a 64-bit size_t");
        }
    }

    // ggml backend registry
    static final MethodHandle ggml_backend_load_all_from_path = h("ggml_backend_load_all_from_path", proc(ADDRESS));
    static final MethodHandle ggml_backend_dev_count = h("ggml_backend_dev_count", fn(JAVA_LONG));
    static final MethodHandle ggml_backend_dev_get = h("ggml_backend_dev_get", fn(ADDRESS, JAVA_LONG));
    static final MethodHandle ggml_backend_dev_name = h("ggml_backend_dev_name", fn(ADDRESS, ADDRESS));
    static final MethodHandle ggml_backend_dev_description = h("ggml_backend_dev_description", fn(ADDRESS, ADDRESS));
    static final MethodHandle ggml_backend_dev_memory = h("ggml_backend_dev_memory", proc(ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle ggml_backend_dev_type = h("ggml_backend_dev_type", fn(JAVA_INT, ADDRESS));

    // process
    static final MethodHandle llama_backend_init = h("llama_backend_init", proc());
    static final MethodHandle llama_log_set = h("llama_log_set", proc(ADDRESS, ADDRESS));
    static final MethodHandle llama_print_system_info = h("llama_print_system_info", fn(ADDRESS));
    static final MethodHandle llama_supports_gpu_offload = h("llama_supports_gpu_offload", fn(JAVA_BOOLEAN));
    static final MethodHandle llama_max_devices = h("llama_max_devices", fn(JAVA_LONG));
    static final MethodHandle llama_max_parallel_sequences = h("llama_max_parallel_sequences", fn(JAVA_LONG));
    static final MethodHandle llama_model_default_params = h("llama_model_default_params", fn(Layouts.MODEL_PARAMS));
    static final MethodHandle llama_context_default_params = h("llama_context_default_params", fn(Layouts.CONTEXT_PARAMS));
    static final MethodHandle llama_sampler_chain_default_params =
            h("llama_sampler_chain_default_params", fn(Layouts.SAMPLER_CHAIN_PARAMS));

    static final MethodHandle llama_model_quantize_default_params =
            h("llama_model_quantize_default_params", fn(Layouts.QUANTIZE_PARAMS));
    /** Not critical: it reads and writes a whole model and logs each tensor. */
    static final MethodHandle llama_model_quantize =
            h("llama_model_quantize", fn(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));

    // model
    static final MethodHandle llama_model_load_from_file =
            h("llama_model_load_from_file", fn(ADDRESS, ADDRESS, Layouts.MODEL_PARAMS));
    static final MethodHandle llama_model_free = h("llama_model_free", proc(ADDRESS));
    static final MethodHandle llama_model_get_vocab = h("llama_model_get_vocab", fn(ADDRESS, ADDRESS));
    static final MethodHandle llama_model_n_ctx_train = h("llama_model_n_ctx_train", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_model_n_embd = h("llama_model_n_embd", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_model_n_embd_out = h("llama_model_n_embd_out", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_model_n_layer = h("llama_model_n_layer", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_model_n_head = h("llama_model_n_head", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_model_n_head_kv = h("llama_model_n_head_kv", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_model_size = h("llama_model_size", fn(JAVA_LONG, ADDRESS));
    static final MethodHandle llama_model_n_params = h("llama_model_n_params", fn(JAVA_LONG, ADDRESS));
    static final MethodHandle llama_model_desc = h("llama_model_desc", fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
    static final MethodHandle llama_model_chat_template = h("llama_model_chat_template", fn(ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle llama_model_has_encoder = h("llama_model_has_encoder", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle llama_model_is_recurrent = h("llama_model_is_recurrent", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle llama_model_n_cls_out = h("llama_model_n_cls_out", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_model_is_hybrid = h("llama_model_is_hybrid", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle llama_model_meta_val_str =
            h("llama_model_meta_val_str", fn(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));

    // vocab
    static final MethodHandle llama_vocab_n_tokens = h("llama_vocab_n_tokens", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_vocab_is_eog = h("llama_vocab_is_eog", fn(JAVA_BOOLEAN, ADDRESS, JAVA_INT), CRITICAL);
    static final MethodHandle llama_vocab_bos = h("llama_vocab_bos", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_vocab_eos = h("llama_vocab_eos", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_vocab_get_add_bos = h("llama_vocab_get_add_bos", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle llama_vocab_sep = h("llama_vocab_sep", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_vocab_get_add_eos = h("llama_vocab_get_add_eos", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle llama_vocab_get_add_sep = h("llama_vocab_get_add_sep", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle llama_tokenize = h("llama_tokenize",
            fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_BOOLEAN, JAVA_BOOLEAN));
    static final MethodHandle llama_token_to_piece = h("llama_token_to_piece",
            fn(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_BOOLEAN), CRITICAL);
    static final MethodHandle llama_detokenize = h("llama_detokenize",
            fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_BOOLEAN, JAVA_BOOLEAN));
    static final MethodHandle llama_chat_apply_template = h("llama_chat_apply_template",
            fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_BOOLEAN, ADDRESS, JAVA_INT));
    static final MethodHandle llama_chat_builtin_templates =
            h("llama_chat_builtin_templates", fn(JAVA_INT, ADDRESS, JAVA_LONG));

    // context
    /** Not critical: they read a file and log. */
    static final MethodHandle llama_adapter_lora_init = h("llama_adapter_lora_init", fn(ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle llama_set_adapters_lora =
            h("llama_set_adapters_lora", fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    static final MethodHandle llama_init_from_model =
            h("llama_init_from_model", fn(ADDRESS, ADDRESS, Layouts.CONTEXT_PARAMS));
    static final MethodHandle llama_free = h("llama_free", proc(ADDRESS));
    static final MethodHandle llama_n_ctx = h("llama_n_ctx", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_n_ctx_seq = h("llama_n_ctx_seq", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_n_batch = h("llama_n_batch", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_n_ubatch = h("llama_n_ubatch", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_n_seq_max = h("llama_n_seq_max", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_n_threads = h("llama_n_threads", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_get_memory = h("llama_get_memory", fn(ADDRESS, ADDRESS));
    static final MethodHandle llama_decode = h("llama_decode", fn(JAVA_INT, ADDRESS, Layouts.BATCH));
    /** Waits for the context's queued GPU work; not critical: it blocks for a whole forward pass. */
    static final MethodHandle llama_synchronize = h("llama_synchronize", FunctionDescriptor.ofVoid(ADDRESS));
    static final MethodHandle llama_get_logits_ith = h("llama_get_logits_ith", fn(ADDRESS, ADDRESS, JAVA_INT), CRITICAL);
    static final MethodHandle llama_set_embeddings = h("llama_set_embeddings", proc(ADDRESS, JAVA_BOOLEAN));
    static final MethodHandle llama_pooling_type = h("llama_pooling_type", fn(JAVA_INT, ADDRESS));
    // not critical: both first wait for the context's queued GPU work, and llama.cpp logs from them (a failed wait,
    // a bad index), which a critical call cannot take (the JVM stops at an upcall from a critical downcall)
    static final MethodHandle llama_get_embeddings_ith =
            h("llama_get_embeddings_ith", fn(ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle llama_get_embeddings_seq =
            h("llama_get_embeddings_seq", fn(ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle llama_set_sampler = h("llama_set_sampler", fn(JAVA_BOOLEAN, ADDRESS, JAVA_INT, ADDRESS));
    static final MethodHandle llama_get_sampled_token_ith =
            h("llama_get_sampled_token_ith", fn(JAVA_INT, ADDRESS, JAVA_INT), CRITICAL);

    // memory (KV cache)
    static final MethodHandle llama_memory_clear = h("llama_memory_clear", proc(ADDRESS, JAVA_BOOLEAN));
    static final MethodHandle llama_memory_seq_rm =
            h("llama_memory_seq_rm", fn(JAVA_BOOLEAN, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle llama_memory_seq_cp =
            h("llama_memory_seq_cp", proc(ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle llama_memory_seq_keep = h("llama_memory_seq_keep", proc(ADDRESS, JAVA_INT));
    static final MethodHandle llama_memory_seq_add =
            h("llama_memory_seq_add", proc(ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle llama_memory_can_shift = h("llama_memory_can_shift", fn(JAVA_BOOLEAN, ADDRESS));
    static final MethodHandle llama_memory_seq_pos_min = h("llama_memory_seq_pos_min", fn(JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle llama_memory_seq_pos_max = h("llama_memory_seq_pos_max", fn(JAVA_INT, ADDRESS, JAVA_INT));

    // samplers
    static final MethodHandle llama_sampler_chain_init =
            h("llama_sampler_chain_init", fn(ADDRESS, Layouts.SAMPLER_CHAIN_PARAMS));
    static final MethodHandle llama_sampler_chain_add = h("llama_sampler_chain_add", proc(ADDRESS, ADDRESS));
    static final MethodHandle llama_sampler_chain_n = h("llama_sampler_chain_n", fn(JAVA_INT, ADDRESS));
    static final MethodHandle llama_sampler_init_greedy = h("llama_sampler_init_greedy", fn(ADDRESS));
    static final MethodHandle llama_sampler_init_dist = h("llama_sampler_init_dist", fn(ADDRESS, JAVA_INT));
    static final MethodHandle llama_sampler_init_top_k = h("llama_sampler_init_top_k", fn(ADDRESS, JAVA_INT));
    static final MethodHandle llama_sampler_init_top_p = h("llama_sampler_init_top_p", fn(ADDRESS, JAVA_FLOAT, JAVA_LONG));
    static final MethodHandle llama_sampler_init_min_p = h("llama_sampler_init_min_p", fn(ADDRESS, JAVA_FLOAT, JAVA_LONG));
    static final MethodHandle llama_sampler_init_typical =
            h("llama_sampler_init_typical", fn(ADDRESS, JAVA_FLOAT, JAVA_LONG));
    static final MethodHandle llama_sampler_init_temp = h("llama_sampler_init_temp", fn(ADDRESS, JAVA_FLOAT));
    static final MethodHandle llama_sampler_init_penalties = h("llama_sampler_init_penalties",
            fn(ADDRESS, JAVA_INT, JAVA_INT, JAVA_FLOAT, JAVA_FLOAT, JAVA_FLOAT));
    static final MethodHandle llama_sampler_init_logit_bias =
            h("llama_sampler_init_logit_bias", fn(ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    static final MethodHandle llama_sampler_init_grammar =
            h("llama_sampler_init_grammar", fn(ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle llama_sampler_sample = h("llama_sampler_sample", fn(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle llama_sampler_accept = h("llama_sampler_accept", proc(ADDRESS, JAVA_INT));
    static final MethodHandle llama_sampler_apply = h("llama_sampler_apply", proc(ADDRESS, ADDRESS));
    static final MethodHandle llama_sampler_reset = h("llama_sampler_reset", proc(ADDRESS));
    static final MethodHandle llama_sampler_free = h("llama_sampler_free", proc(ADDRESS));
    static final MethodHandle llama_sampler_name = h("llama_sampler_name", fn(ADDRESS, ADDRESS));
}
