#!/usr/bin/env bash
# Gantry's runtime against de.kherud:llama 4.2.0 on the CPU with the tiny model, each engine in its own JVM,
# at 1 and 8 concurrent greedy generations (ignore_eos, so both produce the same number of tokens).
# Prints one JSON line per round and a table last.
#
# usage: bench/compare-peer.sh [MODEL] [TOKENS] [ROUNDS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/src/main/resources/gantry/models/stories260K.gguf}
tokens=${2:-256}
rounds=${3:-5}
threads=${4:-1}
java="$(./mvnw --java-home)/bin/java"
[ -f bench/target/benchmarks.jar ] || ./mvnw -q -B -DskipTests install
out=$(mktemp)
for c in 1 8; do
  for engine in gantry kherud; do
    "$java" --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar dev.gantry.bench.peer.PeerBench \
      "$engine" "$model" "$c" "$tokens" "$rounds" "$threads" 2>/dev/null | grep '^{' | tee -a "$out"
  done
done
echo
echo "| concurrency | gantry tok/s (median) | kherud tok/s (median) | ratio |"
echo "| --- | --- | --- | --- |"
for c in 1 8; do
  g=$(grep "\"engine\":\"gantry\",\"concurrency\":$c," "$out" | sed 's/.*"tokens_per_second":\([0-9.]*\).*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  k=$(grep "\"engine\":\"kherud\",\"concurrency\":$c," "$out" | sed 's/.*"tokens_per_second":\([0-9.]*\).*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "| $c | $g | $k | $(awk -v g="$g" -v k="$k" 'BEGIN {printf "%.2f", g / k}') |"
done
rm -f "$out"
