package dev.gantry.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Routing weights from the decode rates measured at load: only speeds a probe can tell apart tilt the share. */
class RoutingWeightsTest {
    static Stream<Arguments> rates() {
        return Stream.of(
                Arguments.of("two identical H200s, measured 245 and 275 tokens/s", new double[] {245.2, 275.1},
                        new double[] {1, 1}),
                Arguments.of("four cards within a quarter of each other", new double[] {228.6, 264.5, 250, 240},
                        new double[] {1, 1, 1, 1}),
                Arguments.of("a card twice as fast", new double[] {100, 200}, new double[] {2.0 / 3, 4.0 / 3}),
                Arguments.of("an H100 beside an H200", new double[] {240, 340}, new double[] {240 / 290.0, 340 / 290.0}),
                Arguments.of("a card ten times slower is not starved", new double[] {10, 100, 100, 100},
                        new double[] {0.25, 100 / 77.5, 100 / 77.5, 100 / 77.5}),
                Arguments.of("a failed probe keeps every weight neutral", new double[] {Double.NaN, 100},
                        new double[] {1, 1}),
                Arguments.of("a probe of zero tokens a second", new double[] {0, 100}, new double[] {1, 1}),
                Arguments.of("one replica", new double[] {300}, new double[] {1}));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rates")
    void weights(String name, double[] rates, double[] expected) {
        assertArrayEquals(expected, LoadedModel.routingWeights(rates), 1e-9);
    }
}
