package dev.gantry.server.api.ollama;

import dev.gantry.runtime.LoadOptions;
import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.ModelManager;
import dev.gantry.server.http.Exchange;
import java.time.Duration;
import java.util.concurrent.ExecutionException;

/** The model a request works with, held until its answer is out. */
final class ModelLeases {
    private ModelLeases() {}

    /**
     * Loads the model when needed and holds it for {@code ex} until its answer is out: the answer's tokens are turned
     * into text with the model's vocabulary to the end, and a reload or unload waits for it. Load failures come out
     * as they are ({@link dev.gantry.runtime.ModelNotFoundException} and the like).
     */
    static LoadedModel.Lease forRequest(ModelManager models, Exchange ex, String name, Duration keepAlive,
                                        LoadOptions options) throws InterruptedException {
        // a client that leaves while its request waits for a load starts no reload after it (ModelManager.lease)
        try {
            // the models this connection's request already holds (an OpenAI request's earlier choices): it may hold
            // them again while one drains for another model's room, which waits for the first holds to end
            java.util.Set<Object> held = ex.heldModels();
            LoadedModel.Lease lease = models.lease(name, keepAlive, options, () -> !ex.isOpen(), held).get();
            held.add(lease.model());
            ex.afterResponse(() -> {
                held.remove(lease.model());
                lease.close();
            });
            return lease;
        } catch (java.util.concurrent.CancellationException e) {
            throw new dev.gantry.server.http.ApiException(499, "the client closed the request");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof java.util.concurrent.CancellationException) {
                throw new dev.gantry.server.http.ApiException(499, "the client closed the request");
            }
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
    }
}
