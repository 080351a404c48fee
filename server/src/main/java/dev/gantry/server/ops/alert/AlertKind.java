package dev.gantry.server.ops.alert;

/** What an alert is about; {@link #wire()} is its name in logs and in the webhook's JSON. */
public enum AlertKind {
    /** A GPU busy above the threshold for the rule's time: it is saturated. */
    GPU_UTILIZATION_HIGH("gpu_utilization_high"),
    /** A GPU nearly idle while requests wait: the load is not reaching it. */
    GPU_IDLE_WHILE_WAITING("gpu_idle_while_requests_wait"),
    /** A GPU hotter than the threshold. */
    GPU_TEMPERATURE_HIGH("gpu_temperature_high"),
    /** A GPU's memory above the ceiling. */
    GPU_MEMORY_HIGH("gpu_memory_high");

    private final String wire;

    AlertKind(String wire) {
        this.wire = wire;
    }

    public String wire() {
        return wire;
    }
}
