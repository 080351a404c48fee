package dev.gantry.runtime.engine.llama;

import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import dev.gantry.runtime.testing.TestModels;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/** The tiny model loaded once on the CPU through the real llama.cpp, and the runners a test starts on it. */
abstract class TinyEngineTestBase {
    static Engine engine;
    static LlamaModelHandle model;
    private final List<Runner> runners = new ArrayList<>();

    @BeforeAll
    static void load() {
        TestModels.llama();
        engine = new LlamaCppEngineFactory().load(TestModels.tinyModel(), new EngineFactory.LoadParams(0, -1, true));
        model = ((LlamaCppEngine) engine).model();
    }

    @AfterAll
    static void unload() {
        if (engine != null) {
            engine.close();
        }
    }

    @AfterEach
    void closeRunners() {
        runners.forEach(Runner::close);
    }

    /** A runner on the tiny model, closed after the test. */
    Runner start(String prefix, RunnerConfig config) {
        Runner r = Runner.start(prefix + "-" + runners.size(), engine, config);
        runners.add(r);
        return r;
    }
}
