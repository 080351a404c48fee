package dev.gantry.runtime.engine.llama;

import dev.gantry.llama.LlamaException;
import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineInfo;
import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.SessionParams;
import java.util.List;

/**
 * {@link Engine} over a llama.cpp model. Owns the model handle. The chat template is llama.cpp's built-in renderer
 * matched against the GGUF's {@code tokenizer.chat_template}; a model without one (or one llama.cpp does not
 * recognise) gets ChatML, as llama.cpp itself falls back.
 */
public final class LlamaCppEngine implements Engine {
    private static final System.Logger LOG = System.getLogger("gantry.engine");

    private final LlamaModelHandle model;
    private final boolean onGpu;
    private final boolean whollyOnGpu;
    private final EngineInfo info;
    private final String chatTemplate;
    private final int embeddingSize;
    private final dev.gantry.runtime.engine.Pooling pooling;
    private final boolean wholeInputs;


    /** {@code whollyOnGpu}: every layer, the output's too, on GPUs (a decode runs apart from the host). */
    LlamaCppEngine(LlamaModelHandle model, boolean onGpu, boolean whollyOnGpu, List<String> devices) {
        this.model = model;
        this.onGpu = onGpu;
        this.whollyOnGpu = whollyOnGpu;
        this.info = new EngineInfo(model.vocabSize(), model.contextTrainLength(), model.sizeBytes(),
                model.parameterCount(), onGpu ? "gpu" : "cpu", devices, onGpu ? model.sizeBytes() : 0, onGpu);
        this.chatTemplate = pickTemplate(model);
        // read once: the runner asks for both in its step loop
        this.pooling = dev.gantry.runtime.engine.Pooling.fromLlama(model.poolingType());
        // a reranker's sequences give its classifier's outputs, the score first
        this.embeddingSize = pooling == dev.gantry.runtime.engine.Pooling.RANK ? model.classifierOutputs()
                : model.embeddingOutputLength();
        this.wholeInputs = dev.gantry.models.gguf.GgufMetadata.keepsNoKvCache(
                model.metadata("general.architecture").orElse(""));
    }

    private static String pickTemplate(LlamaModelHandle model) {
        String t = model.chatTemplate().orElse(null);
        if (t == null) {
            return "chatml";
        }
        try {
            LlamaModelHandle.applyChatTemplate(t, List.of(new LlamaModelHandle.ChatMessage("user", "x")), true);
            return t;
        } catch (LlamaException e) {
            LOG.log(System.Logger.Level.WARNING, "{0}: llama.cpp has no built-in renderer for this model''s chat "
                    + "template; its fallback (after the Jinja renderer) is ChatML", model.path().getFileName());
            return "chatml";
        }
    }

    public LlamaModelHandle model() {
        return model;
    }

    @Override
    public EngineInfo info() {
        return info;
    }

    @Override
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        return model.tokenize(text, addSpecial, parseSpecial);
    }

    @Override
    public byte[] piece(int token) {
        return model.piece(token);
    }

    @Override
    public String detokenize(int[] tokens) {
        return model.detokenize(tokens, true, true);
    }

    @Override
    public boolean isEndOfGeneration(int token) {
        return model.isEndOfGeneration(token);
    }

    @Override
    public boolean hasChatTemplate() {
        return model.chatTemplate().isPresent();
    }

    @Override
    public java.util.Optional<String> chatTemplateSource() {
        return model.chatTemplate();
    }

    @Override
    public String[] specialTokenTexts() {
        return new String[] {model.tokenText(model.bos()), model.tokenText(model.eos())};
    }

    @Override
    public String applyChatTemplate(List<ChatMessage> messages, boolean addAssistant) {
        return LlamaModelHandle.applyChatTemplate(chatTemplate,
                messages.stream().map(m -> new LlamaModelHandle.ChatMessage(m.role(), m.content())).toList(),
                addAssistant);
    }

    @Override
    public java.util.Optional<PairFormat> pairFormat() {
        if (pooling != dev.gantry.runtime.engine.Pooling.RANK) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(new PairFormat(model.namedTemplate("rerank").orElse(null), model.bos(),
                model.eos() >= 0 ? model.eos() : model.sep(), model.sep(), model.addsBos(), model.addsEos(),
                model.addsSep()));
    }

    @Override
    public int embeddingSize() {
        return embeddingSize;
    }

    @Override
    public dev.gantry.runtime.engine.Pooling pooling() {
        return pooling;
    }

    @Override
    public EngineSession openSession(SessionParams params) {
        return new LlamaCppSession(model, params, onGpu, whollyOnGpu, wholeInputs);
    }

    @Override
    public boolean wholeInputs() {
        return wholeInputs;
    }

    @Override
    public void close() {
        model.close();
    }
}
