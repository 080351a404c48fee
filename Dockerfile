# Gantry for NVIDIA GPUs: runtime.jar on a jlink'd JDK 25, with llama.cpp built for CUDA 13, on CUDA 13's runtime.
#
#   docker build -t gantry:0.1.0 .                                  # CUDA archs 90 (H100/H200)
#   docker build --build-arg CUDA_ARCHS="80;86;89;90" -t gantry .   # more GPU generations, longer build
#   docker run --gpus all -p 11434:11434 -v /srv/models:/models:ro -e GANTRY_API_KEY=... gantry:0.1.0
#
# It listens on 0.0.0.0 inside the container, so it needs GANTRY_API_KEY (or --insecure-no-auth on a trusted
# network). Models are the *.gguf files in /models. Not built in CI; deploy/k8s/ runs it.

ARG CUDA_VERSION=13.0.1
ARG UBUNTU=ubuntu24.04

# ---- llama.cpp (the pinned release) with CUDA: the toolkit is only needed here
FROM nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU} AS llama
ARG CUDA_ARCHS=90
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        cmake ninja-build g++ git npm ca-certificates xz-utils \
    && rm -rf /var/lib/apt/lists/*
COPY native/scripts/ /src/native/scripts/
RUN bash /src/native/scripts/build-llama-cuda.sh /opt/gantry/llama-cuda "${CUDA_ARCHS}"

# ---- the server jar and a small Java runtime holding only the modules Gantry uses
FROM eclipse-temurin:25-jdk AS java
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends maven npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN ./mvnw -B -ntp -q -DskipTests package \
    && jlink --add-modules java.base,java.logging,java.management,jdk.management,jdk.unsupported,java.naming,java.net.http,jdk.crypto.ec,java.xml,jdk.zipfs \
             --strip-debug --no-man-pages --no-header-files --compress zip-6 --output /opt/gantry/jdk \
    && cp server/target/runtime.jar /opt/gantry/runtime.jar

# ---- what runs: CUDA's runtime libraries (libcudart, libcublas) and nothing to build with
FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU}
RUN groupadd --system --gid 10001 gantry && useradd --system --uid 10001 --gid gantry --home-dir /cache gantry \
    && mkdir -p /models /cache && chown gantry:gantry /cache
COPY --from=java /opt/gantry/jdk /opt/gantry/jdk
COPY --from=java /opt/gantry/runtime.jar /opt/gantry/runtime.jar
COPY --from=llama /opt/gantry/llama-cuda /opt/gantry/llama-cuda
ENV PATH=/opt/gantry/jdk/bin:$PATH \
    GANTRY_LLAMA_LIB=/opt/gantry/llama-cuda \
    GANTRY_CACHE_DIR=/cache \
    OLLAMA_MODELS=/models \
    HOME=/cache
USER gantry
EXPOSE 11434 11435
VOLUME ["/models", "/cache"]
ENTRYPOINT ["java", "--enable-native-access=ALL-UNNAMED", "-XX:+ExitOnOutOfMemoryError", "-jar", "/opt/gantry/runtime.jar"]
CMD ["serve", "--host", "0.0.0.0", "--agent-port", "11435", "--require-gpu"]
