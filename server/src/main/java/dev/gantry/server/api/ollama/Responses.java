package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;

/** Ollama's response bodies, as Jackson records (snake_case, nulls left out). */
public final class Responses {
    private Responses() {}

    /**
     * One {@code /api/generate} line; the metrics are set on the last one only, and so is {@code context} (the
     * conversation's tokens, prompt and answer, for a client to send back; not for raw prompts); {@code thinking}
     * only with {@code think} on a model that reasons.
     */
    public record GenerateChunk(String model, String createdAt, String response, String thinking, boolean done,
                                String doneReason, int[] context, Long totalDuration, Long loadDuration,
                                Integer promptEvalCount, Integer promptEvalCachedCount, Long promptEvalDuration,
                                Integer evalCount, Long evalDuration) {}

    /** One {@code /api/chat} line. */
    public record ChatChunk(String model, String createdAt, Message message, boolean done, String doneReason,
                            Long totalDuration, Long loadDuration, Integer promptEvalCount,
                            Integer promptEvalCachedCount, Long promptEvalDuration, Integer evalCount,
                            Long evalDuration) {}

    /** A chat message; {@code thinking} and {@code tool_calls} only when the model produced them. */
    public record Message(String role, String content, String thinking, List<WireToolCall> toolCalls) {
        public Message(String role, String content) {
            this(role, content, null, null);
        }
    }

    /** {@code {"function": {"name": ..., "arguments": {...}}}}, as Ollama sends a tool call. */
    public record WireToolCall(WireFunction function) {}

    /** The arguments as a JSON tree, written whole: their nulls kept and their numbers as Ollama writes them. */
    public record WireFunction(String name, JsonNode arguments) {
        public WireFunction(String name, Map<String, Object> arguments) {
            this(name, GoNumbers.tree(arguments));
        }
    }

    public record Details(String parentModel, String format, String family, List<String> families,
                          String parameterSize, String quantizationLevel) {}

    public record TagModel(String name, String model, String modifiedAt, long size, String digest, Details details) {}

    public record Tags(List<TagModel> models) {}

    public record RunningModel(String name, String model, long size, String digest, Details details, String expiresAt,
                               long sizeVram, int contextLength, List<ReplicaStatus> replicas) {}

    /**
     * Gantry's addition to {@code /api/ps}: where each copy of the model runs and how busy it is. VRAM per GPU is
     * what llama.cpp reported allocating where it did (else the estimate, which {@code estimatedBytesPerGpu} keeps);
     * {@code tokensPerSecond} is the decode rate measured at load, the router's weight (absent with one replica).
     */
    public record ReplicaStatus(int index, List<Integer> gpus, List<String> devices, String split,
                                List<Long> vramBytesPerGpu, List<Long> estimatedBytesPerGpu, Double tokensPerSecond,
                                int active, int waiting, int maxSequences, int kvCellsUsed, int kvCells,
                                RunnerCounters runner) {}

    /**
     * The replica's runner since it started: decode steps and where their time went, and the batch shape the
     * adaptive controller allows now (for diagnosing a slow replica).
     */
    public record RunnerCounters(long steps, int maxSequencesInStep, long promptTokens, long generatedTokens,
                                 long preemptions, double decodeSeconds, double waitSeconds,
                                 double sampleSeconds, double stepSeconds,
                                 int promptBudget, int maxActive, long reusedPromptTokens, long forwardPasses,
                                 long gapFillers, long parkedFillers, long idMoves, long aheadTokens) {}

    public record Running(List<RunningModel> models) {}

    /** {@code messages}: the model's {@code MESSAGE} layer, null (left out) when it has none. */
    /** {@code tensors} only with {@code verbose}, as Ollama lists them. */
    public record Show(String license, String modelfile, String parameters, String template, String system,
                       List<Message> messages, Details details, Map<String, Object> modelInfo,
                       List<String> capabilities, String modifiedAt, List<Tensor> tensors) {}

    /** One tensor of a model: its name, ggml type ({@code Q4_0}, {@code F32}, ...) and shape. */
    public record Tensor(String name, String type, List<Long> shape) {}

    public record Version(String version) {}
}
