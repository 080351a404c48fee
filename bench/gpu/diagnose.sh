#!/usr/bin/env bash
# Where a GPU step's time goes: Gantry's runner without HTTP (DecodeBench) with device or host sampling, greedy or
# Ollama's default chain, then the served path at 64 clients with backend sampling on and off.
# usage (GPU host, repo root, stage carried): bash bench/gpu/diagnose.sh
set -uo pipefail
OUT=${OUT:-/tmp/gantry-out}; W=${GANTRY_BENCH_WORK:-/tmp/gantry-bench}; STAGE=$(pwd)/bench/gpu/stage
mkdir -p "$OUT" "$W/models"
tar -xzf "$STAGE/jdk.tgz" -C "$W"; JAVA=$W/jdk/bin/java; CP="$STAGE/runtime.jar:$STAGE/gantry-bench.jar"
if [ ! -f "$W/build/bin/libllama.so" ]; then
  tar -xJf "$STAGE/llama-src.tar.xz" -C "$W"
  cmake -S "$W/llama.cpp" -B "$W/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=ON > "$OUT/cmake.log" 2>&1
  cmake --build "$W/build" -j"$(nproc)" --target llama > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
fi
LIB=$W/build/bin; export LD_LIBRARY_PATH=$LIB
MODEL=$W/models/llama3-8b-q4_0.gguf
[ -f "$MODEL" ] || $JAVA -cp "$CP" dev.gantry.models.synthetic.SyntheticModel llama3-8b "$STAGE/vocab/ggml-vocab-llama-bpe.gguf" "$MODEL" Q4_0
for args in "64 128 device greedy" "64 128 device chain" "64 128 host greedy" "64 128 host chain" "1 128 device chain" "1 128 host chain"; do
  $JAVA --enable-native-access=ALL-UNNAMED -cp "$CP" dev.gantry.bench.gpu.DecodeBench "$LIB" "$MODEL" 0 $args \
    2>>"$OUT/decode-err.log" | grep sequences | tee -a "$OUT/diagnose.jsonl"
done
for bs in on off; do
  GANTRY_BACKEND_SAMPLING=$bs OLLAMA_NUM_PARALLEL=128 OLLAMA_CONTEXT_LENGTH=1024 GANTRY_CACHE_DIR=$W/cache \
    $JAVA -jar "$STAGE/runtime.jar" --llama-lib "$LIB" --models "$W/models" --port 11500 --gpus 0 > "$OUT/gantry-$bs.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do curl -sf http://127.0.0.1:11500/ >/dev/null && break; sleep 0.5; done
  curl -s http://127.0.0.1:11500/api/generate -d '{"model":"llama3-8b-q4_0","prompt":"hi","options":{"num_predict":4}}' >/dev/null
  $JAVA -cp "$CP" dev.gantry.bench.load.LoadTool --url http://127.0.0.1:11500 --model llama3-8b-q4_0 --clients 64 \
    --requests 1 --num-predict 128 --prompt-words 100 --label "served-backend-sampling-$bs" --out "$OUT/diagnose.jsonl"
  kill $pid; wait $pid 2>/dev/null
done
