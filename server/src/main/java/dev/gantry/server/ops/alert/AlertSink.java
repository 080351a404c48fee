package dev.gantry.server.ops.alert;

/** Where alert events go: the log, a webhook. Called on the alert monitor's thread; must return at once. */
@FunctionalInterface
public interface AlertSink {
    void accept(AlertEvent event);

    /** Logs each event once: a warning when an episode starts, an info line when it ends. */
    AlertSink LOG = new AlertSink() {
        private static final System.Logger LOGGER = System.getLogger("gantry.alerts");

        @Override
        public void accept(AlertEvent e) {
            if (e.state() == AlertEvent.State.FIRING) {
                LOGGER.log(System.Logger.Level.WARNING, "alert {0}: {1}", e.kind().wire(), e.message());
            } else {
                LOGGER.log(System.Logger.Level.INFO, "alert {0} resolved: {1}", e.kind().wire(), e.message());
            }
        }
    };
}
