package dev.gantry.runtime.testing;

import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineInfo;
import dev.gantry.runtime.engine.SessionParams;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A deterministic, fast {@link Engine} for scheduler and server tests: no native code, no model file.
 *
 * <h2>Vocabulary</h2>
 * Token {@code b + 3} is the byte {@code b} ({@link #BYTE_OFFSET}); 0 is unused, {@link #BOS} is 1 and {@link #EOS}
 * is 2. {@link #tokenize} turns text into its UTF-8 bytes (BOS first when {@code addSpecial}), {@link #piece} gives a
 * token's single byte back, so multi-byte characters always span several tokens, exactly like byte-fallback tokens
 * of a real model.
 *
 * <h2>The "model"</h2>
 * Generation follows a script: a text whose bytes are produced in order, cycling, then {@link #EOS} after
 * {@code eosAfter} generated tokens (or never). The next token is a pure function of a sequence's content in the KV
 * cache (as a real model's would be): a small automaton walks the content and counts how far it has followed the
 * script; the next token is the script's byte at that count. A prompt that does not end with the start of the
 * script therefore gets exactly {@code script[0..eosAfter)} (cycled) and then EOS; a prompt that ends with the start
 * of the script is continued from there, like a model finishing a story it knows. Because the output depends only
 * on the cached content, a sequence that is batched with others, chunked or preempted and recomputed generates the
 * same text as it would alone; {@link #expectedTokens} computes that solo output.
 *
 * <h2>Contract checks</h2>
 * Sessions ({@link FakeSession}) enforce the {@link dev.gantry.runtime.engine.EngineSession} contract strictly:
 * every call from the thread that opened the session, contiguous positions per sequence starting at the sequence's
 * cached length, KV cells and sequence ids within limits, sampling only outputs of the last decode with the sampler of
 * that output's sequence, no sequence reused before its cells were freed. A breach throws
 * {@link IllegalStateException} and is recorded in {@link #violations()}, which tests assert empty.
 *
 * <h2>Knobs (thread-safe, may be changed while a runner uses the engine)</h2>
 * {@link #decodeDelay(Duration)} slows every decode (to make concurrency observable), {@link #pause()} /
 * {@link #resume()} hold decodes at a gate (to line up requests deterministically), {@link #failDecodeAt(long)} and
 * {@link #failNextDecode()} make a decode throw.
 *
 * <p>Vocabulary and template methods are thread-safe; the session is runner-thread only, as with the real engine.
 */
public final class FakeEngine implements Engine {
    public static final int UNUSED = 0;
    public static final int BOS = 1;
    public static final int EOS = 2;
    /** Token of byte {@code b} is {@code b + BYTE_OFFSET}. */
    public static final int BYTE_OFFSET = 3;
    public static final int VOCAB_SIZE = 256 + BYTE_OFFSET;
    public static final String DEFAULT_SCRIPT = "Once upon a time there was a fox. ";
    public static final int DEFAULT_EOS_AFTER = 24;

    private final String script;
    private final int[] scriptTokens;
    private final int eosAfter;
    private final EngineInfo info;
    private final RuntimeException openFailure;
    private final boolean keepsPrefixes;
    private final boolean shifts;
    private final boolean fillsIdGaps;
    private final boolean refusesCuts;
    private final boolean decodesAhead;

    private final List<FakeSession> sessions = new CopyOnWriteArrayList<>();
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final AtomicLong decodeCalls = new AtomicLong();
    private final AtomicLong failAtDecode = new AtomicLong(-1);
    private final AtomicBoolean failNext = new AtomicBoolean();
    private final java.util.Set<Integer> failSample = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicReference<Throwable> newSamplerFailure =
            new java.util.concurrent.atomic.AtomicReference<>();
    private final java.util.concurrent.atomic.AtomicReference<RuntimeException> keepPrefixFailure =
            new java.util.concurrent.atomic.AtomicReference<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile long decodeDelayNanos;
    private volatile boolean paused;
    private final AtomicInteger waitingAtGate = new AtomicInteger();

    private FakeEngine(Builder b) {
        this.script = b.script;
        this.scriptTokens = encode(b.script);
        if (scriptTokens.length == 0) {
            throw new IllegalArgumentException("the script must not be empty");
        }
        this.eosAfter = b.eosAfter;
        this.info = new EngineInfo(VOCAB_SIZE, b.contextTrainLength, 4096, 1000, b.onGpu ? "gpu" : "cpu",
                b.onGpu ? List.of("Fake GPU 0") : List.of("CPU"), b.onGpu ? 4096 : 0, b.backendSamplingSupported);
        this.openFailure = b.openFailure;
        this.keepsPrefixes = b.keepsPrefixes;
        this.shifts = b.shifts;
        this.fillsIdGaps = b.fillsIdGaps;
        this.refusesCuts = b.refusesCuts;
        this.decodesAhead = b.decodesAhead;
    }

    /** Whether sessions let the runner decode prompts ahead ({@link FakeSession#decodesAhead}). */
    boolean decodesAhead() {
        return decodesAhead;
    }

    /** Whether sessions can keep a sequence's prefix ({@link FakeSession#keepPrefix}); a recurrent model cannot. */
    boolean shifts() {
        return shifts;
    }

    boolean keepsPrefixes() {
        return keepsPrefixes;
    }

    /** Whether sessions ask the runner to fill gaps between a step's sequence ids ({@link FakeSession#fillsIdGaps}). */
    boolean fillsIdGaps() {
        return fillsIdGaps;
    }

    /** Whether sessions refuse {@link FakeSession#truncate} although they ask for placeholders. */
    boolean refusesCuts() {
        return refusesCuts;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The default script, EOS after {@value #DEFAULT_EOS_AFTER} tokens. */
    public static FakeEngine create() {
        return builder().build();
    }

    /** How a {@link FakeEngine} behaves; reusable (each {@link #build()} makes a fresh engine). */
    public static final class Builder {
        private String script = DEFAULT_SCRIPT;
        private int eosAfter = DEFAULT_EOS_AFTER;
        private int contextTrainLength = 2048;
        private boolean onGpu;
        private boolean backendSamplingSupported;
        private RuntimeException openFailure;
        private boolean keepsPrefixes = true;
        private boolean shifts = true;
        private boolean fillsIdGaps;
        private boolean refusesCuts;
        private boolean decodesAhead;

        private Builder() {}

        /**
         * Whether sessions let the runner decode prompt tokens without outputs between a decode and the sampling of
         * its outputs, as llama.cpp's on a GPU do; the session checks that such a decode has no output.
         */
        public Builder decodesAhead(boolean ahead) {
            this.decodesAhead = ahead;
            return this;
        }

        /** Sessions ask for placeholders but refuse to cut them out again (a memory that cannot cut). */
        public Builder refusesCuts() {
            this.fillsIdGaps = true;
            this.refusesCuts = true;
            return this;
        }

        /** Whether sessions ask for placeholders in the gaps between a step's sequence ids, as llama.cpp's do. */
        public Builder fillsIdGaps(boolean fills) {
            this.fillsIdGaps = fills;
            return this;
        }

        /** Whether sessions can keep a finished sequence's prefix (default yes; a recurrent model cannot). */
        /** Whether its sessions shift a full context (default yes; a model whose memory cannot does not). */
        public Builder shifts(boolean shifts) {
            this.shifts = shifts;
            return this;
        }

        public Builder keepsPrefixes(boolean keeps) {
            this.keepsPrefixes = keeps;
            return this;
        }

        /** The text generation cycles through (its UTF-8 bytes, so multi-byte characters span tokens). */
        public Builder script(String text) {
            this.script = Objects.requireNonNull(text, "text");
            return this;
        }

        /** EOS after this many generated tokens (for prompts that do not end with the script's start). */
        public Builder eosAfter(int tokens) {
            if (tokens < 0) {
                throw new IllegalArgumentException("eosAfter must be >= 0");
            }
            this.eosAfter = tokens;
            return this;
        }

        /** Never emit EOS: generations end only at max tokens, the context limit, a stop or a cancel. */
        public Builder neverEnds() {
            this.eosAfter = -1;
            return this;
        }

        public Builder contextTrainLength(int n) {
            this.contextTrainLength = n;
            return this;
        }

        /** Report the engine as placed on a GPU (backend "gpu"), for sizing decisions. */
        public Builder onGpu(boolean gpu) {
            this.onGpu = gpu;
            return this;
        }

        public Builder backendSamplingSupported(boolean supported) {
            this.backendSamplingSupported = supported;
            return this;
        }

        /** {@link FakeEngine#openSession} throws this (e.g. not enough memory for the KV cache). */
        public Builder failOpenSession(RuntimeException failure) {
            this.openFailure = failure;
            return this;
        }

        public FakeEngine build() {
            return new FakeEngine(this);
        }
    }

    // ---------------------------------------------------------------- vocabulary (thread-safe)

    /** The tokens of {@code text}'s UTF-8 bytes, without BOS. */
    public static int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] out = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = (bytes[i] & 0xff) + BYTE_OFFSET;
        }
        return out;
    }

    /** The text of byte tokens (special tokens are skipped; invalid UTF-8 decodes leniently). */
    public static String decode(int... tokens) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int t : tokens) {
            if (t >= BYTE_OFFSET && t < VOCAB_SIZE) {
                out.write(t - BYTE_OFFSET);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** A prompt as the server would send it: BOS, then the text's bytes. */
    public static int[] prompt(String text) {
        int[] body = encode(text);
        int[] out = new int[body.length + 1];
        out[0] = BOS;
        System.arraycopy(body, 0, out, 1, body.length);
        return out;
    }

    @Override
    public EngineInfo info() {
        return info;
    }

    @Override
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        return addSpecial ? prompt(text) : encode(text);
    }

    @Override
    public byte[] piece(int token) {
        if (token >= BYTE_OFFSET && token < VOCAB_SIZE) {
            return new byte[] {(byte) (token - BYTE_OFFSET)};
        }
        if (token >= 0 && token < BYTE_OFFSET) {
            return new byte[0]; // special tokens render as nothing, as llama.cpp's piece without "special"
        }
        throw new IllegalArgumentException("token " + token + " is outside the vocabulary of " + VOCAB_SIZE);
    }

    @Override
    public boolean isEndOfGeneration(int token) {
        return token == EOS;
    }

    /** ChatML: {@code <|im_start|>role\ncontent<|im_end|>\n} per message, then the assistant's header. */
    @Override
    public String applyChatTemplate(List<ChatMessage> messages, boolean addAssistant) {
        StringBuilder sb = new StringBuilder();
        for (ChatMessage m : messages) {
            sb.append("<|im_start|>").append(m.role()).append('\n').append(m.content()).append("<|im_end|>\n");
        }
        if (addAssistant) {
            sb.append("<|im_start|>assistant\n");
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------- the model

    public String script() {
        return script;
    }

    /** Generated tokens before EOS for a prompt that does not end with the script's start; -1 for never. */
    public int eosAfter() {
        return eosAfter;
    }

    /** The automaton's state after {@code token}, given the state before it. */
    int advance(int state, int token) {
        if (token == scriptTokens[state % scriptTokens.length]) {
            return state + 1;
        }
        return token == scriptTokens[0] ? 1 : 0;
    }

    /**
     * The token the model produces after content that left the automaton in {@code state}; with {@code ignoreEos}
     * (end-of-generation banned, as llama-server's option) the script goes on instead.
     */
    int next(int state, boolean ignoreEos) {
        if (!ignoreEos && eosAfter >= 0 && state >= eosAfter) {
            return EOS;
        }
        return scriptTokens[state % scriptTokens.length];
    }

    /**
     * What a generation of {@code prompt} produces alone: the tokens up to (not including) EOS, or {@code maxTokens}
     * tokens (negative: no limit), or until prompt and output fill {@code contextLimit} tokens (0: no limit).
     */
    public int[] expectedTokens(int[] prompt, int maxTokens, int contextLimit) {
        return expectedTokens(prompt, maxTokens, contextLimit, false);
    }

    /** {@link #expectedTokens(int[], int, int)}, with end-of-generation banned when {@code ignoreEos}. */
    public int[] expectedTokens(int[] prompt, int maxTokens, int contextLimit, boolean ignoreEos) {
        int state = 0;
        for (int t : prompt) {
            state = advance(state, t);
        }
        List<Integer> out = new ArrayList<>();
        int length = prompt.length;
        while (maxTokens < 0 || out.size() < maxTokens) {
            if (contextLimit > 0 && length >= contextLimit) {
                break;
            }
            int t = next(state, ignoreEos);
            if (t == EOS) {
                break;
            }
            if ((eosAfter < 0 || ignoreEos) && maxTokens < 0 && contextLimit <= 0) {
                throw new IllegalArgumentException("an engine that never ends needs a token or context limit");
            }
            out.add(t);
            state = advance(state, t);
            length++;
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The text of {@link #expectedTokens(int[], int, int)} without limits (EOS ends it). */
    public String expectedText(int[] prompt) {
        return decode(expectedTokens(prompt, -1, 0));
    }

    public String expectedText(int[] prompt, int maxTokens) {
        return decode(expectedTokens(prompt, maxTokens, 0));
    }

    // ---------------------------------------------------------------- sessions

    @Override
    public FakeSession openSession(SessionParams params) {
        if (closed.get()) {
            throw violation("openSession on a closed engine");
        }
        if (openFailure != null) {
            throw openFailure;
        }
        FakeSession s = new FakeSession(this, params);
        sessions.add(s);
        return s;
    }

    /** Every session opened so far, oldest first. */
    public List<FakeSession> sessions() {
        return List.copyOf(sessions);
    }

    /** The latest session; fails when none was opened. */
    public FakeSession session() {
        if (sessions.isEmpty()) {
            throw new IllegalStateException("no session was opened on this engine");
        }
        return sessions.getLast();
    }

    /** Contract breaches seen by this engine and its sessions; tests assert it is empty. */
    public List<String> violations() {
        return List.copyOf(violations);
    }

    IllegalStateException violation(String message) {
        violations.add(message);
        return new IllegalStateException("engine contract violated: " + message);
    }

    @Override
    public void close() {
        closed.set(true);
    }

    public boolean isClosed() {
        return closed.get();
    }

    // ---------------------------------------------------------------- knobs

    /** Every decode waits this long first (interruptible: a closing runner does not wait it out). */
    public FakeEngine decodeDelay(Duration delay) {
        this.decodeDelayNanos = delay.toNanos();
        return this;
    }

    /** Decodes wait at a gate until {@link #resume()}; a decode already past the gate finishes. */
    public void pause() {
        paused = true;
    }

    public void resume() {
        paused = false;
    }

    /** Waits until a decode is held at the gate of a {@link #pause() paused} engine. */
    public void awaitDecodeAtGate(Duration timeout) throws TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (waitingAtGate.get() == 0) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("no decode reached the gate within " + timeout);
            }
            LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200));
        }
    }

    /** Decode calls so far, across sessions (failed and NO_KV_SLOT ones included). */
    public long decodeCalls() {
        return decodeCalls.get();
    }

    /** The {@code call}-th decode (1-based, counted by {@link #decodeCalls()}) throws. */
    public void failDecodeAt(long call) {
        failAtDecode.set(call);
    }

    /** The next decode to pass the gate throws. */
    public void failNextDecode() {
        failNext.set(true);
    }

    /** The next sampler a session creates throws {@code t} instead (an Error, say, as an allocation could). */
    public void failNextNewSampler(Throwable t) {
        newSamplerFailure.set(t);
    }

    /** The failure {@link #failNextNewSampler} set, once. */
    Throwable takeNewSamplerFailure() {
        return newSamplerFailure.getAndSet(null);
    }

    /** The next {@link FakeSession#keepPrefix} throws {@code e} (the engine failing to cut a parked slot's cells). */
    public void failNextKeepPrefix(RuntimeException e) {
        keepPrefixFailure.set(e);
    }

    /** The failure {@link #failNextKeepPrefix} set, once. */
    RuntimeException takeKeepPrefixFailure() {
        return keepPrefixFailure.getAndSet(null);
    }

    /** The next sampling of sequence slot {@code sequence} throws (as a broken sampler or grammar would). */
    public void failNextSampleOf(int sequence) {
        failSample.add(sequence);
    }

    /** Whether the next sampling of {@code sequence} was asked to fail (and forgets the request). */
    boolean takeSampleFailure(int sequence) {
        return failSample.remove(sequence);
    }

    /** Called by a session's decode before it touches any state: gate, delay, failure injection. */
    void beforeDecode() {
        if (paused) {
            waitingAtGate.incrementAndGet();
            try {
                while (paused && !Thread.currentThread().isInterrupted()) {
                    LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200));
                }
            } finally {
                waitingAtGate.decrementAndGet();
            }
        }
        long delay = decodeDelayNanos;
        if (delay > 0) {
            long deadline = System.nanoTime() + delay;
            for (long left; (left = deadline - System.nanoTime()) > 0 && !Thread.currentThread().isInterrupted(); ) {
                LockSupport.parkNanos(left);
            }
        }
        long call = decodeCalls.incrementAndGet();
        if (failNext.compareAndSet(true, false) || call == failAtDecode.get()) {
            throw new InjectedFailure("injected decode failure at decode call " + call);
        }
    }

    /** The exception an injected decode failure throws. */
    public static final class InjectedFailure extends RuntimeException {
        public InjectedFailure(String message) {
            super(message);
        }
    }
}
