#!/usr/bin/env bash
# A soak run against a fresh local Gantry (not CI): starts runtime.jar with Native Memory Tracking, drives mixed
# generate/chat/embed load for MINUTES with CLIENTS clients, samples the server's RSS, native memory, heap after GC
# and open files at the start, every 5 minutes and at the end, then stops the server.
#
# usage: bench/soak.sh [MINUTES (30)] [CLIENTS (8)] [MODEL (stories260k)]
# The output goes to the terminal and to bench/results/soak-<time>.txt. Extra server options: GANTRY_SOAK_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
clients=${2:-8}
model=${3:-stories260k}
java_home=$(./mvnw --java-home)
if [ ! -f server/target/runtime.jar ] || ! ls bench/target/gantry-bench-*[0-9T].jar >/dev/null 2>&1; then
  ./mvnw -q -B -ntp -DskipTests package >&2
fi
bench_jar=$(ls bench/target/gantry-bench-*[0-9T].jar | head -1)
port=${GANTRY_SOAK_PORT:-11534}
mkdir -p bench/results
out="bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ).txt"
"$java_home/bin/java" -XX:NativeMemoryTracking=summary --enable-native-access=ALL-UNNAMED \
  -jar server/target/runtime.jar --port "$port" ${GANTRY_SOAK_ARGS:-} > "$out.server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "soak: the server exited; see $out.server.log" >&2; exit 1; }
  sleep 0.5
done
"$java_home/bin/java" -cp "server/target/runtime.jar:$bench_jar" dev.gantry.bench.load.SoakTool \
  --url "http://127.0.0.1:$port" --pid "$server" --model "$model" --minutes "$minutes" --clients "$clients" \
  --jcmd "$java_home/bin/jcmd" | tee "$out"
