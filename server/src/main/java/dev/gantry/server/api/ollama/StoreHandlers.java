package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.models.LocalModel;
import dev.gantry.models.ModelName;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.store.BlobUpload;
import dev.gantry.models.store.Digest;
import dev.gantry.models.store.DigestMismatchException;
import dev.gantry.models.store.Layer;
import dev.gantry.models.store.Manifest;
import dev.gantry.models.store.MediaTypes;
import dev.gantry.models.store.ModelConfig;
import dev.gantry.models.store.OllamaStore;
import dev.gantry.models.store.RegistryPull;
import dev.gantry.models.store.StoreLayers;
import dev.gantry.models.store.StoredManifest;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.ModelNotFoundException;
import dev.gantry.server.api.ollama.CreateInputs.Quantize;
import dev.gantry.server.http.ApiException;
import dev.gantry.server.http.ApiRouter;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The model store's endpoints, written in Ollama's layout and JSON shapes: {@code /api/create}, {@code /api/copy},
 * {@code /api/delete}, {@code /api/pull}, {@code /api/push} (501), {@code HEAD} and {@code POST /api/blobs/:digest}.
 * Every name is a validated {@link ModelName} and every digest a validated {@link Digest} before the store is
 * touched, so a hostile name or digest is a 400 and never a path.
 */
public final class StoreHandlers {
    /** Largest blob upload accepted: far above any model, far below a disk-filling mistake of a stream. */
    public static final long MAX_BLOB_BYTES = 1L << 40;
    private static final Set<String> TEXT_PARAM_TYPES = Set.of("STRING", "NUMBER", "BOOLEAN");

    private final ModelManager models;
    private final OllamaStore store;
    private final RegistryPull registry;
    private final dev.gantry.models.store.RegistryPush pusher;

    public StoreHandlers(ModelManager models) {
        this.models = models;
        this.store = models.registry().store().orElse(null);
        this.registry = store == null ? null : new RegistryPull(store);
        this.pusher = store == null ? null : new dev.gantry.models.store.RegistryPush(store);
    }

    /** One line of the create and pull streams, as Ollama writes them. */
    public record Status(String status, String digest, Long total, Long completed) {
        static Status of(String status) {
            return new Status(status, null, null, null);
        }
    }

    // ---------------------------------------------------------------- blobs

    /** {@code HEAD /api/blobs/:digest}: 200 when the store has the blob, 404 when not. */
    public void blobExists(Exchange ex) {
        Digest d = digestParam(ex);
        if (requireStore().hasBlob(d)) {
            ex.send(200, "application/json; charset=utf-8", new byte[0]);
        } else {
            ex.sendError(404, "blob " + d + " not found");
        }
    }

    /**
     * {@code POST /api/blobs/:digest}: the body streams to a temporary file and through SHA-256; it becomes the blob
     * only if it hashes to the digest (201), else the file is removed and the answer is 400. A blob already stored
     * answers 200 once the body has been read.
     */
    public ApiRouter.BodySink uploadBlob(Exchange ex) throws IOException {
        Digest d = digestParam(ex);
        OllamaStore s = requireStore();
        long length = -1;
        try {
            length = Long.parseLong(ex.headers().get("Content-Length", "-1").strip());
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("invalid Content-Length");
        }
        if (length > MAX_BLOB_BYTES) {
            throw new ApiException(413, "blob too large (limit " + MAX_BLOB_BYTES + " bytes)");
        }
        if (s.hasBlob(d)) {
            return new ApiRouter.BodySink() {
                @Override
                public void write(ByteBuffer chunk) {
                }

                @Override
                public void end(Exchange e) {
                    e.send(200, "application/json; charset=utf-8", new byte[0]);
                }

                @Override
                public void abort() {
                }
            };
        }
        BlobUpload up = s.newUpload(d);
        return new ApiRouter.BodySink() {
            @Override
            public void write(ByteBuffer chunk) throws IOException {
                if (up.written() + chunk.remaining() > MAX_BLOB_BYTES) {
                    throw new ApiException(413, "blob too large (limit " + MAX_BLOB_BYTES + " bytes)");
                }
                up.write(chunk);
            }

            @Override
            public void end(Exchange e) throws IOException {
                try (up) {
                    up.commit();
                    e.send(201, "application/json; charset=utf-8", new byte[0]);
                } catch (DigestMismatchException mismatch) {
                    throw ApiException.badRequest(mismatch.getMessage());
                }
            }

            @Override
            public void abort() {
                try {
                    up.close();
                } catch (IOException ignored) {
                    // the temporary file is gone or will be swept with the next upload's folder
                }
            }
        };
    }

    private static Digest digestParam(Exchange ex) {
        String raw = ex.pathParam("digest").orElse("");
        return Digest.tryParse(raw).orElseThrow(() -> ApiException.badRequest(
                "invalid digest format: expected sha256:<64 hex digits>"));
    }

    // ---------------------------------------------------------------- pull and push

    /** {@code POST /api/pull}: from the name's registry, with Ollama's NDJSON progress (or one line). */
    public void pull(Exchange ex) {
        ObjectNode body = Json.parseObject(ex.body());
        ModelName name = ModelName.parse(modelField(body, "model", "name"));
        boolean insecure = Json.bool(body, "insecure").orElse(false);
        boolean stream = Json.bool(body, "stream").orElse(true);
        requireStore();
        Thread worker = Thread.currentThread();
        ex.onClose(worker::interrupt); // a client that goes away cancels the download
        run(ex, stream, emit -> pullInto(emit, name, insecure));
        Thread.interrupted(); // clear a late interrupt from onClose, so it cannot hit later work on this thread
    }

    /** Pulls {@code name} with Ollama's progress statuses; a failure is the status Ollama's pull answers with. */
    private void pullInto(Consumer<Status> emit, ModelName name, boolean insecure) {
        try {
            registry.pull(name, insecure, p -> emit.accept(new Status(p.status(), p.digest(), p.total(),
                    p.completed())));
        } catch (InterruptedException e) {
            throw new ApiException(499, "pull cancelled");
        } catch (IOException e) {
            // 500 as Ollama answers a failed pull without a stream (a streamed one ends with an error line)
            int status = e.getMessage() != null && e.getMessage().endsWith("file does not exist") ? 404 : 500;
            throw new ApiException(status, e.getMessage());
        }
    }

    /**
     * {@code POST /api/push}: a model of the store to the registry its name names ({@code host/namespace/model:tag};
     * {@code insecure} for plain HTTP), with Ollama's statuses. Registries that ask for authentication are refused.
     */
    public void push(Exchange ex) {
        ObjectNode body = Json.parseObject(ex.body());
        ModelName name = ModelName.parse(modelField(body, "model", "name"));
        boolean insecure = Json.bool(body, "insecure").orElse(false);
        boolean stream = Json.bool(body, "stream").orElse(true);
        StoredManifest stored = requireStore().find(name).orElseThrow(() -> new ModelNotFoundException(
                name.shortName()));
        Thread worker = Thread.currentThread();
        ex.onClose(worker::interrupt); // a client that goes away cancels the upload
        try (OllamaStore.Pin pin = requireStore().pin()) {
            stored.manifest().blobs().forEach(l -> pin.add(l.digest())); // a delete meanwhile leaves them
            run(ex, stream, emit -> {
                try {
                    pusher.push(stored, insecure, p -> emit.accept(new Status(p.status(), p.digest(), p.total(),
                            p.completed())));
                } catch (InterruptedException e) {
                    throw new ApiException(499, "push cancelled");
                } catch (IOException e) {
                    throw new ApiException(500, e.getMessage());
                }
            });
        } finally {
            Thread.interrupted(); // clear a late interrupt from onClose, so it cannot hit later work on this thread
        }
    }

    // ---------------------------------------------------------------- copy and delete

    /**
     * A name to write under, spelt as the model it names is spelt where there is one already (a loose GGUF file or the
     * built-in model too, not only a manifest), as Ollama writes to an existing name in its stored case.
     */
    private ModelName spelt(ModelName name) {
        return models.registry().list().stream().map(LocalModel::name).filter(name::equals).findFirst().orElse(name);
    }

    /** {@code POST /api/copy}: {@code source} to {@code destination}; 200 with no body, as Ollama answers. */
    public void copy(Exchange ex) throws IOException {
        ObjectNode body = Json.parseObject(ex.body());
        String sourceText = Json.requiredString(body, "source");
        ModelName source = ModelName.parse(sourceText);
        ModelName destination = spelt(ModelName.parse(Json.requiredString(body, "destination")));
        OllamaStore s = requireStore();
        Optional<StoredManifest> stored = s.find(source);
        if (stored.isPresent()) {
            s.copy(source, destination);
        } else {
            LocalModel m = models.registry().resolve(source).orElseThrow(() -> new ModelNotFoundException(sourceText));
            // a loose GGUF file or the built-in model: its weights enter the store as a blob
            List<Layer> layers = new ArrayList<>(List.of(importWeights(m)));
            s.writeManifest(destination, manifest(m.metadata(), layers));
        }
        ex.send(200, "application/json; charset=utf-8", new byte[0]);
    }

    /**
     * {@code DELETE /api/delete}: removes the manifest and the blobs no other manifest uses; the model is unloaded
     * first. Only models of the store can be deleted; a loose GGUF file is the user's to remove.
     */
    public void delete(Exchange ex) throws IOException {
        ObjectNode body = Json.parseObject(ex.body());
        String text = modelField(body, "model", "name");
        ModelName name = ModelName.parse(text);
        OllamaStore s = requireStore();
        if (s.find(name).isEmpty()) {
            if (models.registry().resolve(name).isPresent()) {
                throw ApiException.badRequest("model \"" + text + "\" is a GGUF file in the models folder or built "
                        + "in, not a model of the store; it cannot be deleted through the API");
            }
            throw new ModelNotFoundException(text);
        }
        models.remove(name.toString());
        if (!s.delete(name)) {
            throw new ModelNotFoundException(text);
        }
        ex.send(200, "application/json; charset=utf-8", new byte[0]);
    }

    // ---------------------------------------------------------------- create

    /**
     * {@code POST /api/create}: a model from a GGUF blob ({@code files}) or an existing model ({@code from}), with
     * {@code template}, {@code system}, {@code parameters}, {@code messages} and {@code license} layers. The request
     * is checked whole before anything is written or streamed.
     */
    public void create(Exchange ex) {
        ObjectNode body = Json.parseObject(ex.body());
        ModelName name = spelt(ModelName.parse(modelField(body, "model", "name")));
        boolean stream = Json.bool(body, "stream").orElse(true);
        Optional<Quantize> quantize = CreateInputs.quantize(body);
        if (Json.string(body, "modelfile").filter(q -> !q.isBlank()).isPresent()) {
            throw ApiException.badRequest("modelfile is not supported; send from or files, with template, system, "
                    + "parameters, messages and license as fields");
        }
        Map<String, Digest> adapters = files(body, "adapters");
        Optional<String> from = Json.string(body, "from").filter(f -> !f.isEmpty());
        Map<String, Digest> files = files(body);
        if (from.isEmpty() && files.isEmpty()) {
            throw ApiException.badRequest("neither 'from' or 'files' was specified");
        }
        // an empty template, system or list of messages leaves the base's, as in Ollama's create
        Optional<String> template = Json.string(body, "template").filter(t -> !t.isEmpty());
        template.ifPresent(CompletionHandlers::requireParsable);
        Optional<String> system = Json.string(body, "system").filter(t -> !t.isEmpty());
        Map<String, JsonNode> parameters = parameters(body);
        Optional<ArrayNode> messages = messages(body).filter(m -> !m.isEmpty());
        List<String> licenses = licenses(body);
        OllamaStore s = requireStore();
        // the base: a model of the store, a loose GGUF or the built-in model, or the uploaded GGUF blobs; a base that
        // is not here is pulled first, as Ollama's create pulls it ("insecure": plain HTTP, as in pull)
        ModelName base = from.map(ModelName::parse).orElse(null);
        boolean pullBase = base != null && models.registry().resolve(base).isEmpty();
        boolean insecure = Json.bool(body, "insecure").orElse(false);
        // everything that can be checked before the stream starts is a 400 then, not an error line after a 200
        GgufMetadata weights = null; // the base's weights where they are here already
        for (Map.Entry<String, Digest> f : files.entrySet()) {
            if (!s.hasBlob(f.getValue())) {
                throw ApiException.badRequest("blob " + f.getValue() + " for file \"" + f.getKey() + "\" not found; "
                        + "upload it first with POST /api/blobs/" + f.getValue());
            }
            GgufMetadata g = readGguf(s, f.getKey(), f.getValue());
            if ("adapter".equals(g.getString("general.type").orElse(""))) {
                throw ApiException.badRequest("file \"" + f.getKey() + "\" is an adapter, not a model; send it in "
                        + "adapters, with the model in from or files");
            }
            if (!g.architecture().equals("clip")) {
                if (weights != null) {
                    throw ApiException.badRequest(CreateInputs.MORE_THAN_ONE_MODEL);
                }
                weights = g;
            }
        }
        if (!files.isEmpty() && weights == null) {
            throw ApiException.badRequest(CreateInputs.ONLY_A_PROJECTOR);
        }
        if (files.isEmpty() && base != null && !pullBase) { // the weights build takes: files, else from's
            weights = models.registry().resolve(base).map(LocalModel::metadata).orElse(null);
        }
        if (quantize.isPresent() && weights != null) {
            quantize.get().requireSource(weights);
        }
        for (Map.Entry<String, Digest> a : adapters.entrySet()) {
            if (!s.hasBlob(a.getValue())) {
                throw ApiException.badRequest("blob " + a.getValue() + " for adapter \"" + a.getKey() + "\" not found; "
                        + "upload it first with POST /api/blobs/" + a.getValue());
            }
            GgufMetadata g = readGguf(s, a.getKey(), a.getValue());
            CreateInputs.requireAdapter(a.getKey(), g);
            if (weights != null) {
                CreateInputs.requireAdapterFits(a.getKey(), g, weights);
            }
        }
        boolean interruptible = pullBase || quantize.isPresent();
        if (interruptible) {
            Thread worker = Thread.currentThread();
            ex.onClose(worker::interrupt); // a client that goes away cancels the download or the quantizing
        }
        run(ex, stream, emit -> {
            Optional<StoredManifest> fromStore = Optional.empty();
            LocalModel fromModel = null;
            if (base != null) {
                if (pullBase) {
                    pullInto(emit, base, insecure);
                }
                fromStore = s.find(base);
                fromModel = models.registry().resolve(base).orElseThrow(() -> new ModelNotFoundException(from.get()));
            }
            try {
                build(emit, name, fromStore, fromModel, files, adapters, quantize, template, system, parameters,
                        messages, licenses);
            } catch (IOException e) {
                throw new ApiException(500, "create failed: " + e.getMessage());
            }
        });
        if (interruptible) {
            Thread.interrupted(); // a late interrupt from onClose must not hit later work on this thread
        }
    }

    private void build(Consumer<Status> emit, ModelName name, Optional<StoredManifest> fromStore, LocalModel fromModel,
                       Map<String, Digest> files, Map<String, Digest> adapters, Optional<Quantize> quantize,
                       Optional<String> template,
                       Optional<String> system, Map<String, JsonNode> parameters, Optional<ArrayNode> messages,
                       List<String> licenses) throws IOException {
        OllamaStore s = requireStore();
        OllamaStore.Pin pin = s.pin();
        boolean done = false;
        try {
            build(emit, name, fromStore, fromModel, files, adapters, quantize, template, system, parameters, messages,
                    licenses, pin, new ArrayList<>());
            done = true;
        } finally {
            List<Digest> placed = pin.placed();
            pin.close();
            if (!done && !placed.isEmpty()) {
                s.pruneUnreferenced(placed); // a failed create leaves none of the blobs it wrote behind
            }
        }
    }

    /**
     * {@link #build}'s work: every blob the manifest will name is held by {@code pin} from before the create relies on
     * it, so a delete meanwhile cannot take it; the weights it writes or imports go to {@code created} (announced as
     * new layers).
     */
    private void build(Consumer<Status> emit, ModelName name, Optional<StoredManifest> fromStore, LocalModel fromModel,
                       Map<String, Digest> files, Map<String, Digest> adapters, Optional<Quantize> quantize,
                       Optional<String> template, Optional<String> system, Map<String, JsonNode> parameters,
                       Optional<ArrayNode> messages, List<String> licenses, OllamaStore.Pin pin,
                       List<Digest> created) throws IOException {
        OllamaStore s = requireStore();
        List<Layer> layers = new ArrayList<>();
        GgufMetadata weights = null;
        Map<String, Object> baseParams = Map.of();
        if (!files.isEmpty()) {
            emit.accept(Status.of("parsing GGUF"));
            for (Map.Entry<String, Digest> f : files.entrySet()) {
                hold(pin, f.getValue(), "file \"" + f.getKey() + "\"");
                GgufMetadata g = readGguf(s, f.getKey(), f.getValue());
                long size = Files.size(s.blobPath(f.getValue()));
                boolean projector = g.architecture().equals("clip");
                if (!projector) {
                    weights = g; // one model: checked before the stream started
                }
                layers.add(new Layer(projector ? MediaTypes.PROJECTOR : MediaTypes.MODEL, f.getValue(), size));
            }
        } else if (fromStore.isPresent()) {
            Manifest base = fromStore.get().manifest();
            // each layer remembers the model it came from, as Ollama's create writes it: show's parent_model
            String parent = fromStore.get().name().shortName();
            for (Layer l : base.layers()) {
                hold(pin, l.digest(), "the base model's layer");
                layers.add(new Layer(l.mediaType(), l.digest(), l.size(), parent));
            }
            weights = fromModel.metadata();
            Optional<Layer> p = base.layer(MediaTypes.PARAMS);
            if (p.isPresent()) {
                baseParams = StoreLayers.parameters(s.readSmallBlob(p.get().digest()));
            }
        } else if (quantize.isEmpty() || !quantize.get().changes(fromModel.metadata())) {
            layers.add(importWeights(fromModel, pin, created));
            weights = fromModel.metadata();
        } else {
            weights = fromModel.metadata(); // a loose GGUF or the built-in model: quantized from where it lies
        }
        // LoRA adapters for the weights' architecture and shapes, checked again for a base pulled just now, and before
        // any quantizing
        for (Map.Entry<String, Digest> a : adapters.entrySet()) {
            hold(pin, a.getValue(), "adapter \"" + a.getKey() + "\"");
            CreateInputs.requireAdapterFits(a.getKey(), readGguf(s, a.getKey(), a.getValue()), weights);
        }
        if (quantize.isPresent()) {
            weights = quantize(emit, quantize.get(), layers, weights, fromStore.isEmpty() && files.isEmpty()
                    ? fromModel.path() : null, pin, created);
        }
        // after the base's own adapters, as Ollama adds them; one layer for an adapter given twice
        for (Map.Entry<String, Digest> a : adapters.entrySet()) {
            if (layers.stream().noneMatch(l -> l.mediaType().equals(MediaTypes.ADAPTER)
                    && l.digest().equals(a.getValue()))) {
                layers.add(new Layer(MediaTypes.ADAPTER, a.getValue(), Files.size(s.blobPath(a.getValue()))));
            }
        }
        for (Layer l : layers) {
            emit.accept(Status.of((created.contains(l.digest()) ? "creating new layer " : "using existing layer ")
                    + l.digest()));
        }
        if (template.isPresent()) {
            replace(emit, layers, MediaTypes.TEMPLATE, template.get().getBytes(StandardCharsets.UTF_8), pin);
        }
        if (system.isPresent()) {
            replace(emit, layers, MediaTypes.SYSTEM, system.get().getBytes(StandardCharsets.UTF_8), pin);
        }
        if (!parameters.isEmpty()) {
            ObjectNode merged = Json.MAPPER.createObjectNode();
            baseParams.forEach((k, v) -> merged.set(k, Json.MAPPER.valueToTree(v)));
            parameters.forEach(merged::set);
            replace(emit, layers, MediaTypes.PARAMS, Json.write(merged), pin);
        }
        if (messages.isPresent()) {
            replace(emit, layers, MediaTypes.MESSAGES, Json.write(messages.get()), pin);
        }
        // licenses add to the base's, as Ollama's create appends a layer for each
        for (String license : licenses) {
            Layer l = newLayer(emit, MediaTypes.LICENSE, license.getBytes(StandardCharsets.UTF_8), pin);
            if (layers.stream().noneMatch(x -> x.digest().equals(l.digest()))) {
                layers.add(l);
            }
        }
        Manifest manifest = manifest(weights, layers, pin);
        emit.accept(Status.of("writing manifest"));
        s.writeManifest(name, manifest);
        emit.accept(Status.of("success"));
    }

    /** Holds a blob the new manifest will name; a 400 where it went away (a delete) since the request was checked. */
    private static void hold(OllamaStore.Pin pin, Digest d, String what) {
        if (!pin.add(d)) {
            throw ApiException.badRequest("blob " + d + " (" + what + ") is no longer in the store; it was deleted "
                    + "while this model was being created");
        }
    }

    /**
     * Replaces the model layer of {@code layers} with its weights quantized (added where {@code looseFile}, a GGUF
     * outside the store, is the source), unless they already are of the target type; returns the weights'
     * metadata.
     */
    private GgufMetadata quantize(Consumer<Status> emit, Quantize q, List<Layer> layers, GgufMetadata weights,
                                  java.nio.file.Path looseFile, OllamaStore.Pin pin, List<Digest> created)
            throws IOException {
        q.requireSource(weights); // a base pulled in this request is checked only now
        if (!q.changes(weights)) {
            return weights;
        }
        OllamaStore s = requireStore();
        int at = -1;
        for (int i = 0; i < layers.size(); i++) {
            if (layers.get(i).mediaType().equals(MediaTypes.MODEL)) {
                at = i;
            }
        }
        java.nio.file.Path source = looseFile != null ? looseFile : s.blobPath(layers.get(at).digest());
        emit.accept(Status.of("quantizing " + weights.quantizationLevel() + " model to " + q.name()));
        java.nio.file.Path out = s.newBlobFile("quantize");
        try {
            models.quantize(source, out, q.fileType());
        } catch (InterruptedException e) { // the client went away: the quantizing process was stopped
            Files.deleteIfExists(out);
            throw new ApiException(499, "create cancelled");
        } catch (IllegalArgumentException e) {
            Files.deleteIfExists(out);
            throw ApiException.badRequest("llama.cpp could not quantize this model: " + e.getMessage());
        } catch (UnsupportedOperationException e) {
            Files.deleteIfExists(out);
            throw new ApiException(500, "quantize failed: " + e.getMessage());
        } catch (RuntimeException e) {
            Files.deleteIfExists(out);
            throw e;
        }
        Digest d = s.adoptBlob(out, pin);
        created.add(d);
        Layer quantized = new Layer(MediaTypes.MODEL, d, Files.size(s.blobPath(d)));
        if (at >= 0) {
            layers.set(at, quantized);
        } else {
            layers.add(0, quantized);
        }
        return readGguf(s, "quantized model", d);
    }

    private static GgufMetadata readGguf(OllamaStore s, String file, Digest d) {
        try {
            return new GgufReader().read(s.blobPath(d));
        } catch (IOException | RuntimeException e) {
            throw ApiException.badRequest("file \"" + file + "\" is not a GGUF model (only GGUF models can be "
                    + "created by Gantry, no safetensors conversion): " + e.getMessage());
        }
    }

    private void replace(Consumer<Status> emit, List<Layer> layers, String type, byte[] content, OllamaStore.Pin pin)
            throws IOException {
        layers.removeIf(l -> l.mediaType().equals(type));
        layers.add(newLayer(emit, type, content, pin));
    }

    private Layer newLayer(Consumer<Status> emit, String type, byte[] content, OllamaStore.Pin pin)
            throws IOException {
        Layer l = requireStore().writeBlob(type, content, pin);
        emit.accept(Status.of("creating new layer " + l.digest()));
        return l;
    }

    /** A manifest for {@code layers} with its config blob written. */
    private Manifest manifest(GgufMetadata weights, List<Layer> layers) throws IOException {
        return manifest(weights, layers, null);
    }

    private Manifest manifest(GgufMetadata weights, List<Layer> layers, OllamaStore.Pin pin) throws IOException {
        Layer config = requireStore().writeBlob(MediaTypes.CONFIG, ModelConfig.of(weights).toJson(layers), pin);
        return Manifest.of(config, layers);
    }

    /** The weights of a model outside the store, copied in as a blob (hashed on the way). */
    private Layer importWeights(LocalModel m) throws IOException {
        try (InputStream in = Files.newInputStream(m.path())) {
            Digest d = requireStore().writeBlob(in, null);
            return new Layer(MediaTypes.MODEL, d, Files.size(m.path()));
        }
    }

    /** {@link #importWeights(LocalModel)} for a create: held by {@code pin} (copied again where a delete took it). */
    private Layer importWeights(LocalModel m, OllamaStore.Pin pin, List<Digest> created) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Layer l = importWeights(m);
            created.add(l.digest());
            if (pin.add(l.digest()) || attempt == 2) {
                return l;
            }
        }
    }

    // ---------------------------------------------------------------- request fields

    private static Map<String, Digest> files(ObjectNode body) {
        return files(body, "files");
    }

    /** {@code files} or {@code adapters}: file names to the digests of uploaded blobs. */
    private static Map<String, Digest> files(ObjectNode body, String field) {
        Map<String, Digest> out = new LinkedHashMap<>();
        Optional<ObjectNode> files = Json.object(body, field);
        if (files.isEmpty()) {
            return out;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = files.get().fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String file = e.getKey();
            if (file.isEmpty() || file.startsWith("/") || file.startsWith("\\") || file.contains("..")
                    || file.indexOf(0) >= 0) {
                throw ApiException.badRequest("invalid file name in " + field + ": \"" + file.replace("\"", "'")
                        + "\"");
            }
            if (!e.getValue().isTextual()) {
                throw Json.wrongType(field + "." + file, "a digest string", e.getValue());
            }
            Digest d = Digest.tryParse(e.getValue().textValue()).orElseThrow(() -> ApiException.badRequest(
                    "invalid digest for file \"" + file + "\": expected sha256:<64 hex digits>"));
            // any name: Ollama reads the blob's magic where the name lacks .gguf (FROM ./model.bin, a blob file);
            // readGguf refuses what is not GGUF (safetensors: no conversion here)
            out.put(file, d);
        }
        return out;
    }

    private static Map<String, JsonNode> parameters(ObjectNode body) {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        Optional<ObjectNode> params = Json.object(body, "parameters");
        if (params.isEmpty()) {
            return out;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = params.get().fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            boolean ok = TEXT_PARAM_TYPES.contains(v.getNodeType().name());
            if (v.isArray()) {
                ok = true;
                for (JsonNode x : v) {
                    ok &= x.isTextual() || x.isNumber();
                }
            }
            if (!ok) {
                throw ApiException.badRequest("invalid value for parameter " + e.getKey()
                        + ": expected a string, number, boolean or list of strings");
            }
            out.put(e.getKey(), v);
        }
        // the same types and ranges a request's options must have
        ObjectNode check = Json.MAPPER.createObjectNode();
        out.forEach(check::set);
        OllamaOptions.parse(check);
        return out;
    }

    private static Optional<ArrayNode> messages(ObjectNode body) {
        JsonNode n = body.get("messages");
        if (n == null || n.isNull()) {
            return Optional.empty();
        }
        if (!(n instanceof ArrayNode arr)) {
            throw Json.wrongType("messages", "a list of messages", n);
        }
        ArrayNode out = Json.MAPPER.createArrayNode();
        int i = 0;
        for (JsonNode m : arr) {
            if (!(m instanceof ObjectNode o)) {
                throw Json.wrongType("messages[" + i + "]", "an object", m);
            }
            int index = i++;
            String role = Json.string(o, "role").orElseThrow(() -> ApiException.badRequest("messages[" + index
                    + "].role is required"));
            ObjectNode clean = out.addObject();
            clean.put("role", role);
            clean.put("content", Json.string(o, "content").orElse(""));
        }
        return Optional.of(out);
    }

    private static List<String> licenses(ObjectNode body) {
        JsonNode n = body.get("license");
        if (n == null || n.isNull()) {
            return List.of();
        }
        if (n.isTextual()) {
            return n.textValue().isEmpty() ? List.of() : List.of(n.textValue());
        }
        if (n.isArray()) {
            List<String> out = new ArrayList<>();
            for (JsonNode l : n) {
                if (!l.isTextual()) {
                    throw Json.wrongType("license", "a string or a list of strings", n);
                }
                out.add(l.textValue());
            }
            return out;
        }
        throw Json.wrongType("license", "a string or a list of strings", n);
    }

    /** {@code model}, or the older {@code name}. */
    private static String modelField(ObjectNode body, String field, String older) {
        return Json.string(body, field).filter(s -> !s.isEmpty())
                .or(() -> Json.string(body, older).filter(s -> !s.isEmpty()))
                .orElseThrow(() -> ApiException.badRequest(field + " is required"));
    }

    private OllamaStore requireStore() {
        if (store == null) {
            throw new ApiException(500, "no models folder is configured (OLLAMA_MODELS)");
        }
        return store;
    }

    /**
     * Runs a store operation that reports {@link Status} lines: streamed as NDJSON, or only the last line when
     * {@code stream} is false. A failure before the first line is an ordinary error response; after it, a last
     * {@code {"error": ...}} line.
     */
    private static void run(Exchange ex, boolean stream, Consumer<Consumer<Status>> work) {
        if (!stream) {
            Status[] last = new Status[1];
            work.accept(st -> last[0] = st);
            ex.sendJson(200, Json.write(last[0] == null ? Status.of("success") : last[0]));
            return;
        }
        ex.startStream("application/x-ndjson");
        try {
            work.accept(st -> ex.writeChunk(Json.line(st)));
            ex.endStream();
        } catch (RuntimeException e) {
            ApiRouter.fail(ex, e);
        }
    }
}
