package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.runtime.LoadOptions;
import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.runner.Embedding;
import dev.gantry.server.http.ApiException;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code POST /v1/rerank} (and llama-server's {@code /rerank}, {@code /v1/reranking}, {@code /reranking}): a reranker
 * (an encoder whose GGUF names rank pooling, as {@code bge-reranker} does) scores each document against the query.
 * Each pair is one input of the model's runner, [CLS] query [SEP] document [SEP] as its tokenizer marks a pair (or
 * the model's {@code rerank} template), so a request's pairs batch with each other as embedding inputs do. The
 * answer is llama-server's (and Jina's): {@code results} of {@code index} and {@code relevance_score} (the
 * classifier's raw output), best first, {@code top_n} of them, each with its {@code document} where
 * {@code return_documents} asks; a request in Text Embeddings Inference's form ({@code texts}, {@code return_text})
 * gets its answer, a bare list of {@code index} and {@code score}. Ollama has no such endpoint.
 */
public final class RerankHandlers {
    private static final String NOT_A_RERANKER = "this model is not a reranker (its GGUF names no rank pooling)";
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{query}|\\{document}");

    private final ModelManager models;
    private final EmbedHandlers embeds;

    public RerankHandlers(ModelManager models, EmbedHandlers embeds) {
        this.models = models;
        this.embeds = embeds;
    }

    public void rerank(Exchange ex) throws InterruptedException {
        ObjectNode body = Json.parseObject(ex.body());
        String model = Json.requiredString(body, "model");
        JsonNode q = body.get("query");
        if (q == null || q.isNull()) {
            throw ApiException.badRequest("query is required");
        }
        if (!q.isTextual()) {
            throw Json.wrongType("query", "a string", q);
        }
        // Text Embeddings Inference's form (as llama-server takes it): texts for documents, a bare list answered
        boolean tei = !body.has("documents") && body.has("texts");
        List<String> documents = documents(body.get(tei ? "texts" : "documents"), tei ? "texts" : "documents");
        int topN = topN(body.get("top_n"), documents.size());
        boolean returnDocuments = Json.bool(body, tei ? "return_text" : "return_documents").orElse(false);
        Duration keepAlive = KeepAlive.parse(body.get("keep_alive"));
        // refused before it loads where the store tells (a large chat model would load only to be refused)
        java.util.Optional<dev.gantry.models.LocalModel> known = Capabilities.lookUp(models, model);
        if (known.filter(l -> Capabilities.namesRankPooling(l.metadata()) && !Capabilities.reranks(l.metadata()))
                .isPresent()) {
            throw ApiException.badRequest("this reranker's architecture (" + known.get().metadata().architecture()
                    + ") is not served: llama.cpp scores encoders and Qwen3 rerankers with their classifier head");
        }
        if (known.filter(l -> !Capabilities.reranks(l.metadata())).isPresent()) {
            throw ApiException.badRequest(NOT_A_RERANKER);
        }
        LoadOptions load = OllamaOptions.parse(Json.object(body, "options").orElse(null)).load();
        LoadedModel m = ModelLeases.forRequest(models, ex, model, keepAlive, load).model();
        Engine.PairFormat format = m.pairFormat().orElseThrow(() -> ApiException.badRequest(NOT_A_RERANKER));
        List<int[]> pairs = new ArrayList<>(documents.size());
        for (String d : documents) {
            pairs.add(pair(m, format, q.textValue(), d));
        }
        List<Embedding> scores = embeds.score(ex, m, pairs);
        Integer[] order = new Integer[scores.size()];
        int tokens = 0;
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
            tokens += pairs.get(i).length;
        }
        // best first; NaN (a broken head) last; equal scores in the documents' order
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> {
            float s = scores.get(i).vector()[0];
            return Float.isNaN(s) ? Double.NEGATIVE_INFINITY : -s;
        }));
        if (tei) {
            ArrayNode list = Json.MAPPER.createArrayNode();
            for (int k = 0; k < topN; k++) {
                int i = order[k];
                ObjectNode r = list.addObject().put("index", i).put("score", scores.get(i).vector()[0]);
                if (returnDocuments) {
                    r.put("text", documents.get(i));
                }
            }
            ex.sendJson(200, Json.write(list));
            return;
        }
        ObjectNode out = Json.MAPPER.createObjectNode();
        out.put("model", model);
        out.put("object", "list");
        out.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        ArrayNode results = out.putArray("results");
        for (int k = 0; k < topN; k++) {
            int i = order[k];
            ObjectNode r = results.addObject().put("index", i).put("relevance_score", scores.get(i).vector()[0]);
            if (returnDocuments) {
                r.putObject("document").put("text", documents.get(i));
            }
        }
        ex.sendJson(200, Json.write(out));
    }

    /**
     * One query-document pair as the reranker reads it, cut to its context: the model's {@code rerank} template
     * with both filled in, else [BOS] query [EOS] [SEP] document [EOS] with each special token where the tokenizer
     * adds it, the document closed by [SEP] where the tokenizer adds no EOS (for a BERT: [CLS] query [SEP] document
     * [SEP]; for an XLM-RoBERTa, as bge-reranker-v2-m3: {@code <s>} query {@code </s></s>} document {@code </s>}). A
     * pair too long loses the document's end.
     */
    static int[] pair(LoadedModel m, Engine.PairFormat f, String query, String document) {
        int ctx = m.contextLength();
        if (f.template() != null) {
            int[] t = m.tokenize(fill(f.template(), query, document), false, true);
            if (t.length <= ctx) {
                return t;
            }
            // too long: the template's text around the document whole, the document's tokens cut to what is left
            String marked = fill(f.template(), query, "\u0000");
            int at = marked.lastIndexOf('\u0000');
            if (at < 0) { // a template without the document: the query alone is too long
                throw ApiException.badRequest("the query is too long for the model's context");
            }
            int[] before = m.tokenize(marked.substring(0, at), false, true);
            int[] after = m.tokenize(marked.substring(at + 1), false, true);
            int room = ctx - before.length - after.length;
            if (room < 1) {
                throw ApiException.badRequest("the query leaves no room for a document in the model's context");
            }
            int[] d = m.tokenize(document, false, false);
            return concat(before, Arrays.copyOf(d, Math.min(room, d.length)), after);
        }
        int[] q = m.tokenize(query, false, false);
        int[] d = m.tokenize(document, false, false);
        int[] head = concat(f.addBos() && f.bos() >= 0 ? new int[] {f.bos()} : new int[0], q,
                f.addEos() && f.eos() >= 0 ? new int[] {f.eos()} : new int[0],
                f.addSep() && f.sep() >= 0 ? new int[] {f.sep()} : new int[0]);
        // the document ends as a text the tokenizer marks alone does: with its EOS, or (BERT's WordPiece, which adds
        // no EOS) its [SEP], as such a model was trained on pairs; llama-server leaves a BERT's last [SEP] out
        int end = f.addEos() ? f.eos() : f.addSep() ? f.sep() : -1;
        int[] tail = end >= 0 ? new int[] {end} : new int[0];
        int room = ctx - head.length - tail.length;
        if (room < 1) {
            throw ApiException.badRequest("the query leaves no room for a document in the model's context ("
                    + head.length + " tokens with its special tokens, context " + ctx + ")");
        }
        return concat(head, d.length > room ? Arrays.copyOf(d, room) : d, tail);
    }

    /** The template with the query and the document in their places, in one pass (a query's "{document}" stays). */
    private static String fill(String template, String query, String document) {
        return PLACEHOLDER.matcher(template).replaceAll(r -> Matcher.quoteReplacement(
                r.group().equals("{query}") ? query : document));
    }

    private static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) {
            n += p.length;
        }
        int[] out = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** The documents: a non-empty list of strings, or of objects with a {@code text} (as Cohere's API takes them). */
    private static List<String> documents(JsonNode node, String field) {
        if (node == null || node.isNull()) {
            throw ApiException.badRequest(field + " is required");
        }
        if (!node.isArray()) {
            throw Json.wrongType(field, "a list of strings", node);
        }
        if (node.isEmpty()) {
            throw ApiException.badRequest(field + " must not be empty");
        }
        List<String> out = new ArrayList<>(node.size());
        for (int i = 0; i < node.size(); i++) {
            JsonNode d = node.get(i);
            JsonNode text = d.isObject() ? d.get("text") : d;
            if (text == null || !text.isTextual()) {
                throw Json.wrongType(field + "[" + i + "]", "a string or an object with a text", d);
            }
            out.add(text.textValue());
        }
        return out;
    }

    /** How many results to return: {@code top_n} (at least 1), at most every document; all where it is not set. */
    private static int topN(JsonNode node, int documents) {
        if (node == null || node.isNull()) {
            return documents;
        }
        // any whole number from 1 (2.0 too, as Python clients send it); beyond the documents, all of them
        if (!node.isNumber() || node.doubleValue() < 1 || node.decimalValue().stripTrailingZeros().scale() > 0) {
            throw ApiException.badRequest("top_n must be a whole number of at least 1, not " + node);
        }
        return node.canConvertToInt() ? Math.min(node.intValue(), documents) : documents;
    }
}
