#!/usr/bin/env bash
# The GPU benchmark: one script, one run, one table. Run on a GPU host from the repository root, after
# bench/gpu/stage.sh staged bench/gpu/stage/ (carried with the tree):
#
#   bash bench/gpu/run.sh NGPU [QUICK]
#
# It builds llama.cpp (the pinned source) with CUDA there, writes the synthetic Llama-3-8B-shaped Q4_0 model
# with Gantry's own GGUF writer, then drives Gantry and llama-server with the same load tool (streaming, about
# 100 prompt tokens, 128 generated, ignore_eos): 1 GPU at 1, 8, 32, 64, 128 clients; with NGPU >= 2, NGPU GPUs
# at NGPU, 16, 64, 128 clients (llama-server: one per GPU behind the tool's round robin). It also runs
# llama-bench (tg128) and llama-batched-bench (64 sequences) as ceilings, and the load tool against a canned
# server to show it is not the bottleneck. Results go to $OUT (results.jsonl, anchors.txt, table.md, logs).
set -uo pipefail
NGPU=${1:-1}
QUICK=${2:-}
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-/tmp/gantry-out}
W=${GANTRY_BENCH_WORK:-/tmp/gantry-bench}
STAGE=$(pwd)/bench/gpu/stage
LOGS=$W/logs   # everything but the few files that come back through $OUT
mkdir -p "$OUT" "$W/models" "$LOGS"
RESULTS=$OUT/results.jsonl
: > "$RESULTS"
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/log.txt"; }

tar -xzf "$STAGE/jdk.tgz" -C "$W"
JAVA=$W/jdk/bin/java
CP="$STAGE/runtime.jar:$STAGE/gantry-bench.jar"
LOAD="$JAVA -cp $CP dev.gantry.bench.load.LoadTool"

# --- llama.cpp with CUDA, from the pinned source --------------------------------------------------------------
if [ ! -f "$W/build/bin/llama-server" ]; then
  log "building llama.cpp (CUDA, sm_90) on $(nproc) cores"
  tar -xJf "$STAGE/llama-src.tar.xz" -C "$W"
  cmake -S "$W/llama.cpp" -B "$W/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=ON \
    > "$LOGS/cmake.log" 2>&1 || { log "cmake failed"; tail -30 "$LOGS/cmake.log"; exit 1; }
  cmake --build "$W/build" -j"$(nproc)" --target llama-server llama-bench llama-batched-bench \
    > "$LOGS/build.log" 2>&1 || { log "build failed"; tail -40 "$LOGS/build.log"; exit 1; }
  log "built"
fi
LIB=$W/build/bin
export LD_LIBRARY_PATH=$LIB:${LD_LIBRARY_PATH:-}

# --- the synthetic model --------------------------------------------------------------------------------------
MODEL=$W/models/llama3-8b-q4_0.gguf
[ -f "$MODEL" ] || $JAVA -cp "$CP" dev.gantry.models.synthetic.SyntheticModel llama3-8b \
  "$STAGE/vocab/ggml-vocab-llama-bpe.gguf" "$MODEL" Q4_0 | tee -a "$OUT/log.txt"
{
  nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
  $JAVA -jar "$STAGE/runtime.jar" gpus --llama-lib "$LIB" 2>/dev/null
} > "$OUT/gpus.txt"
cat "$OUT/gpus.txt"

# --- ceilings: llama-bench and llama-batched-bench on GPU 0 -----------------------------------------------------
{
  CUDA_VISIBLE_DEVICES=0 "$LIB/llama-bench" -m "$MODEL" -p 512 -n 128 -fa 1 -r 3 -o md 2>/dev/null
  CUDA_VISIBLE_DEVICES=0 "$LIB/llama-batched-bench" -m "$MODEL" -c 40960 -b 2048 -ub 512 -npp 100 -ntg 128 \
    -npl 1,64 -fa 1 2>/dev/null | grep -E '^\|'
} > "$OUT/anchors.txt" 2>&1
log "anchors done"

wait_up() { # url
  for _ in $(seq 1 240); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}
levels_1gpu="1 8 32 64 128"
levels_ngpu="$NGPU 16 64 128"
[ -n "$QUICK" ] && levels_1gpu="1 64" && levels_ngpu="$NGPU 64"
requests_for() { case $1 in 1) echo 8 ;; 2|4|8) echo 4 ;; 16) echo 3 ;; *) echo 2 ;; esac; }
drive() { # label api urls clients
  $LOAD --url "$3" --api "$2" --model llama3-8b-q4_0 --clients "$4" --requests "$(requests_for "$4")" \
    --num-predict 128 --prompt-words 100 --label "$1" --out "$RESULTS" 2>>"$LOGS/load.err" | tee -a "$OUT/log.txt"
}

# --- Gantry ---------------------------------------------------------------------------------------------------
gantry() { # label gpus-spec levels
  OLLAMA_NUM_PARALLEL=128 OLLAMA_CONTEXT_LENGTH=1024 OLLAMA_KEEP_ALIVE=-1 GANTRY_CACHE_DIR=$W/cache \
    $JAVA -jar "$STAGE/runtime.jar" --llama-lib "$LIB" --models "$W/models" --port 11500 --gpus "$2" \
    > "$OUT/$1.log" 2>&1 &
  local pid=$!
  wait_up http://127.0.0.1:11500/ || { log "gantry did not start"; tail -20 "$OUT/$1.log"; }
  curl -s http://127.0.0.1:11500/api/generate -d '{"model":"llama3-8b-q4_0","prompt":"warm up","options":{"num_predict":8}}' >/dev/null
  for c in $3; do drive "$1" ollama http://127.0.0.1:11500 "$c"; done
  kill $pid; wait $pid 2>/dev/null
}
gantry gantry-1gpu 0 "$levels_1gpu"
if [ "$NGPU" -ge 2 ]; then
  gantry "gantry-${NGPU}gpu" "$(seq -s, 0 $((NGPU - 1)))" "$levels_ngpu"
fi

# --- llama-server ---------------------------------------------------------------------------------------------
server() { # gpu port extra-args...
  local gpu=$1 port=$2; shift 2
  CUDA_VISIBLE_DEVICES=$gpu "$LIB/llama-server" -m "$MODEL" -ngl 99 -c $((128 * 1024)) -np 128 -fa on \
    --host 127.0.0.1 --port "$port" "$@" > "$LOGS/llama-server-$gpu-$port.log" 2>&1 &
  echo $!
}
pid=$(server 0 11600)
wait_up http://127.0.0.1:11600/health || log "llama-server did not start"
for c in $levels_1gpu; do drive llama-server-1gpu llamacpp http://127.0.0.1:11600 "$c"; done
kill "$pid"; wait "$pid" 2>/dev/null
pid=$(server 0 11601 --backend-sampling)
wait_up http://127.0.0.1:11601/health || log "llama-server --backend-sampling did not start"
for c in 64 128; do drive llama-server-1gpu-backend-sampling llamacpp http://127.0.0.1:11601 "$c"; done
kill "$pid"; wait "$pid" 2>/dev/null
if [ "$NGPU" -ge 2 ]; then
  pids=() urls=()
  for g in $(seq 0 $((NGPU - 1))); do pids+=("$(server "$g" $((11700 + g)))"); urls+=("http://127.0.0.1:$((11700 + g))"); done
  for u in "${urls[@]}"; do wait_up "$u/health"; done
  for c in $levels_ngpu; do drive "llama-server-${NGPU}gpu" llamacpp "$(IFS=,; echo "${urls[*]}")" "$c"; done
  kill "${pids[@]}"; wait 2>/dev/null
fi

# --- the load tool's own ceiling --------------------------------------------------------------------------------
$JAVA -cp "$CP" dev.gantry.bench.load.CannedServer 11800 > "$LOGS/canned.log" 2>&1 &
pid=$!
sleep 1
$LOAD --url http://127.0.0.1:11800 --api ollama --model canned --clients 128 --requests 4 --num-predict 128 \
  --label canned-128 --out "$RESULTS" | tee -a "$OUT/log.txt"
kill $pid

# --- table ----------------------------------------------------------------------------------------------------
{
  echo "| run | clients | tok/s | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ok | 503 | failed |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  sed -E 's/.*"label":"([^"]*)".*"clients":([0-9]+).*"ok":([0-9]+),"busy":([0-9]+),"failed":([0-9]+).*"tokens_per_second":([0-9.]+),"ttft_p50_ms":([0-9.]+),"ttft_p99_ms":([0-9.]+),"itl_p50_ms":([0-9.]+).*/| \1 | \2 | \6 | \7 | \8 | \9 | \3 | \4 | \5 |/' "$RESULTS"
  echo
  cat "$OUT/anchors.txt"
} > "$OUT/table.md"
cat "$OUT/table.md"
