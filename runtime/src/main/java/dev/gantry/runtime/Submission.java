package dev.gantry.runtime;

import dev.gantry.runtime.runner.GenerationHandle;

/**
 * A generation accepted by a {@link LoadedModel}, and where it went: what the server's metrics label it with. The
 * router decides on the request's thread, so knowing the replica costs the runner nothing.
 *
 * @param handle    ends or cancels the generation
 * @param replica   the index of the replica whose runner took it ({@link Replica#index()})
 * @param prefixHit the router sent it to the replica that last served the same prompt prefix (prefix affinity), so
 *                  that replica's cache is the likeliest to help
 */
public record Submission(GenerationHandle handle, int replica, boolean prefixHit) {}
