package dev.gantry.runtime.engine.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.llama.LlamaSampler;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.SequenceSampler;
import dev.gantry.runtime.engine.SessionParams;
import dev.gantry.runtime.grammar.JsonGrammar;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import dev.gantry.runtime.testing.RecordingObserver;
import dev.gantry.runtime.testing.TestModels;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Grammars from {@link JsonGrammar} in llama.cpp's grammar sampler, with the tiny model on the CPU. */
class GrammarSamplingTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static Engine engine;
    private static LlamaCppEngine llama;

    @BeforeAll
    static void load() {
        TestModels.llama();
        engine = new LlamaCppEngineFactory().load(TestModels.tinyModel(), new EngineFactory.LoadParams(0, -1, true));
        llama = (LlamaCppEngine) engine;
    }

    @AfterAll
    static void unload() {
        if (engine != null) {
            engine.close();
        }
    }

    private static Map<String, Object> obj(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static final Map<String, Object> PERSON = obj("type", "object",
            "properties", obj("name", obj("type", "string", "maxLength", 6),
                    "mood", obj("enum", List.of("happy", "sad")),
                    "age", obj("type", "integer", "minimum", 0, "maximum", 99),
                    "tags", obj("type", "array", "items", obj("type", "string", "maxLength", 3), "maxItems", 2)),
            "required", List.of("name", "mood", "age"));

    @Test
    void llamaCppParsesEveryGrammarWeWrite() {
        List<String> grammars = List.of(JsonGrammar.anyObject(), JsonGrammar.fromSchema(PERSON),
                JsonGrammar.fromSchema(obj("type", List.of("number", "null"))),
                JsonGrammar.fromSchema(obj("type", "string", "format", "date-time")),
                JsonGrammar.fromSchema(obj("anyOf", List.of(obj("const", "x\ty\"z\\"), obj("type", "boolean")))),
                JsonGrammar.fromSchema(obj("type", "array", "items", obj("$ref", "#"), "minItems", 2, "maxItems", 4)),
                JsonGrammar.fromSchema(obj("type", "object", "additionalProperties", obj("type", "integer"),
                        "properties", obj("\u00fcber \"q\"", obj("type", "string", "format", "uuid")),
                        "required", List.of("\u00fcber \"q\""))));
        for (String g : grammars) {
            try (LlamaSampler s = LlamaSampler.chain().grammar(llama.model(), g, "root").greedy().build()) {
                assertTrue(s.hasGrammar(), g);
            }
        }
        assertThrows(IllegalArgumentException.class,
                () -> LlamaSampler.chain().grammar(llama.model(), "root ::= missing-rule", "root").build());
    }

    @Test
    void theRunnerOnlyGeneratesWhatTheGrammarAdmits() {
        String grammar = JsonGrammar.fromSchema(obj("enum", List.of("yes", "no", "maybe")));
        Runner runner = Runner.start("grammar", engine, new RunnerConfig(256, 4 * 256, 4, 16, 64, 1, false));
        try {
            List<RecordingObserver> obs = new ArrayList<>();
            for (long seed = 1; seed <= 6; seed++) {
                SamplingParams p = new SamplingParams(1.0f, 40, 0.95f, 0f, 1f, seed, 1f, 64, 0f, 0f)
                        .withGrammar(grammar);
                RecordingObserver o = new RecordingObserver();
                runner.submit(new GenerationRequest(engine.tokenize("Once upon a time", true, false), p, 64), o);
                obs.add(o);
            }
            for (RecordingObserver o : obs) {
                assertEquals(FinishReason.STOP, o.awaitFinish(WAIT).reason(), "the grammar ends the generation");
                String text = text(o.tokens()).strip();
                assertTrue(List.of("\"yes\"", "\"no\"", "\"maybe\"").contains(text), text);
            }
            assertEquals(0, runner.stats().kvCellsUsed());
        } finally {
            runner.close();
        }
    }

    /**
     * A grammar after the reasoning: with the block opened by the prompt, the tiny model (which never writes
     * {@code </think>}) writes freely to its limit; where the model may open one, an answer that opens none is held
     * from its first token, as a grammar from the start holds it; gpt-oss's (harmony) final message never comes. A
     * rebuilt sampler resumes after free tokens.
     */
    @Test
    void aGrammarAfterTheReasoningLeavesTheReasoningFree() {
        String grammar = JsonGrammar.fromSchema(obj("enum", List.of("yes", "no", "maybe")));
        Runner runner = Runner.start("after-thinking", engine, new RunnerConfig(256, 4 * 256, 4, 16, 64, 1, false));
        try {
            Map<SamplingParams.GrammarStart, List<RecordingObserver>> runs = new LinkedHashMap<>();
            for (SamplingParams.GrammarStart start : SamplingParams.GrammarStart.values()) {
                for (long seed = 1; seed <= 3; seed++) {
                    SamplingParams p = new SamplingParams(1.0f, 40, 0.95f, 0f, 1f, seed, 1f, 64, 0f, 0f)
                            .withGrammar(grammar, start);
                    RecordingObserver o = new RecordingObserver();
                    runner.submit(new GenerationRequest(engine.tokenize("Once upon a time", true, false), p, 24), o);
                    runs.computeIfAbsent(start, k -> new ArrayList<>()).add(o);
                }
            }
            runs.forEach((start, obs) -> {
                for (RecordingObserver o : obs) {
                    FinishReason reason = o.awaitFinish(WAIT).reason();
                    String text = text(o.tokens()).strip();
                    // the tiny model writes neither </think> nor harmony's final header: free to its limit
                    if (start == SamplingParams.GrammarStart.AFTER_OPENED_THINKING
                            || start == SamplingParams.GrammarStart.AFTER_HARMONY_FINAL) {
                        assertEquals(FinishReason.LENGTH, reason, text);
                        assertEquals(24, o.tokens().length, text);
                    } else {
                        assertEquals(FinishReason.STOP, reason, start + ": " + text);
                        assertTrue(List.of("\"yes\"", "\"no\"", "\"maybe\"").contains(text), start + ": " + text);
                    }
                }
            });
            assertEquals(0, runner.stats().kvCellsUsed());
        } finally {
            runner.close();
        }
        int[] prompt = engine.tokenize("Lily", true, false);
        int[] free = engine.tokenize(" and Tom went to the park", false, false);
        int[] history = Arrays.copyOf(prompt, prompt.length + free.length);
        System.arraycopy(free, 0, history, prompt.length, free.length);
        try (EngineSession session = engine.openSession(new SessionParams(256, 1, 64, 1, false))) {
            SamplingParams p = SamplingParams.greedyDefaults().withGrammar(grammar,
                    SamplingParams.GrammarStart.AFTER_OPENED_THINKING);
            session.newSampler(0, p, history, prompt.length).close();
            assertThrows(IllegalArgumentException.class, () -> session.newSampler(0,
                    SamplingParams.greedyDefaults().withGrammar(grammar), history, prompt.length),
                    "the same tokens under a grammar from the start");
        }
    }

    @Test
    void aGrammarSequenceIsSampledOnTheHostEvenWhenTheSessionSamplesOnTheDevice() {
        try (EngineSession session = engine.openSession(new SessionParams(256, 2, 64, 1, true))) {
            SamplingParams p = SamplingParams.greedyDefaults().withGrammar(JsonGrammar.anyObject());
            try (SequenceSampler s = session.newSampler(0, p, engine.tokenize("Hi", true, false))) {
                assertFalse(s.onDevice());
            }
        }
    }

    /**
     * A preempted sequence gets a new sampler whose grammar must resume mid-document: fed the generated tokens,
     * never the prompt. Greedy decoding resumed from any point gives the same document as one run.
     */
    @Test
    void aRebuiltSamplerResumesTheGrammarWhereItWas() {
        int[] prompt = engine.tokenize("Lily and Tom", true, false);
        for (SamplingParams p : List.of(SamplingParams.greedyDefaults(),
                new SamplingParams(0f, 40, 0.9f, 0f, 1f, -1, 1.3f, 8, 0f, 0f))) {
            SamplingParams withGrammar = p.withGrammar(JsonGrammar.fromSchema(PERSON));
            try (EngineSession session = engine.openSession(new SessionParams(512, 1, 512, 1, false))) {
                int[] whole = greedy(session, withGrammar, prompt, new int[0], 400);
                String doc = text(whole);
                assertTrue(doc.strip().startsWith("{") && doc.strip().endsWith("}"), doc);
                for (int k : new int[] {1, whole.length / 2, whole.length - 1}) {
                    int[] rest = greedy(session, withGrammar, prompt, Arrays.copyOf(whole, k), 400);
                    assertArrayEquals(Arrays.copyOfRange(whole, k, whole.length), rest, "resumed after " + k
                            + " tokens of " + doc);
                }
            }
        }
    }

    /** Decodes prompt + done on sequence 0 with a fresh sampler, then continues greedily until the end. */
    private static int[] greedy(EngineSession session, SamplingParams p, int[] prompt, int[] done, int max) {
        session.freeSequence(0);
        int[] history = new int[prompt.length + done.length];
        System.arraycopy(prompt, 0, history, 0, prompt.length);
        System.arraycopy(done, 0, history, prompt.length, done.length);
        List<Integer> out = new ArrayList<>();
        try (SequenceSampler sampler = session.newSampler(0, p, history, prompt.length)) {
            session.clearBatch();
            int idx = -1;
            for (int i = 0; i < history.length; i++) {
                idx = session.add(history[i], i, 0, i == history.length - 1);
            }
            int pos = history.length;
            while (out.size() < max) {
                assertEquals(EngineSession.DecodeStatus.OK, session.decode());
                int t = sampler.onDevice() ? -1 : session.sample(sampler, idx);
                if (engine.isEndOfGeneration(t)) {
                    break;
                }
                out.add(t);
                session.clearBatch();
                idx = session.add(t, pos++, 0, true);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static String text(int[] tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int t : tokens) {
            out.writeBytes(engine.piece(t));
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
