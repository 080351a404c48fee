#!/usr/bin/env bash
# The GPU benchmark: one script, one table. Run on a GPU host from the repository root, after bench/gpu/stage.sh
# staged bench/gpu/stage/ (carried with the tree):
#
#   bash bench/gpu/run.sh PHASE...        e.g.  bash bench/gpu/run.sh setup gantry1 server1
#                                               bash bench/gpu/run.sh multi:2 multi:4 readme:4 canned
#                                               bash bench/gpu/run.sh split split2x2
#
# Phases (each skips what an earlier call on the same warm host already did; results accumulate in
# $W/results.jsonl, and every call copies them and the table to $OUT):
#   setup      build llama.cpp (the pinned source) with CUDA, write the synthetic Llama-3-8B-shaped Q4_0 model with
#              Gantry's own GGUF writer, list the GPUs, run llama-bench (tg128) and llama-batched-bench (64 seqs)
#   prepare    setup's build and model without its anchors (for a short call); buildserver the libraries and
#              llama-server alone
#   gantry1    Gantry on GPU 0 at 1, 8, 32, 64, 128 clients (gantry1at:32,64 at the given levels only)
#   conversation:C  C clients on GPU 0, each a conversation of 4 turns (each turn's prompt repeats the last turn's
#              and its answer): Gantry and llama-server with their prompt caches, and with prompts no cache can help;
#              multiconversation:N:C Gantry's half on N GPUs, for the router's prefix affinity (not run yet)
#   gantry1device, gantry1fixed, gantry1unified  the same with llama.cpp's device sampling instead of Gantry's
#              host sampler, with fixed batching, with one KV buffer for all sequences
#   server1    llama-server on GPU 0 at the same levels, then with --backend-sampling at 64 and 128
#              (server1at:64 both at the given levels only)
#   multi:N    Gantry with one replica per GPU on GPUs 0..N-1, and N llama-servers behind the load tool's round
#              robin, at N, 8N, 32N, 64N clients
#   multigantry:N  multi:N's Gantry half alone (multigantryat:N:16,128 at the given levels only)
#   procs:N    N Gantry processes of one GPU each behind the load tool's round robin, at 64N clients
#              (pinned:N the same, each process and the load tool on their own CPUs)
#   embed:C,C2 an embedding model (synthetic, mxbai-embed-large's BERT-large shape, F16) on GPU 0: Gantry and
#              llama-server (--embedding) through OpenAI's /v1/embeddings at the given client counts, one input of
#              about 100 words a request, then 16 inputs a request (EMBED_K, EMBED_GANTRY=pass:flash-attention...,
#              EMBED_SERVER=batch:flash-attention... choose the runs)
#   score:C,C2 prompts scored as lm-evaluation-harness asks (echo, logprobs, max_tokens 0) on the 8B model on GPU 0:
#              agreement alone, beside other requests and on the CPU; C clients of 512-token prompts for 30 s; then
#              llama-perplexity's rate on the same GPU (bench/gpu/score_check.py)
#   rerank:C   a reranker (synthetic BERT, rank pooling) on GPU 0: its scores on the GPU against the CPU, then C
#              clients of 16 documents a request for 20 s (bench/gpu/rerank_check.py)
#   anchors    setup's llama-bench and llama-batched-bench figures alone
#   knobs      one sequence's tg rate in llama-bench and llama-batched-bench under a server's settings (context,
#              sequences, KV streams or one buffer, CPU threads): what each costs llama.cpp itself
#   sampling   the host sampler alone on this host's CPUs (bench's SamplingTimer): whole rows against split rows
#   gputests   the tests that need a GPU, through JUnit's console launcher
#   graphs:N   llama-batched-bench at 64 with and without CUDA graphs, alone and on N GPUs at once; Gantry without them
#   nsys:C     Gantry on GPU 0 at C clients under Nsight Systems, its CUDA API and kernel summaries (when nsys is there)
#   nsysbench  llama-bench's tg128 on GPU 0, plain and under Nsight Systems: its kernels against nsys:1's
#   readme:N   `java -jar runtime.jar --gpus 0,...,N-1` exactly as the README shows it (settings through the
#              environment), at 64N clients
#   canned     the load tool against a server that streams canned tokens: its own ceiling
#   split      the synthetic Llama-3-70B-shaped Q4_0 model (about 40 GB) on GPUs 0,1: llama-bench with each split
#              mode, Gantry placed by auto with the memory ceiling lowered below the model, and by each forced mode
#   split2x2   the 70B model as two replicas of two GPUs each (--gpus 0,1:2,3), at 2, 16 and 64 clients;
#              split4x2 as four (--gpus 0,1:2,3:4,5:6,7) at 4, 32 and 128
#   huge       a model larger than one card: Llama-3-405B's layer shape, 86 of its 126 layers, Q4_0 (145.8 GiB) with
#              zero weights, written as a sparse file (no disk needed); llama-bench by layer and by tensor on GPUs
#              0,1, then Gantry placed by auto at the default memory ceiling. First, llama-bench's tg128 of the 8B
#              model with random weights against the same model with zero weights: whether zeros change the speed
# BENCH_CUDATIME=1 times each Gantry process's CUDA runtime calls (launches, copies, waits) with bench/gpu/cudatime.c.
# BENCH_TAG=NAME (with GANTRY_EXTRA_ENV="VAR=value ...") runs a variant of the Gantry phases under its own labels.
# Load: streaming, about 100 prompt words, 128 generated tokens, ignore_eos, Ollama's default sampling.
set -uo pipefail
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-/tmp/gantry-out}
W=${GANTRY_BENCH_WORK:-/tmp/gantry-bench}
STAGE=$(pwd)/bench/gpu/stage
LOGS=$W/logs   # everything but the few files that come back through $OUT
mkdir -p "$OUT" "$W/models" "$W/models70" "$W/modelsbig" "$W/models0" "$LOGS"
RESULTS=$W/results.jsonl
touch "$RESULTS"
log() { echo "[$(date +%T)] $*" | tee -a "$W/log.txt"; }
finish() {
  cp "$RESULTS" "$OUT/results.jsonl"; cp "$W/log.txt" "$OUT/log.txt" 2>/dev/null
  cp "$W/anchors.txt" "$OUT/anchors.txt" 2>/dev/null; cp "$W/gpus.txt" "$OUT/gpus.txt" 2>/dev/null
  # Gantry's own account of each load: placement, memory estimate against llama.cpp's buffers, measured weight
  grep -hE "placement|memory|weight|loaded |split|ERROR|Exception" "$LOGS"/gantry-*.log 2>/dev/null | cut -c1-400 \
    | tail -300 > "$OUT/gantry-loads.txt"
  # the runners' adaptive-batching decisions (at most one line a second each), per run
  for f in "$LOGS"/gantry-*.log; do
    [ -f "$f" ] || continue
    echo "== $(basename "$f" .log)"; grep -h "runner .*: [A-Z_]* (prompt budget" "$f" | sed -E 's/^.*runner /runner /' | tail -60
  done > "$OUT/decisions.txt" 2>/dev/null
  python3 "$(dirname "$0")/counters.py" "$W/log.txt" > "$OUT/counters.txt" 2>/dev/null
  { echo; echo "GPU utilisation, SM clock, power and temperature, means over each load level:"; grep -h "^util " "$W/log.txt"; } >> "$OUT/counters.txt"
  for d in "$LOGS"/cudatime/*/; do # the CUDA runtime's calls per process (BENCH_CUDATIME=1)
    [ -d "$d" ] || continue
    echo; echo "== CUDA runtime calls, $(basename "$d") (whole run, warm-up included)"; cat "$d"/cudatime-*.txt 2>/dev/null
  done >> "$OUT/counters.txt"
  [ -f "$W/nsys.txt" ] && { echo; cat "$W/nsys.txt"; } >> "$OUT/counters.txt"
  [ -f "$W/gputests.txt" ] && { echo; echo "== the GPU tests"; tail -120 "$W/gputests.txt"; } >> "$OUT/counters.txt"
  {
    # one row a load-tool result (ITL p99 is the 99th percentile of the gaps between tokens)
    python3 - "$RESULTS" <<'PY'
import json, sys
print("| run | clients | tok/s | steady tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | ok | 503 | failed |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
embeds = []
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if "inputs_per_second" in r:
        embeds.append(r)
        continue
    print("| %s | %d | %.1f | %s | %.1f | %.1f | %.2f | %s | %d | %d | %d |" % (r["label"], r["clients"],
          r["tokens_per_second"], "%.1f" % r["steady_tokens_per_second"] if "steady_tokens_per_second" in r else "",
          r["ttft_p50_ms"], r["ttft_p99_ms"], r["itl_p50_ms"],
          "%.2f" % r["itl_p99_ms"] if "itl_p99_ms" in r else "", r["ok"], r["busy"], r["failed"]))
if embeds:
    print()
    print("| embeddings | clients | requests | inputs/s | input tok/s | latency p50 ms | latency p99 ms | ok | failed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in embeds:
        print("| %s | %d | %d | %.1f | %.1f | %.1f | %.1f | %d | %d |" % (r["label"], r["clients"], r["requests"],
              r["inputs_per_second"], r["tokens_per_second"], r["latency_p50_ms"], r["latency_p99_ms"], r["ok"],
              r["failed"]))
PY
    echo
    cat "$W/anchors.txt" "$W/knobs.txt" "$W/anchors70.txt" "$W/anchorsbig.txt" "$W/graphs.txt" "$W/sampling.txt" 2>/dev/null
  } > "$OUT/table.md"
  cat "$OUT/table.md"
}
trap finish EXIT

[ -x "$W/jdk/bin/java" ] || tar -xzf "$STAGE/jdk.tgz" -C "$W"
JAVA=$W/jdk/bin/java
CP="$STAGE/runtime.jar:$STAGE/gantry-bench.jar"
LOAD="$JAVA -cp $CP dev.gantry.bench.load.LoadTool"
LIB=$W/build/bin
export LD_LIBRARY_PATH=$LIB:${LD_LIBRARY_PATH:-}
MODEL=$W/models/llama3-8b-q4_0.gguf
MODEL70=$W/models70/llama3-70b-q4_0.gguf
MODELBIG=$W/modelsbig/llama3-405b-86l-q4_0.gguf   # zero weights, sparse
MODEL0=$W/models0/llama3-8b-q4_0.gguf             # the 8B with zero weights, sparse
NGPUS=${BENCH_GPUS:-$(nvidia-smi -L 2>/dev/null | wc -l)} # BENCH_GPUS: for a rehearsal without GPUs

# llama.cpp's tools are built only when a phase of this call runs them: Gantry needs the libraries alone, and a
# call of Gantry phases saves the tools' compile time (most of all on a 16-core host)
PHASES=" $* "
needs_tools() {
  case "$PHASES" in *" setup "*|*" anchors "*|*" server1"*|*" multi:"*|*" conversation:"*|*" split"*|*" graphs:"*|*" huge "*|*" nsysbench "*|*" knobs "*|*" embed:"*|*" buildserver "*|*" score:"*) return 0 ;; esac
  return 1
}
# the tools those phases run (a call of huge alone builds llama-bench without llama-server's long compile)
tool_targets() {
  local t="llama-bench"
  case "$PHASES" in *" setup "*|*" anchors "*|*" graphs:"*|*" knobs "*) t="$t llama-batched-bench" ;; esac
  case "$PHASES" in *" server1"*|*" multi:"*|*" conversation:"*|*" embed:"*|*" buildserver "*) t="$t llama-server" ;; esac
  case "$PHASES" in *" score:"*) t="$t llama-perplexity" ;; esac
  echo "$t"
}

build() {
  local targets="llama"
  needs_tools && targets="llama $(tool_targets)"
  local missing=""
  for t in $targets; do [ "$t" = llama ] && t=libllama.so; [ -f "$LIB/$t" ] || missing=1; done
  [ -z "$missing" ] && return 0
  log "building llama.cpp (CUDA, sm_90) on $(nproc) cores: $targets"
  [ -d "$W/llama.cpp" ] || tar -xJf "$STAGE/llama-src.tar.xz" -C "$W"
  cmake -S "$W/llama.cpp" -B "$W/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=ON \
    > "$LOGS/cmake.log" 2>&1 || { log "cmake failed"; tail -30 "$LOGS/cmake.log"; exit 1; }
  cmake --build "$W/build" -j"$(nproc)" --target $targets \
    > "$LOGS/build.log" 2>&1 || { log "build failed"; tail -40 "$LOGS/build.log"; exit 1; }
  log "built"
}

synthetic() { # shape file [zeros]
  [ -f "$2" ] && return 0
  log "writing $1 to $2 ${3:-}"
  [ -f "$W/ggml-vocab-llama-bpe.gguf" ] || xz -dc "$STAGE/vocab/ggml-vocab-llama-bpe.gguf.xz" > "$W/ggml-vocab-llama-bpe.gguf"
  $JAVA -cp "$CP" dev.gantry.models.synthetic.SyntheticModel "$1" "$W/ggml-vocab-llama-bpe.gguf" "$2" Q4_0 ${3:-} \
    2>&1 | tee -a "$W/log.txt"
}

wait_up() { # url [pid]: up, or gone
  for _ in $(seq 1 600); do
    curl -sf "$1" >/dev/null 2>&1 && return 0
    [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && return 1
    sleep 0.5
  done
  return 1
}
# Requests a client, from the clients a GPU (RUN_GPUS: the GPUs the level's servers use): enough that every level
# runs a few seconds, and the same at matching loads (1 GPU at 8 clients and 2 GPUs at 16 both send 4 a client;
# before, 2 GPUs at 16 sent 3, so its run was shorter and its start and end weighed more)
requests_for() { # clients
  set -- $(( $1 / ${RUN_GPUS:-1} ))
  if [ "$1" -le 1 ]; then echo 8; elif [ "$1" -le 8 ]; then echo 4; elif [ "$1" -le 16 ]; then echo 3; else echo 2; fi
}
drive() { # label api urls clients [model] [num-predict]
  local util="$LOGS/util-$1-$4.csv" upid=""
  if [ "$NGPUS" -gt 0 ]; then # each GPU's utilisation every 250 ms while the level runs
    nvidia-smi --query-gpu=index,utilization.gpu,clocks.sm,power.draw,temperature.gpu --format=csv,noheader,nounits -lms 250 > "$util" 2>/dev/null &
    upid=$!
  fi
  ${LOAD_TASKSET:+taskset -c $LOAD_TASKSET} $LOAD --url "$3" --api "$2" --model "${5:-llama3-8b-q4_0}" --clients "$4" \
    --requests "${REQUESTS:-$(requests_for "$4")}" --num-predict "${6:-128}" --prompt-words 100 --label "$1" \
    --out "$RESULTS" ${LOAD_EXTRA:-} 2>>"$LOGS/load.err" | tee -a "$W/log.txt"
  if [ -n "$upid" ]; then
    kill "$upid" 2>/dev/null; wait "$upid" 2>/dev/null
    python3 - "$util" "$1" "$4" >> "$W/log.txt" <<'PY'
import sys, collections
samples = collections.defaultdict(list) # GPU -> [(util %, SM MHz, W, C)]
for line in open(sys.argv[1]):
    try:
        g, *vals = [float(p) for p in line.split(',')]
    except ValueError:
        continue
    samples[int(g)].append(vals)
def mean(v, i):
    return sum(x[i] for x in v) / len(v)
busy = ", ".join("GPU %d %.0f%% %.0f MHz %.0f W %.0f C" % (g, mean(v, 0), mean(v, 1), mean(v, 2), mean(v, 3))
                 for g, v in sorted(samples.items()) if v and len(v[0]) == 4)
print("util %s at %s clients: %s" % (sys.argv[2], sys.argv[3], busy))
PY
  fi
}

start_gantry() { # label port model-dir model args... : starts Gantry, waits until it answers and is warm; prints the pid
  local label=$1 port=$2 dir=$3 model=$4; shift 4
  if [ -n "${BENCH_CPU_DRYRUN:-}" ]; then # a rehearsal of the script on a machine without GPUs: no --gpus
    local a=() ; while [ $# -gt 0 ]; do if [ "$1" = --gpus ]; then shift 2; else a+=("$1"); shift; fi; done
    set -- "${a[@]}"
  fi
  local shim=""
  if [ -n "${BENCH_CUDATIME:-}" ]; then # time the CUDA runtime calls (bench/gpu/cudatime.c) of this process
    [ -f "$W/cudatime.so" ] || gcc -O2 -shared -fPIC -o "$W/cudatime.so" "$(dirname "$0")/cudatime.c" -ldl
    mkdir -p "$LOGS/cudatime/$label"; shim="LD_PRELOAD=$W/cudatime.so CUDATIME_DIR=$LOGS/cudatime/$label"
  fi
  ${GANTRY_TASKSET:+taskset -c $GANTRY_TASKSET} env $shim OLLAMA_HOST=127.0.0.1:$port OLLAMA_MODELS="$dir" GANTRY_LLAMA_LIB="$LIB" OLLAMA_NUM_PARALLEL=128 \
    OLLAMA_CONTEXT_LENGTH=1024 OLLAMA_KEEP_ALIVE=-1 GANTRY_CACHE_DIR="$W/cache-$port" ${GANTRY_EXTRA_ENV:-} \
    ${GANTRY_PROFILER:-} "$JAVA" -jar "$STAGE/runtime.jar" "$@" > "$LOGS/gantry-$label.log" 2>&1 &
  local pid=$!
  if ! wait_up "http://127.0.0.1:$port/" $pid; then
    log "gantry $label did not start" >&2; tail -20 "$LOGS/gantry-$label.log" >&2; kill $pid; return 1
  fi
  local t0=$SECONDS
  curl -s "http://127.0.0.1:$port/api/generate" \
    -d "{\"model\":\"$model\",\"prompt\":\"warm up\",\"options\":{\"num_predict\":8}}" > "$LOGS/warm-$label.json"
  log "gantry $label: loaded and warm in $((SECONDS - t0)) s: $(head -c 300 "$LOGS/warm-$label.json")" >&2
  echo $pid
}
ps_after() { # label port
  { echo "ps after $1:"; curl -s "http://127.0.0.1:$2/api/ps" | head -c 20000; echo; } >> "$W/log.txt"
}

# Gantry, started the way the README shows (`java -jar runtime.jar --gpus ...`), everything else from the
# environment. Runs the load levels, then stops.
gantry() { # label model-dir model levels args... (env: GANTRY_EXTRA_ENV; BENCH_TAG is added to the label)
  local label=$1${BENCH_TAG:+-$BENCH_TAG} dir=$2 model=$3 levels=$4; shift 4
  log "gantry $label: $*"
  local pid
  pid=$(start_gantry "$label" 11500 "$dir" "$model" "$@") || return 1
  curl -s http://127.0.0.1:11500/api/ps >> "$W/log.txt"; echo >> "$W/log.txt"
  for c in $levels; do
    drive "$label" ollama http://127.0.0.1:11500 "$c" "$model"
    # the runners' counters after the level (steps, decode/sample time, the controller's budget and sequences)
    ps_after "$label at $c clients" 11500
  done
  kill $pid; wait $pid 2>/dev/null
}

# Gantry on GPUs 0..N-1 (a replica each) under C clients' conversations of 4 turns, then the same prompts led by
# their own numbers (no cache can help), each in a fresh process with 2048 tokens a slot
gantry_conversations() { # N C
  local n=$1 c=$2 mode
  for mode in reuse fresh; do
    RUN_GPUS=$n REQUESTS=4 LOAD_EXTRA="--conversation $mode" \
      GANTRY_EXTRA_ENV="OLLAMA_CONTEXT_LENGTH=2048 ${GANTRY_EXTRA_ENV:-}" \
      gantry "gantry-${n}gpu-conversation-$mode" "$W/models" llama3-8b-q4_0 "$c" --gpus "$(seq -s, 0 $((n - 1)))"
  done
}

server() { # gpus port model extra-args... ; prints the pid
  local gpu=$1 port=$2 model=$3; shift 3
  CUDA_VISIBLE_DEVICES=$gpu "$LIB/llama-server" -m "$model" -ngl 99 -c $((128 * 1024)) -np 128 -fa on \
    --host 127.0.0.1 --port "$port" "$@" > "$LOGS/llama-server-$gpu-$port.log" 2>&1 &
  echo $!
}

for phase in "$@"; do
  case $phase in
    setup|anchors) # anchors: setup's llama.cpp figures alone (on a warm host that has the build and the model)
      build
      synthetic llama3-8b "$MODEL"
      {
        nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
        nvidia-smi topo -m 2>/dev/null
        lscpu 2>/dev/null | grep -E "^(Model name|Socket|Core|Thread|NUMA node)"
        GANTRY_LLAMA_LIB=$LIB $JAVA -jar "$STAGE/runtime.jar" gpus 2>/dev/null
      } > "$W/gpus.txt"
      cat "$W/gpus.txt"
      {
        CUDA_VISIBLE_DEVICES=0 "$LIB/llama-bench" -m "$MODEL" -p 512 -n 128 -fa 1 -r 3 -o md 2>/dev/null
        CUDA_VISIBLE_DEVICES=0 "$LIB/llama-batched-bench" -m "$MODEL" -c 40960 -b 2048 -ub 512 -npp 100 -ntg 128 \
          -npl 1,64 -fa 1 2>/dev/null | grep -E '^\|'
      } > "$W/anchors.txt" 2>&1
      log "anchors done"
      ;;
    knobs) # one sequence's decode rate in llama.cpp's own tools under the settings a server differs in from
      # llama-bench's tg128 (context size, sequences, one KV buffer or a stream each, CPU threads)
      build
      synthetic llama3-8b "$MODEL"
      {
        for t in 4 16; do
          echo "llama-bench -t $t"
          CUDA_VISIBLE_DEVICES=0 "$LIB/llama-bench" -m "$MODEL" -p 0 -n 128 -fa 1 -r 5 -t $t -o md 2>/dev/null | grep tg128
        done
        for a in "-c 256 -npl 1" "-c 1024 -npl 1" "-c 131072 -npl 1" "-c 1024 -npl 1 -t 4" "-c 1024 -npl 1 -t 16" \
                 "-c 40960 -npl 1,64" "-c 40960 -npl 1,64 -kvu" "-c 131072 -npl 1,128"; do
          echo "llama-batched-bench $a"
          # shellcheck disable=SC2086
          CUDA_VISIBLE_DEVICES=0 "$LIB/llama-batched-bench" -m "$MODEL" -b 2048 -ub 512 -npp 100 -ntg 128 -fa 1 $a \
            2>/dev/null | grep -E '^\|  *100 '
        done
      } > "$W/knobs.txt" 2>&1
      cat "$W/knobs.txt" >> "$W/log.txt"
      ;;
    sampling) # the host sampler alone on this host's CPUs: a step of 1 to 64 rows, whole rows against rows split
      $JAVA --enable-native-access=ALL-UNNAMED -cp "$CP" dev.gantry.bench.jmh.SamplingTimer 1,2,4,8,64 3000 300 \
        > "$W/sampling.txt" 2>&1
      cat "$W/sampling.txt" | tee -a "$W/log.txt"
      ;;
    gantry1)
      gantry gantry-1gpu "$W/models" llama3-8b-q4_0 "1 8 32 64 128" --gpus 0
      ;;
    gantry1at:*) # Gantry on GPU 0 at the given levels only (comma separated): a short call's 1-GPU reference
      levels=${phase#gantry1at:}
      gantry gantry-1gpu "$W/models" llama3-8b-q4_0 "${levels//,/ }" --gpus 0
      ;;
    buildserver) # the libraries and llama-server only: a first call on a 16-core host, so that the next (within the
      # 30 s the host stays warm) has the time to measure
      build
      ;;
    prepare) # setup without the llama.cpp anchors: the build and the model only
      build
      synthetic llama3-8b "$MODEL"
      ;;
    conversation:*) # conversation:C: C clients, each one conversation of 4 turns sent raw (a turn repeats the one
      # before it and its answer, then 100 new words), against the same prompts each led by its own number (no cache
      # can help): Gantry (its prompt cache takes over the slot a turn left parked), then llama-server (cache_prompt)
      c=${phase#conversation:}
      build
      synthetic llama3-8b "$MODEL"
      gantry_conversations 1 "$c"
      pid=$(server 0 11602 "$MODEL" -c $((128 * 2048)))
      wait_up http://127.0.0.1:11602/health "$pid" || log "llama-server did not start"
      for mode in reuse fresh; do
        REQUESTS=4 LOAD_EXTRA="--conversation $mode" drive llama-server-1gpu-conversation-$mode llamacpp http://127.0.0.1:11602 "$c"
      done
      kill "$pid"; wait "$pid" 2>/dev/null
      ;;
    rerank:*) # rerank:C - a reranker (synthetic BERT with rank pooling) on GPU 0, CUDA graphs on: the same pairs'
      # scores from Gantry on the GPU and on the CPU, then C clients of 16 documents a request for 20 s (bge-base's
      # shape, F16): no aborts, no failed requests
      c=${phase#rerank:}
      build
      mkdir -p "$W/modelsrank"
      xz -dc "$STAGE/vocab/ggml-vocab-bert-bge.gguf.xz" > "$W/ggml-vocab-bert-bge.gguf"
      $JAVA -cp "$CP" dev.gantry.models.synthetic.SyntheticBert tiny "$W/ggml-vocab-bert-bge.gguf" \
        "$W/modelsrank/rerank-tiny.gguf" F32 rank 2>&1 | tee -a "$W/log.txt"
      $JAVA -cp "$CP" dev.gantry.models.synthetic.SyntheticBert bge-base "$W/ggml-vocab-bert-bge.gguf" \
        "$W/modelsrank/rerank-base.gguf" F16 rank 2>&1 | tee -a "$W/log.txt"
      # a decoder reranker too: Qwen3-Reranker's shape (synthetic, tiny), scored at its last token
      if [ -f "$STAGE/vocab/ggml-vocab-qwen2.gguf.xz" ] && [ ! -f "$W/modelsrank/rerank-qwen3.gguf" ]; then
        xz -dc "$STAGE/vocab/ggml-vocab-qwen2.gguf.xz" > "$W/ggml-vocab-qwen2.gguf"
        $JAVA -cp "$CP" dev.gantry.models.synthetic.SyntheticQwen3Reranker "$W/ggml-vocab-qwen2.gguf" \
          "$W/modelsrank/rerank-qwen3.gguf" 2>&1 | tee -a "$W/log.txt"
      fi
      gpid=$(start_gantry gantry-rerank-gpu 11500 "$W/modelsrank" none --gpus 0)
      cpid=$(GANTRY_EXTRA_ENV="CUDA_VISIBLE_DEVICES=" start_gantry gantry-rerank-cpu 11501 "$W/modelsrank" none)
      for m in rerank-tiny rerank-qwen3; do
        [ -f "$W/modelsrank/$m.gguf" ] || continue
        echo "== $m" | tee -a "$W/log.txt"
        python3 "$(dirname "$0")/rerank_check.py" agree http://127.0.0.1:11500 http://127.0.0.1:11501 $m 2>&1 \
          | tee -a "$W/log.txt"
      done
      kill "$cpid"; wait "$cpid" 2>/dev/null
      python3 "$(dirname "$0")/rerank_check.py" load http://127.0.0.1:11500 rerank-base "$c" 20 2>&1 | tee -a "$W/log.txt"
      ps_after gantry-rerank-gpu 11500
      kill -0 "$gpid" 2>/dev/null || log "gantry rerank exited during the run: $(grep -iE 'error|assert|abort|failed' "$LOGS/gantry-gantry-rerank-gpu.log" | tail -8)"
      { echo "== rerank log warnings"; grep -ciE "warn" "$LOGS/gantry-gantry-rerank-gpu.log"; grep -iE "overriding|error" "$LOGS/gantry-gantry-rerank-gpu.log" | head -5; } >> "$W/log.txt"
      kill "$gpid"; wait "$gpid" 2>/dev/null
      ;;
    score:*) # score:16,64 - prompts scored as lm-evaluation-harness asks (/v1/completions, token ids, echo,
      # logprobs 1, max_tokens 0) on the 8B model on GPU 0: one prompt's log probabilities on the GPU alone, beside
      # other requests and on the CPU; then C clients scoring prompts of 512 tokens for 30 s each level; then
      # llama-perplexity (llama.cpp's own scoring, chunks of 512, four a batch) on the same GPU and model
      levels=${phase#score:}; levels=${levels//,/ }
      build
      synthetic llama3-8b "$MODEL"
      # (SCORE_LOAD_ONLY=1: the clients alone, for a variant under BENCH_TAG)
      gpid=$(start_gantry "gantry-score-gpu${BENCH_TAG:+-$BENCH_TAG}" 11520 "$W/models" llama3-8b-q4_0 --gpus 0)
      if [ -z "${SCORE_LOAD_ONLY:-}" ]; then
        cpid=$(GANTRY_EXTRA_ENV="CUDA_VISIBLE_DEVICES= OLLAMA_NUM_PARALLEL=2" start_gantry gantry-score-cpu 11521 \
          "$W/models" llama3-8b-q4_0)
        python3 "$(dirname "$0")/score_check.py" agree http://127.0.0.1:11520 http://127.0.0.1:11521 \
          llama3-8b-q4_0 2>&1 | tee -a "$W/log.txt"
        kill "$cpid"; wait "$cpid" 2>/dev/null
      fi
      for c in $levels; do
        python3 "$(dirname "$0")/score_check.py" load http://127.0.0.1:11520 llama3-8b-q4_0 "$c" \
          "${SCORE_SECONDS:-30}" 512 2>&1 | tee -a "$W/log.txt"
      done
      # as a multiple-choice evaluation sends them: four answers to a context, one after the other, at the first level
      python3 "$(dirname "$0")/score_check.py" load http://127.0.0.1:11520 llama3-8b-q4_0 "${levels%% *}" \
        "${SCORE_SECONDS:-30}" 512 mc 2>&1 | tee -a "$W/log.txt"
      ps_after gantry-score-gpu 11520
      kill -0 "$gpid" 2>/dev/null || log "gantry score exited during the run"
      kill "$gpid"; wait "$gpid" 2>/dev/null
      if [ -z "${SCORE_LOAD_ONLY:-}" ]; then
        python3 "$(dirname "$0")/score_check.py" text "$W/ppl.txt" 60000
        CUDA_VISIBLE_DEVICES=0 "$LIB/llama-perplexity" -m "$MODEL" -f "$W/ppl.txt" -c 512 -b 2048 -ngl 99 -fa on \
          --chunks 64 > "$LOGS/perplexity.log" 2>&1
        log "llama-perplexity: exit $?"
        grep -E 'prompt eval time|eval time|total time|seconds per pass|Final estimate|n_seq|tokens per' \
          "$LOGS/perplexity.log" | tail -12 | tee -a "$W/log.txt"
      fi
      ;;
    encoders) # the memory estimate of encoder models (synthetic, F16: mxbai-embed-large's, bge-base's and
      # nomic-embed-text's shapes, one a reranker) against what llama.cpp allocates on GPU 0: load, one request each
      build
      mkdir -p "$W/modelsenc"
      xz -dc "$STAGE/vocab/ggml-vocab-bert-bge.gguf.xz" > "$W/ggml-vocab-bert-bge.gguf"
      for m in "mxbai-embed-large mxbai-shaped cls" "bge-base bge-base-rank rank" "nomic-embed-text nomic-shaped mean"; do
        set -- $m
        [ -f "$W/modelsenc/$2.gguf" ] || $JAVA -cp "$CP" dev.gantry.models.synthetic.SyntheticBert "$1" \
          "$W/ggml-vocab-bert-bge.gguf" "$W/modelsenc/$2.gguf" F16 "$3" 2>&1 | tee -a "$W/log.txt"
      done
      pid=$(start_gantry gantry-encoders 11500 "$W/modelsenc" none --gpus 0)
      for m in mxbai-shaped nomic-shaped; do
        curl -s http://127.0.0.1:11500/api/embed -d '{"model":"'$m'","input":"one input to load it"}' | head -c 120 \
          | tee -a "$W/log.txt"; echo | tee -a "$W/log.txt"
      done
      curl -s http://127.0.0.1:11500/v1/rerank -d '{"model":"bge-base-rank","query":"a","documents":["b","c"]}' \
        | head -c 200 | tee -a "$W/log.txt"; echo | tee -a "$W/log.txt"
      { echo "== encoder estimates"; grep -hE "estimated .* allocated" "$LOGS/gantry-gantry-encoders.log" | cut -c1-300; } \
        | tee -a "$W/log.txt"
      kill "$pid"; wait "$pid" 2>/dev/null
      ;;
    embed:*) # embed:C,C2 - an encoder-only embedding model, Gantry against llama-server on GPU 0 (see the top)
      levels=${phase#embed:}
      build
      mkdir -p "$W/modelsbert"
      if [ ! -f "$W/modelsbert/mxbai-shaped.gguf" ]; then
        xz -dc "$STAGE/vocab/ggml-vocab-bert-bge.gguf.xz" > "$W/ggml-vocab-bert-bge.gguf"
        $JAVA -cp "$CP" dev.gantry.models.synthetic.SyntheticBert mxbai-embed-large "$W/ggml-vocab-bert-bge.gguf" \
          "$W/modelsbert/mxbai-shaped.gguf" F16 cls 2>&1 | tee -a "$W/log.txt"
      fi
      embed_levels() { # label url model
        local c k
        # warm up first (uncounted): a fresh JVM runs its request path interpreted for its first few hundred
        # requests, which a server that has been up a while does not (EMBED_WARM=0 skips this)
        [ "${EMBED_WARM:-400}" -gt 0 ] && $JAVA -cp "$CP" dev.gantry.bench.load.EmbedLoadTool --url "$2" --model "$3" \
          --clients 4 --requests $(( ${EMBED_WARM:-400} / 4 )) --inputs 1 --words 100 --label "$1-warm" \
          --out "$LOGS/embed-warm.jsonl" 2>>"$LOGS/load.err" > /dev/null
        for k in ${EMBED_K:-1 16}; do
          for c in ${levels//,/ }; do
            $JAVA -cp "$CP" dev.gantry.bench.load.EmbedLoadTool --url "$2" --model "$3" --clients "$c" \
              --requests $(( k == 1 ? 64 : 8 )) --inputs "$k" --words 100 --label "$1-x$k" --out "$RESULTS" \
              2>>"$LOGS/load.err" | tee -a "$W/log.txt"
          done
        done
      }
      agree='{"model":"mxbai-shaped","input":["The cat sat on the mat.","A short one","'"$(printf 'word%d ' $(seq 1 100))"'"]}'
      # Gantry as it comes (passes of up to 1024 tokens, flash attention as llama.cpp's auto decides); each entry
      # of EMBED_GANTRY is PASS:FA (-Dgantry.encoderPass, -Dgantry.encoderFlashAttention=-1|0|1)
      for v in ${EMBED_GANTRY-1024:-1}; do
        b=${v%%:*}; fa=${v#*:}
        label=gantry-embed-p$b-fa$fa${BENCH_TAG:+-$BENCH_TAG}
        pid=$(JAVA_TOOL_OPTIONS="-Dgantry.encoderPass=$b -Dgantry.encoderBatch=$b -Dgantry.encoderFlashAttention=$fa" \
          start_gantry $label 11500 "$W/modelsbert" none --gpus 0)
        curl -s http://127.0.0.1:11500/v1/embeddings -d '{"model":"mxbai-shaped","input":"warm up"}' > /dev/null
        curl -s http://127.0.0.1:11500/v1/embeddings -d "$agree" > "$LOGS/embed-gantry.json"
        embed_levels $label http://127.0.0.1:11500 mxbai-shaped
        ps_after "$label" 11500
        kill -0 "$pid" 2>/dev/null || log "gantry $label exited during the run: $(grep -iE 'error|assert|abort|failed|function' "$LOGS/gantry-$label.log" | tail -8)"
        kill $pid; wait $pid 2>/dev/null
      done
      # llama-server as its documentation serves an embedding model: --embedding, 64 slots, its batch (and so the
      # micro-batch an encoder needs whole) at its default of 512 tokens; then at 4096
      for v in ${EMBED_SERVER-512:off 4096:off 512:on}; do
      b=${v%:*}; fa=${v#*:}
      # with CUDA graphs off: with them on, llama-server aborts on an encoder within a few hundred requests
      # (ggml-cuda "illegal instruction"; 5 of 6 runs in the thirteenth session, again in the fifteenth)
      pid=$(GGML_CUDA_DISABLE_GRAPHS=1 CUDA_VISIBLE_DEVICES=0 "$LIB/llama-server" -m "$W/modelsbert/mxbai-shaped.gguf" -ngl 99 --embedding \
        -c $((64 * 512)) -np 64 -fa $fa -b $b -ub $b --host 127.0.0.1 --port 11603 \
        > "$LOGS/llama-server-embed-$b.log" 2>&1 & echo $!)
      wait_up http://127.0.0.1:11603/health "$pid" || log "llama-server did not start"
      curl -s http://127.0.0.1:11603/v1/embeddings -d "$agree" > "$LOGS/embed-llama-server.json"
      # the same three inputs' vectors from both: the cosine of each pair (1 where both compute the same thing)
      python3 - "$LOGS/embed-gantry.json" "$LOGS/embed-llama-server.json" <<'PY' 2>&1 | tee -a "$W/log.txt"
import json, math, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
def cos(x, y):
    return sum(p * q for p, q in zip(x, y)) / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y))
pairs = [cos(x["embedding"], y["embedding"]) for x, y in zip(a["data"], b["data"])]
print("embed agreement, Gantry against llama-server, cosine per input: %s; prompt tokens %s against %s"
      % (", ".join("%.6f" % c for c in pairs), a["usage"]["prompt_tokens"], b["usage"]["prompt_tokens"]))
PY
      embed_levels llama-server-embed-b$b-fa$fa${BENCH_TAG:+-$BENCH_TAG} http://127.0.0.1:11603 mxbai-shaped
      kill -0 "$pid" 2>/dev/null || log "llama-server -b $b exited during the run: $(grep -iE 'error|assert|abort|failed|function' "$LOGS/llama-server-embed-$b.log" | tail -8)"
      kill "$pid"; wait "$pid" 2>/dev/null
      done
      { echo "== load tool errors (last 20)"; tail -20 "$LOGS/load.err"; } >> "$W/log.txt" 2>/dev/null
      ;;
    gantry1fixed) # the same with adaptive batching off: the controller's cost or gain
      GANTRY_EXTRA_ENV="GANTRY_ITL_TARGET_MS=0" \
        gantry gantry-1gpu-fixed-batching "$W/models" llama3-8b-q4_0 "32 64" --gpus 0
      ;;
    gantry1device) # sampling on the GPU (llama.cpp's backend sampler chains) instead of the default Java sampler
      GANTRY_EXTRA_ENV="GANTRY_BACKEND_SAMPLING=on" \
        gantry gantry-1gpu-device-sampling "$W/models" llama3-8b-q4_0 "1 64" --gpus 0
      ;;
    gantry1unified) # one KV buffer shared by all sequences (one forward pass a step, attention over all cells);
      # 16384 cells hold 64 sequences of 100 + 128 tokens (the default, eight contexts' worth, would cap them at 35)
      GANTRY_EXTRA_ENV="GANTRY_KV_UNIFIED=1 GANTRY_KV_CELLS=16384" \
        gantry gantry-1gpu-kv-unified "$W/models" llama3-8b-q4_0 "64" --gpus 0
      ;;
    server1|server1at:*) # server1at:64 at the given levels only (comma separated)
      build # llama-server, where an earlier call of this host built the libraries alone (prepare)
      synthetic llama3-8b "$MODEL"
      levels="1 8 32 64 128" bs_levels="64 128"
      if [ "$phase" != server1 ]; then levels=${phase#server1at:}; levels=${levels//,/ }; bs_levels=$levels; fi
      pid=$(server 0 11600 "$MODEL")
      wait_up http://127.0.0.1:11600/health "$pid" || log "llama-server did not start"
      for c in $levels; do drive llama-server-1gpu llamacpp http://127.0.0.1:11600 "$c"; done
      kill "$pid"; wait "$pid" 2>/dev/null
      pid=$(server 0 11601 "$MODEL" --backend-sampling)
      wait_up http://127.0.0.1:11601/health "$pid" || log "llama-server --backend-sampling did not start"
      for c in $bs_levels; do drive llama-server-1gpu-backend-sampling llamacpp http://127.0.0.1:11601 "$c"; done
      kill "$pid"; wait "$pid" 2>/dev/null
      ;;
    multiconversation:*) # multiconversation:N:C - conversation:C's Gantry half on GPUs 0..N-1 (a replica each):
      # whether the router sends each turn to the replica that holds its conversation (the prompt tokens reused,
      # against conversation:C's one GPU; a turn routed elsewhere decodes its whole history)
      spec=${phase#multiconversation:}; n=${spec%%:*}; c=${spec#*:}
      [ "$n" -le "$NGPUS" ] || { log "multiconversation:$n needs $n GPUs, the host has $NGPUS"; continue; }
      build
      synthetic llama3-8b "$MODEL"
      gantry_conversations "$n" "$c"
      ;;
    multigantryat:*) # multigantryat:N:16,128 - multigantry:N at the given levels only (comma separated)
      spec=${phase#multigantryat:}; n=${spec%%:*}; levels=${spec#*:}
      [ "$n" -le "$NGPUS" ] || { log "multigantryat:$n needs $n GPUs, the host has $NGPUS"; continue; }
      RUN_GPUS=$n gantry "gantry-${n}gpu" "$W/models" llama3-8b-q4_0 "${levels//,/ }" \
        --gpus "$(seq -s, 0 $((n - 1)))"
      ;;
    multigantry:*) # multi:N's Gantry half alone (no llama-servers), for a short call
      n=${phase#multigantry:}
      [ "$n" -le "$NGPUS" ] || { log "multigantry:$n needs $n GPUs, the host has $NGPUS"; continue; }
      RUN_GPUS=$n gantry "gantry-${n}gpu" "$W/models" llama3-8b-q4_0 "$n $((8 * n)) $((32 * n)) $((64 * n))" \
        --gpus "$(seq -s, 0 $((n - 1)))"
      ;;
    multi:*)
      n=${phase#multi:}
      [ "$n" -le "$NGPUS" ] || { log "multi:$n needs $n GPUs, the host has $NGPUS"; continue; }
      build # llama-server, where an earlier call of this host built the libraries alone
      levels="$n $((8 * n)) $((32 * n)) $((64 * n))"
      export RUN_GPUS=$n
      gantry "gantry-${n}gpu" "$W/models" llama3-8b-q4_0 "$levels" --gpus "$(seq -s, 0 $((n - 1)))"
      pids=() urls=()
      for g in $(seq 0 $((n - 1))); do
        pids+=("$(server "$g" $((11700 + g)) "$MODEL")"); urls+=("http://127.0.0.1:$((11700 + g))")
      done
      for u in "${urls[@]}"; do wait_up "$u/health" || log "llama-server $u did not start"; done
      for c in $levels; do drive "llama-server-${n}gpu" llamacpp "$(IFS=,; echo "${urls[*]}")" "$c"; done
      kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null
      unset RUN_GPUS
      ;;
    procs:*|pinned:*) # N Gantry processes of one GPU each behind the load tool's round robin, at 64N clients:
      # what one process of N replicas (multi:N, readme:N) loses to sharing a process. pinned:N gives each process
      # (and the load tool) its own slice of the CPUs with taskset: whether the replicas whose decode doubles are
      # short of a CPU
      # (procs:N:16,128 at the given numbers of clients instead)
      spec=${phase#*:} kind=${phase%%:*}${BENCH_TAG:+-$BENCH_TAG}; n=${spec%%:*} levels=$((64 * ${spec%%:*}))
      [ "$spec" = "$n" ] || levels=${spec#*:}
      [ "$n" -le "$NGPUS" ] || { log "$phase needs $n GPUs"; continue; }
      slice=$(( $(nproc) / (n + 1) )); [ "$slice" -ge 1 ] || { log "$phase: too few CPUs"; continue; }
      log "gantry-$kind-${n}gpu: $n processes$([ "${kind%%-*}" = pinned ] && echo ", $slice CPUs each")"
      pids=() urls=()
      for g in $(seq 0 $((n - 1))); do
        cpus=""; [ "${kind%%-*}" = pinned ] && cpus="$((g * slice))-$(((g + 1) * slice - 1))"
        p=$(GANTRY_TASKSET=$cpus start_gantry "$kind-$g" $((11510 + g)) "$W/models" llama3-8b-q4_0 --gpus "$g") \
          && pids+=("$p")
        urls+=("http://127.0.0.1:$((11510 + g))")
      done
      load_cpus=""; [ "${kind%%-*}" = pinned ] && load_cpus="$((n * slice))-$(($(nproc) - 1))"
      for c in ${levels//,/ }; do
        RUN_GPUS=$n LOAD_TASKSET=$load_cpus drive "gantry-$kind-${n}gpu" ollama "$(IFS=,; echo "${urls[*]}")" "$c"
        for g in $(seq 0 $((n - 1))); do ps_after "gantry-$kind-${n}gpu-$g at $c clients" $((11510 + g)); done
      done
      kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null
      ;;
    graphs:*) # llama-batched-bench at 64 sequences with and without CUDA graphs, on GPU 0 alone and on GPUs
      # 0..N-1 at once (one process each): what kernel launches cost a step, and whether a GPU slows down when the
      # others are busy even without Gantry. Then Gantry on GPU 0 at 64 clients with CUDA graphs off.
      n=${phase#graphs:}; [ "$n" -le "$NGPUS" ] || n=$NGPUS
      bb() { # gpu label env...
        local g=$1 l=$2; shift 2
        env "$@" CUDA_VISIBLE_DEVICES=$g "$LIB/llama-batched-bench" -m "$MODEL" -c 40960 -b 2048 -ub 512 -npp 100 \
          -ntg 128 -npl 64 -fa 1 2>/dev/null | grep -E '^\|' | tail -1 | sed "s/^/| $l, GPU $g /"
      }
      {
        echo "| run | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |"
        for graphs in on off; do
          e=(); [ "$graphs" = off ] && e=(GGML_CUDA_DISABLE_GRAPHS=1)
          bb 0 "graphs $graphs, alone" "${e[@]}"
          [ "$n" -gt 1 ] || continue
          for g in $(seq 0 $((n - 1))); do bb "$g" "graphs $graphs, $n at once" "${e[@]}" > "$LOGS/bb-$g.txt" & done
          wait; cat "$LOGS"/bb-*.txt; rm -f "$LOGS"/bb-*.txt
        done
      } > "$W/graphs.txt" 2>&1
      cat "$W/graphs.txt" | tee -a "$W/log.txt"
      GANTRY_EXTRA_ENV="GGML_CUDA_DISABLE_GRAPHS=1" \
        gantry gantry-1gpu-no-cuda-graphs "$W/models" llama3-8b-q4_0 "1 64" --gpus 0
      ;;
    nsys:*) # Gantry on GPU 0 at the given clients under Nsight Systems (CUDA API and kernels): where a step's host
      # time in llama_decode goes (launches, copies, waits). Needs nsys on the host.
      c=${phase#nsys:}
      NSYS=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems*/bin/nsys 2>/dev/null | head -1)
      [ -n "$NSYS" ] || { log "nsys: not on this host"; continue; }
      GANTRY_PROFILER="$NSYS profile --trace=cuda,osrt --sample=none --cpuctxsw=none --cuda-graph-trace=node -o $W/nsys-$c --force-overwrite true" \
        gantry "gantry-1gpu-nsys" "$W/models" llama3-8b-q4_0 "$c" --gpus 0
      sleep 5 # nsys writes its report after the process ends
      { echo "== nsys, Gantry on GPU 0 at $c clients"
        "$NSYS" stats --report cuda_api_sum,cuda_gpu_kern_sum,cuda_gpu_mem_time_sum --format csv "$W/nsys-$c.nsys-rep" \
          2>&1 | head -80; } > "$W/nsys.txt"
      log "nsys: $(wc -l < "$W/nsys.txt") lines of summary"
      ;;
    nsysbench) # llama-bench's tg128 on GPU 0, plain and then under Nsight Systems (kernels inside CUDA graphs traced
      # one by one, as nsys:C does): the kernels of its tokens, to hold against Gantry's at one client (nsys:1)
      NSYS=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems*/bin/nsys 2>/dev/null | head -1)
      [ -n "$NSYS" ] || { log "nsysbench: nsys not on this host"; continue; }
      CUDA_VISIBLE_DEVICES=0 "$LIB/llama-bench" -m "$MODEL" -p 0 -n 128 -fa 1 -r 3 -o md 2>/dev/null \
        | tee -a "$W/anchors.txt" "$W/log.txt"
      CUDA_VISIBLE_DEVICES=0 "$NSYS" profile --trace=cuda --sample=none --cpuctxsw=none --cuda-graph-trace=node \
        -o "$W/nsys-bench" --force-overwrite true "$LIB/llama-bench" -m "$MODEL" -p 0 -n 128 -fa 1 -r 3 -o md \
        > "$LOGS/nsysbench.txt" 2>&1
      { echo; echo "== nsys, llama-bench tg128 (-r 3, and its warm-up run) on GPU 0"; grep '^|' "$LOGS/nsysbench.txt"
        "$NSYS" stats --report cuda_api_sum,cuda_gpu_kern_sum,cuda_gpu_mem_time_sum --format csv \
          "$W/nsys-bench.nsys-rep" 2>&1 | head -80; } >> "$W/nsys.txt"
      log "nsysbench: $(wc -l < "$W/nsys.txt") lines of summary"
      ;;
    gputests) # the tests that need a GPU (NVML, the CUDA driver, llama.cpp's CUDA devices), with JUnit's console
      build
      synthetic llama3-8b "$MODEL" # DecodeWithoutOutputsGpuTest's model
      GANTRY_GPU_TESTS=1 GANTRY_LLAMA_LIB=$LIB GANTRY_TEST_MODEL=$MODEL "$JAVA" --enable-native-access=ALL-UNNAMED \
        -jar "$STAGE/junit-console.jar" \
        execute --disable-banner --disable-ansi-colors --details=tree --class-path "$STAGE/runtime.jar:$STAGE/gpu-tests.jar" \
        --select-class dev.gantry.llama.gpu.GpuHostTest --select-class dev.gantry.llama.gpu.NvmlTest \
        --select-class dev.gantry.llama.gpu.CudaTopologyTest --select-class dev.gantry.runtime.gpu.GpuReportHostTest \
        --select-class dev.gantry.runtime.gpu.GpuReportTest \
        --select-class dev.gantry.runtime.engine.llama.DecodeWithoutOutputsGpuTest > "$W/gputests.txt" 2>&1
      log "gputests: exit $?; $(grep -E "tests (successful|failed|skipped|aborted)" "$W/gputests.txt" | tr -s ' ' | tr '\n' ';')"
      ;;
    readme:*)
      n=${phase#readme:}
      [ "$n" -le "$NGPUS" ] || { log "readme:$n needs $n GPUs"; continue; }
      RUN_GPUS=$n gantry "gantry-readme-${n}gpu" "$W/models" llama3-8b-q4_0 "$((64 * n))" --gpus "$(seq -s, 0 $((n - 1)))"
      ;;
    canned)
      $JAVA -cp "$CP" dev.gantry.bench.load.CannedServer 11800 > "$LOGS/canned.log" 2>&1 &
      pid=$!
      wait_up http://127.0.0.1:11800/ $pid || log "canned server did not come up"
      $LOAD --url http://127.0.0.1:11800 --api ollama --model canned --clients 256 --requests 4 --num-predict 128 \
        --label canned-256 --out "$RESULTS" | tee -a "$W/log.txt"
      kill $pid; wait $pid 2>/dev/null
      ;;
    split)
      build
      synthetic llama3-70b "$MODEL70"
      ls -l "$MODEL70" | tee -a "$W/log.txt"
      # llama-bench's decode rate for each split mode on two GPUs: the figure Gantry's split must reach
      # (each mode in its own invocation: given all three at once, llama-bench ran only the first)
      : > "$W/anchors70.txt"
      for m in layer row tensor; do
        CUDA_VISIBLE_DEVICES=0,1 "$LIB/llama-bench" -m "$MODEL70" -p 0 -n 64 -fa 1 -r 1 -sm $m -o md \
          >> "$W/anchors70.txt" 2>> "$LOGS/llama-bench-70b.err" || echo "| sm $m failed: $(tail -1 "$LOGS/llama-bench-70b.err") |" >> "$W/anchors70.txt"
      done
      cat "$W/anchors70.txt"
      # auto, with the ceiling below the model's size on one card: it must pick a two-GPU group by itself
      # ceiling = 80% of the model's size on one card, so one card cannot hold it whatever the card
      card=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits -i 0)
      fraction=$(python3 -c "print(round(0.8 * $(stat -c %s "$MODEL70") / ($card * 1048576), 3))")
      log "70b: ceiling fraction $fraction of a ${card} MiB card"
      export REQUESTS=1
      GANTRY_EXTRA_ENV="GANTRY_GPU_MEMORY_FRACTION=$fraction OLLAMA_NUM_PARALLEL=16" \
        gantry gantry-70b-auto "$W/models70" llama3-70b-q4_0 "1 16" --gpus 0,1
      for m in layer row tensor; do
        GANTRY_EXTRA_ENV="OLLAMA_NUM_PARALLEL=16" \
          gantry "gantry-70b-$m" "$W/models70" llama3-70b-q4_0 "1" --gpus 0,1 --placement "split=$m"
      done
      unset REQUESTS
      ;;
    split2x2|split4x2) # the 70B model as 2 (or 4) replicas of two GPUs each
      groups=${phase:5:1}
      [ "$NGPUS" -ge $((2 * groups)) ] || { log "$phase needs $((2 * groups)) GPUs"; continue; }
      build # Gantry loads llama.cpp from the build: a call that starts with this phase needs it too
      synthetic llama3-70b "$MODEL70"
      spec=$(for g in $(seq 0 $((groups - 1))); do printf '%s%d,%d' "$([ "$g" -gt 0 ] && echo :)" $((2 * g)) $((2 * g + 1)); done)
      REQUESTS=1 GANTRY_EXTRA_ENV="OLLAMA_NUM_PARALLEL=32" \
        gantry "gantry-70b-${groups}x2" "$W/models70" llama3-70b-q4_0 "$groups $((8 * groups)) $((32 * groups))" --gpus "$spec"
      ;;
    huge)
      build
      synthetic llama3-8b "$MODEL"
      synthetic llama3-8b "$MODEL0" zeros
      synthetic llama3-405b:86 "$MODELBIG" zeros
      ls -ls "$MODELBIG" | tee -a "$W/log.txt"
      {
        echo "llama-bench, GPU 0: the 8B with random weights, then with zero weights"
        for m in "$MODEL" "$MODEL0"; do
          CUDA_VISIBLE_DEVICES=0 "$LIB/llama-bench" -m "$m" -p 0 -n 128 -fa 1 -r 3 -o md 2>/dev/null | grep -E '^\|'
        done
      } > "$W/anchorsbig.txt" 2>&1
      # the first read of a sparse file's holes fills the page cache; read it in 16 parallel parts beforehand so
      # that no load below pays for it alone
      t0=$SECONDS; size=$(stat -c %s "$MODELBIG"); part=$(( size / 16 / 1048576 + 1 ))
      for i in $(seq 0 15); do dd if="$MODELBIG" of=/dev/null bs=1M skip=$((i * part)) count=$part 2>/dev/null & done
      wait; log "huge: read $(( size >> 30 )) GiB into the page cache in $((SECONDS - t0)) s"
      echo "llama-bench, GPUs 0,1, the 145.8 GiB model (decode of 32 tokens, one repetition, after a warm-up)" >> "$W/anchorsbig.txt"
      for m in layer tensor; do
        t0=$SECONDS
        CUDA_VISIBLE_DEVICES=0,1 "$LIB/llama-bench" -m "$MODELBIG" -p 0 -n 32 -fa 1 -r 1 -sm $m -o md \
          2>> "$LOGS/llama-bench-big.err" | grep -E '^\|' >> "$W/anchorsbig.txt" \
          || echo "| sm $m failed: $(tail -1 "$LOGS/llama-bench-big.err") |" >> "$W/anchorsbig.txt"
        log "huge: llama-bench -sm $m took $((SECONDS - t0)) s"
      done
      cat "$W/anchorsbig.txt" | tee -a "$W/log.txt"
      # auto at the default ceiling (85% of a card): it must split the model over the two GPUs by itself, and pick
      # layer or tensor by measuring both
      REQUESTS=1 GANTRY_EXTRA_ENV="OLLAMA_NUM_PARALLEL=16" \
        gantry gantry-huge-auto "$W/modelsbig" llama3-405b-86l-q4_0 "1 8" --gpus 0,1
      ;;
    *) log "unknown phase $phase" ;;
  esac
  finish > /dev/null # what is done so far reaches $OUT even if a later phase runs past the call's limit
done
