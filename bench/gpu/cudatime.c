// A measuring shim for the GPU benchmark, loaded with LD_PRELOAD into a process that uses libcudart.so: counts the
// calls of the CUDA runtime functions a forward pass spends its host time in, and the time inside each, so a
// runner's time in llama_decode can be split into launching kernels, copying and waiting. It writes its totals to
// $CUDATIME_DIR/cudatime-PID.txt every few seconds (a process that is killed keeps its last totals).
//
// Built on the GPU host by run.sh: gcc -O2 -shared -fPIC -o cudatime.so cudatime.c -ldl
// No CUDA header is needed: the few types below have the runtime's layout.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int cuda_error;
typedef struct { unsigned x, y, z; } dim3;
typedef void *stream_t;

enum { LAUNCH, GRAPH_LAUNCH, MEMCPY_ASYNC, STREAM_SYNC, EVENT_SYNC, DEVICE_SYNC, EVENT_RECORD, WAIT_EVENT,
       BEGIN_CAPTURE, END_CAPTURE, GRAPH_UPDATE, GRAPH_INSTANTIATE, LAUNCH_INTERNAL, LAUNCH_EX, N_FN };
static const char *NAMES[N_FN] = {"cudaLaunchKernel", "cudaGraphLaunch", "cudaMemcpyAsync",
                                  "cudaStreamSynchronize", "cudaEventSynchronize", "cudaDeviceSynchronize",
                                  "cudaEventRecord", "cudaStreamWaitEvent", "cudaStreamBeginCapture",
                                  "cudaStreamEndCapture", "cudaGraphExecUpdate", "cudaGraphInstantiate",
                                  "__cudaLaunchKernel", "cudaLaunchKernelExC"};
static atomic_long calls[N_FN], nanos[N_FN], worst[N_FN];
static atomic_long next_dump;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void dump(void) {
    const char *dir = getenv("CUDATIME_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/cudatime-%d.txt", dir ? dir : "/tmp", (int) getpid());
    char tmp[520];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    for (int i = 0; i < N_FN; i++) {
        long c = atomic_load(&calls[i]), n = atomic_load(&nanos[i]);
        if (c == 0) continue;
        fprintf(f, "%s calls %ld total_ms %.1f mean_us %.2f max_us %.1f\n", NAMES[i], c, n / 1e6, n / 1e3 / c,
                atomic_load(&worst[i]) / 1e3);
    }
    fclose(f);
    rename(tmp, path);
}

static void record(int fn, long start) {
    long end = now_ns(), took = end - start;
    atomic_fetch_add(&calls[fn], 1);
    atomic_fetch_add(&nanos[fn], took);
    long w = atomic_load(&worst[fn]);
    while (took > w && !atomic_compare_exchange_weak(&worst[fn], &w, took)) {
    }
    long due = atomic_load(&next_dump);
    if (end >= due && atomic_compare_exchange_strong(&next_dump, &due, end + 2000000000L)) {
        dump();
    }
}

static void *real(const char *name) {
    void *p = dlsym(RTLD_NEXT, name);
    // a process that loads the runtime with dlopen keeps it out of the global scope RTLD_NEXT searches (Java's
    // System.load does): look it up by the runtime's own name
    static const char *RUNTIMES[] = {"libcudart.so.13", "libcudart.so.12", "libcudart.so"};
    for (int i = 0; !p && i < 3; i++) {
        void *h = dlopen(RUNTIMES[i], RTLD_LAZY | RTLD_NOLOAD);
        if (h) p = dlsym(h, name);
    }
    if (!p) {
        fprintf(stderr, "cudatime: %s not found\n", name);
        abort();
    }
    return p;
}

#define WRAP(fn_index, ret, name, params, args)                      \
    ret name params {                                                \
        static ret (*next) params;                                   \
        if (!next) next = (ret (*) params) real(#name);              \
        long start = now_ns();                                       \
        ret r = next args;                                           \
        record(fn_index, start);                                     \
        return r;                                                    \
    }

WRAP(LAUNCH, cuda_error, cudaLaunchKernel,
     (const void *func, dim3 grid, dim3 block, void **args, size_t shared, stream_t stream),
     (func, grid, block, args, shared, stream))
WRAP(GRAPH_LAUNCH, cuda_error, cudaGraphLaunch, (void *exec, stream_t stream), (exec, stream))
WRAP(MEMCPY_ASYNC, cuda_error, cudaMemcpyAsync, (void *dst, const void *src, size_t count, int kind, stream_t stream),
     (dst, src, count, kind, stream))
WRAP(STREAM_SYNC, cuda_error, cudaStreamSynchronize, (stream_t stream), (stream))
WRAP(EVENT_SYNC, cuda_error, cudaEventSynchronize, (void *event), (event))
WRAP(DEVICE_SYNC, cuda_error, cudaDeviceSynchronize, (void), ())
WRAP(EVENT_RECORD, cuda_error, cudaEventRecord, (void *event, stream_t stream), (event, stream))
WRAP(WAIT_EVENT, cuda_error, cudaStreamWaitEvent, (stream_t stream, void *event, unsigned flags),
     (stream, event, flags))
// a CUDA graph's capture and update (ggml-cuda captures a step's kernels, then updates the graph it launches)
WRAP(BEGIN_CAPTURE, cuda_error, cudaStreamBeginCapture, (stream_t stream, int mode), (stream, mode))
WRAP(END_CAPTURE, cuda_error, cudaStreamEndCapture, (stream_t stream, void **graph), (stream, graph))
WRAP(GRAPH_UPDATE, cuda_error, cudaGraphExecUpdate, (void *exec, void *graph, void *info), (exec, graph, info))
WRAP(GRAPH_INSTANTIATE, cuda_error, cudaGraphInstantiate, (void **exec, void *graph, unsigned long long flags),
     (exec, graph, flags))

// kernel launches: nvcc 13's stubs for <<<...>>> call __cudaLaunchKernel (its first argument the kernel handle that
// __cudaGetKernel gave, the rest as cudaLaunchKernel's), not cudaLaunchKernel, which counted none in the seventh
// session's runs; libggml-cuda.so of the prebuilt CUDA 13 package imports both it and cudaLaunchKernelExC. Not run
// on a GPU host yet.
WRAP(LAUNCH_INTERNAL, cuda_error, __cudaLaunchKernel,
     (const void *kernel, dim3 grid, dim3 block, void **args, size_t shared, stream_t stream),
     (kernel, grid, block, args, shared, stream))
WRAP(LAUNCH_EX, cuda_error, cudaLaunchKernelExC, (const void *config, const void *func, void **args),
     (config, func, args))

__attribute__((destructor)) static void at_exit(void) {
    dump();
}
