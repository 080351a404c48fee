package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.runtime.LoadOptions;
import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.runner.Embedding;
import dev.gantry.server.http.ApiException;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * {@code POST /api/embed} and the older {@code POST /api/embeddings}. Each input becomes an embedding sequence of the
 * model's runner, decoded in the same steps as its generations; a request's inputs are queued up to 256 at a time,
 * so they batch with each other too. A closed connection cancels the inputs still queued or decoding.
 */
public final class EmbedHandlers {
    private static final System.Logger LOG = System.getLogger("gantry.api");

    private final ModelManager models;

    public EmbedHandlers(ModelManager models) {
        this.models = models;
    }

    /** What both endpoints send back. */
    public record EmbedResponse(String model, List<float[]> embeddings, Long totalDuration, Long loadDuration,
                                Integer promptEvalCount) {}

    public record LegacyResponse(float[] embedding) {}

    /** Inputs of one request queued at a time: half the default wait queue, so others still find room. */
    static final int WAVE = 256;

    public void embed(Exchange ex) throws InterruptedException {
        embed(ex, false);
    }

    /**
     * {@link #embed(Exchange)}, where an input may also be a list of token ids (OpenAI's and llama-server's
     * {@code /v1/embeddings}), embedded as given: no special tokens are added. Ollama's own endpoint takes text only.
     */
    public void embedTokensToo(Exchange ex) throws InterruptedException {
        embed(ex, true);
    }

    private void embed(Exchange ex, boolean tokenArrays) throws InterruptedException {
        long start = System.nanoTime();
        ObjectNode body = Json.parseObject(ex.body());
        String model = Json.requiredString(body, "model");
        List<Input> inputs = inputs(body.get("input"), tokenArrays);
        boolean truncate = Json.bool(body, "truncate").orElse(true);
        int dimensions = dimensions(body.get("dimensions"));
        Duration keepAlive = KeepAlive.parse(body.get("keep_alive"));
        refuseReranker(model);
        // sampling options do not apply; the load options (num_ctx, num_gpu, ...) do, as for a generation
        LoadOptions load = OllamaOptions.parse(Json.object(body, "options").orElse(null)).load();
        LoadedModel.Lease lease = ModelLeases.forRequest(models, ex, model, keepAlive, load);
        LoadedModel m = lease.model();
        long loadNanos = System.nanoTime() - start;
        if (inputs.isEmpty()) {
            unloadIfAsked(lease, keepAlive);
            ex.sendJson(200, Json.write(new EmbedResponse(model, List.of(), null, null, null)));
            return;
        }
        List<Embedding> results = run(ex, m, inputs, truncate);
        List<float[]> vectors = new ArrayList<>(results.size());
        int tokens = 0;
        for (Embedding e : results) {
            vectors.add(EmbeddingVectors.truncate(EmbeddingVectors.normalize(e.vector()), dimensions));
            tokens += e.promptTokens();
        }
        ex.sendJson(200, Json.write(new EmbedResponse(model, vectors, System.nanoTime() - start, loadNanos, tokens)));
    }

    /** The older endpoint: one {@code prompt}, the vector as the model pooled it (not normalised, as in Ollama). */
    public void embeddings(Exchange ex) throws InterruptedException {
        ObjectNode body = Json.parseObject(ex.body());
        String model = Json.requiredString(body, "model");
        String prompt = Json.string(body, "prompt").orElse("");
        Duration keepAlive = KeepAlive.parse(body.get("keep_alive"));
        refuseReranker(model);
        LoadOptions load = OllamaOptions.parse(Json.object(body, "options").orElse(null)).load();
        LoadedModel.Lease lease = ModelLeases.forRequest(models, ex, model, keepAlive, load);
        LoadedModel m = lease.model();
        if (prompt.isEmpty()) {
            unloadIfAsked(lease, keepAlive);
            ex.sendJson(200, Json.write(new LegacyResponse(new float[0])));
            return;
        }
        Embedding e = run(ex, m, List.of(new Input(prompt, null)), true).getFirst();
        ex.sendJson(200, Json.write(new LegacyResponse(e.vector())));
    }

    private static final String RERANKER = "this model is a reranker: it scores documents against a query "
            + "(POST /v1/rerank) and has no embeddings";

    /** A reranker is refused before it loads, where the store tells. */
    private void refuseReranker(String model) {
        if (Capabilities.lookUp(models, model).filter(l -> Capabilities.namesRankPooling(l.metadata())).isPresent()) {
            throw ApiException.badRequest(RERANKER);
        }
    }

    /** One input: its text, or the token ids a client sent instead (then {@code text} is null). */
    private record Input(String text, int[] tokens) {}

    /**
     * Token inputs of a model that scores rather than embeds (a reranker's pairs), each its output (the scores), in
     * order; each input must fit the model's context.
     */
    List<Embedding> score(Exchange ex, LoadedModel m, List<int[]> inputs) throws InterruptedException {
        List<Input> in = new ArrayList<>(inputs.size());
        for (int[] t : inputs) {
            in.add(new Input(null, t));
        }
        return embed(ex, m, in, false);
    }

    private List<Embedding> run(Exchange ex, LoadedModel m, List<Input> inputs, boolean truncate)
            throws InterruptedException {
        if (m.isReranker()) {
            throw ApiException.badRequest(RERANKER);
        }
        return embed(ex, m, inputs, truncate);
    }

    private List<Embedding> embed(Exchange ex, LoadedModel m, List<Input> inputs, boolean truncate)
            throws InterruptedException {
        if (m.embeddingSize() <= 0) {
            throw ApiException.badRequest("this model does not support embeddings");
        }
        int ctx = m.contextLength();
        int vocab = m.engineInfo().vocabSize();
        List<int[]> tokenized = new ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) {
            Input in = inputs.get(i);
            int[] t = in.tokens() != null ? in.tokens() : m.tokenize(in.text(), true, true);
            if (t.length == 0) {
                throw ApiException.badRequest("cannot embed an empty input");
            }
            if (in.tokens() != null) {
                requireInVocabulary(t, vocab, i);
            }
            if (t.length > ctx) {
                if (!truncate) {
                    throw ApiException.badRequest("the input length exceeds the context length (" + t.length
                            + " tokens, context " + ctx + ")");
                }
                LOG.log(System.Logger.Level.DEBUG, "truncated an embedding input of {0} tokens to {1}", t.length, ctx);
                // token ids are cut as sent: the client chose its special tokens
                t = in.tokens() != null ? java.util.Arrays.copyOf(t, ctx)
                        : truncate(t, m.tokenize(in.text(), false, true), ctx);
            }
            tokenized.add(t);
        }
        // In waves: all of a large request's inputs queued at once overflowed the runner's queue (20,000 inputs
        // were a 503 "server busy" on an idle server); a wave still batches its inputs with each other.
        java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
        List<CompletableFuture<Embedding>> current = new java.util.concurrent.CopyOnWriteArrayList<>();
        ex.onClose(() -> {
            closed.set(true);
            current.forEach(f -> f.cancel(false));
        });
        // the request counts once toward the runner's queue bound until it is answered, whatever its size
        try (dev.gantry.runtime.runner.Runner.Admission admission = m.admitEmbeddings()) {
            return waves(m, tokenized, closed, current);
        }
    }

    /** The inputs' vectors, in waves of {@link #WAVE} inputs. */
    private static List<Embedding> waves(LoadedModel m, List<int[]> tokenized,
                                         java.util.concurrent.atomic.AtomicBoolean closed,
                                         List<CompletableFuture<Embedding>> current) throws InterruptedException {
        List<Embedding> out = new ArrayList<>(tokenized.size());
        for (int from = 0; from < tokenized.size(); from += WAVE) {
            if (closed.get()) {
                throw new ApiException(499, "the client closed the request");
            }
            current.clear(); // the wave in flight, which a closed connection cancels
            try {
                for (int i = from; i < Math.min(from + WAVE, tokenized.size()); i++) {
                    current.add(m.embed(tokenized.get(i), true)); // the request was let in as a whole
                }
            } catch (RuntimeException e) {
                current.forEach(f -> f.cancel(false));
                throw e;
            }
            try {
                for (CompletableFuture<Embedding> f : current) {
                    out.add(f.get());
                }
            } catch (ExecutionException e) {
                current.forEach(f -> f.cancel(false));
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            } catch (CancellationException e) {
                throw new ApiException(499, "the client closed the request");
            }
        }
        return out;
    }

    /**
     * The first tokens of an input that fit {@code ctx}, keeping the special tokens the tokenizer put around it: BERT's
     * [CLS] and [SEP] (or a BOS and an EOS) stay at the ends, as Ollama cuts the text to leave room for them.
     *
     * @param withSpecials the input tokenized with its special tokens
     * @param plain        the same text without them
     */
    static int[] truncate(int[] withSpecials, int[] plain, int ctx) {
        int added = withSpecials.length - plain.length;
        int lead = added > 0 && (plain.length == 0 || withSpecials[0] != plain[0]) ? 1 : 0;
        int trail = Math.max(0, added - lead);
        int keep = Math.max(0, ctx - lead - trail);
        if (added < 0 || keep == 0) {
            return java.util.Arrays.copyOf(withSpecials, ctx); // not the expected shape: the plain cut
        }
        int[] out = new int[lead + keep + trail];
        System.arraycopy(withSpecials, 0, out, 0, lead);
        System.arraycopy(plain, 0, out, lead, keep);
        System.arraycopy(withSpecials, withSpecials.length - trail, out, lead + keep, trail);
        return out;
    }

    /** A token id a client sent must name one of the model's tokens (llama.cpp refuses the batch otherwise). */
    private static void requireInVocabulary(int[] tokens, int vocab, int input) {
        int at = TokenIds.outside(tokens, vocab);
        if (at >= 0) {
            throw ApiException.badRequest("input[" + input + "] holds the token id " + tokens[at] + ", which is not in "
                    + "the model's vocabulary of " + vocab + " tokens");
        }
    }

    private static List<Input> inputs(JsonNode node, boolean tokenArrays) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (node.isTextual()) {
            return node.textValue().isEmpty() ? List.of() : List.of(new Input(node.textValue(), null));
        }
        if (!node.isArray()) {
            throw Json.wrongType("input", "a string or a list of strings", node);
        }
        List<Input> out = new ArrayList<>(node.size());
        int i = 0;
        for (JsonNode n : node) {
            if (n.isTextual()) {
                out.add(new Input(n.textValue(), null));
            } else if (tokenArrays && n.isArray()) {
                int at = i;
                out.add(new Input(null, TokenIds.parse(n).orElseThrow(() -> ApiException.badRequest(
                        "input[" + at + "] must be a list of token ids (integers from 0)"))));
            } else {
                throw Json.wrongType("input[" + i + "]", tokenArrays ? "a string or a list of token ids" : "a string",
                        n);
            }
            i++;
        }
        return out;
    }

    private static int dimensions(JsonNode node) {
        if (node == null || node.isNull()) {
            return 0;
        }
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw Json.wrongType("dimensions", "an integer", node);
        }
        return Math.max(0, node.intValue()); // Ollama truncates only to a positive number: below is the whole vector
    }

    /** An empty input only loads; with {@code keep_alive: 0} it unloads (a request with inputs expires as usual). */
    private void unloadIfAsked(LoadedModel.Lease lease, Duration keepAlive) {
        if (keepAlive != null && keepAlive.isZero()) {
            models.unload(lease);
        }
    }
}
