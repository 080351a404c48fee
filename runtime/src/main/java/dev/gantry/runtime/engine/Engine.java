package dev.gantry.runtime.engine;

import java.util.List;

/**
 * One loaded model replica, as the runner sees it: the vocabulary, the chat template and a way to open a decoding
 * session. The seam between the scheduler and llama.cpp: scheduler tests use a fake, the real one is
 * {@code LlamaCppEngine}.
 *
 * <p>The vocabulary and template methods are thread-safe (request threads tokenize). {@link #openSession} and
 * everything on the session belong to the one runner thread.
 */
public interface Engine extends AutoCloseable {
    EngineInfo info();

    int[] tokenize(String text, boolean addSpecial, boolean parseSpecial);

    /** The bytes a generated token stands for (possibly part of a UTF-8 character). */
    byte[] piece(int token);

    /**
     * The text of {@code tokens} such that tokenizing it again (without special tokens added) gives them back: the
     * space a tokenizer puts before the first word is left out. The default joins the pieces.
     */
    default String detokenize(int[] tokens) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int t : tokens) {
            out.writeBytes(piece(t));
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    boolean isEndOfGeneration(int token);

    /** Whether the model carries its own chat template (otherwise a generic one is used for chat). */
    default boolean hasChatTemplate() {
        return true;
    }

    /** The GGUF's Jinja chat template ({@code tokenizer.chat_template}), if it has one. */
    default java.util.Optional<String> chatTemplateSource() {
        return java.util.Optional.empty();
    }

    /** The text of the BOS and EOS tokens, which chat templates write as {@code bos_token}/{@code eos_token}. */
    default String[] specialTokenTexts() {
        return new String[] {"", ""};
    }

    /** Renders a conversation with the model's chat template, ending with the assistant's turn when asked. */
    String applyChatTemplate(List<ChatMessage> messages, boolean addAssistant);

    /** Floats in one embedding; 0 when the engine cannot embed. */
    default int embeddingSize() {
        return 0;
    }

    /** How this model pools token embeddings into one vector. */
    default Pooling pooling() {
        return Pooling.MEAN;
    }

    /**
     * True for an encoder-only model (BERT, nomic-bert and their kin): it keeps no KV cache, attends across all of
     * an input at once, and only embeds. Its runner decodes each input whole in one step (a step may carry up to
     * {@link SessionParams#batchCapacity()} tokens in one pass) and refuses generations.
     */
    default boolean wholeInputs() {
        return false;
    }

    /**
     * How a reranker ({@link Pooling#RANK}) joins a query and a document into one input: the model's {@code rerank}
     * template (with {@code {query}} and {@code {document}}), or the tokenizer's special tokens around the two texts
     * (BERT's [CLS] query [SEP] document [SEP]). Empty for other models.
     */
    default java.util.Optional<PairFormat> pairFormat() {
        return java.util.Optional.empty();
    }

    /**
     * A reranker's pair format: {@code template} where the model has one (else null), else the special tokens and
     * whether the tokenizer adds each ({@code eos} falls back to {@code sep} where the vocabulary has no EOS).
     */
    record PairFormat(String template, int bos, int eos, int sep, boolean addBos, boolean addEos, boolean addSep) {}

    /** Opens the KV cache and compute buffers; runner thread only. */
    EngineSession openSession(SessionParams params);

    @Override
    void close();

    /** One message of a conversation. */
    record ChatMessage(String role, String content) {}
}
