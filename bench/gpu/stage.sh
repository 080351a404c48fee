#!/usr/bin/env bash
# Stages everything a GPU host without registry access needs for bench/gpu/run.sh, under bench/gpu/stage/
# (ignored by git; passed to the device with `carry: ["bench/gpu/stage"]`, 64 MiB at most):
#   jdk.tgz            a jlink'd JDK 25 runtime
#   runtime.jar        Gantry (also holds the synthetic-model writer)
#   gantry-bench.jar   the load tool and the canned-token server (classes only; Jackson comes from runtime.jar)
#   llama-src.tar.xz   llama.cpp v0.5.0's source from npm node-llama-cpp@3.22.1 (sha256-checked), without models/
#   vocab/             the Llama 3 tokenizer GGUF for the synthetic 8B and 70B models (xz: 1.5 MB against 7.5), and
#                      BERT's WordPiece one for the synthetic embedding model, Qwen2's for the synthetic Qwen3 reranker
#   gpu-tests.jar      the native and runtime test classes, for the tests that need a GPU (run.sh's gputests)
#   junit-console.jar  JUnit's console launcher (the GPU host has no Maven)
set -euo pipefail
cd "$(dirname "$0")/../.."
stage=bench/gpu/stage
rm -rf "$stage" && mkdir -p "$stage/vocab"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash native/scripts/fetch-llama-source.sh "$work"
(cd "$work/llama.cpp" && git archive --format=tar --prefix=llama.cpp/ HEAD \
   ':(exclude)models' ':(exclude)docs' ':(exclude)examples' ':(exclude)gguf-py' ':(exclude)media' \
   ':(exclude)pocs' ':(exclude)conversion' ':(exclude)benches' ':(exclude)ci' \
   ':(exclude)requirements' \
 ) | xz -9 -T2 > "$stage/llama-src.tar.xz"

java_home=$(./mvnw --java-home)
[ -f server/target/runtime.jar ] && [ -f bench/target/gantry-bench-*.jar ] || ./mvnw -q -B -DskipTests install
"$java_home/bin/jlink" --add-modules java.base,java.logging,java.management,jdk.management,jdk.unsupported,java.naming,java.net.http,jdk.crypto.ec,java.xml,jdk.zipfs,jdk.httpserver \
  --strip-debug --no-man-pages --no-header-files --output "$work/jdk"
tar -czf "$stage/jdk.tgz" -C "$work" jdk
# without its bundled CPU libraries (about 8 MB packed): the GPU host loads the CUDA build it makes (GANTRY_LLAMA_LIB),
# and the carried tree must stay under 64 MiB
python3 - server/target/runtime.jar "$stage/runtime.jar" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as src, zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as out:
    for entry in src.infolist():
        if not entry.filename.startswith("gantry/llama/"):
            out.writestr(entry, src.read(entry.filename))
PY
cp bench/target/gantry-bench-*[0-9T].jar "$stage/gantry-bench.jar"
xz -9 -T2 -c ../shared/llama-data/vocab/ggml-vocab-llama-bpe.gguf > "$stage/vocab/ggml-vocab-llama-bpe.gguf.xz"
xz -9 -T2 -c ../shared/llama-data/vocab/ggml-vocab-bert-bge.gguf > "$stage/vocab/ggml-vocab-bert-bge.gguf.xz"
xz -9 -T2 -c ../shared/llama-data/vocab/ggml-vocab-qwen2.gguf > "$stage/vocab/ggml-vocab-qwen2.gguf.xz"
# the GPU tests (native's and runtime's test classes) and JUnit's console launcher to run them without Maven
"$java_home/bin/jar" --create --file "$stage/gpu-tests.jar" -C native/target/test-classes . \
  -C runtime/target/test-classes .
console=org/junit/platform/junit-platform-console-standalone/6.1.3/junit-platform-console-standalone-6.1.3.jar
[ -f "$HOME/.m2/repository/$console" ] || ./mvnw -q -B -ntp dependency:get \
  -Dartifact=org.junit.platform:junit-platform-console-standalone:6.1.3
cp "$HOME/.m2/repository/$console" "$stage/junit-console.jar"
du -sh "$stage"/* | sed 's/^/stage: /'
du -sh "$stage" | sed 's/^/stage: total /'
