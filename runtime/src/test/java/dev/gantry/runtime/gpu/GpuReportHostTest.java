package dev.gantry.runtime.gpu;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/**
 * Discovery and the monitor on a real GPU host, with a CUDA build of llama.cpp in {@code GANTRY_LLAMA_LIB}:
 * {@code GANTRY_GPU_TESTS=1 GANTRY_LLAMA_LIB=... ./mvnw -pl runtime test -Dtest='dev.gantry.runtime.gpu.GpuReportHostTest'}.
 */
@EnabledIfEnvironmentVariable(named = "GANTRY_GPU_TESTS", matches = "1|true")
class GpuReportHostTest {
    @Test
    void everySourceAgreesAndTheMonitorKeepsUp() throws InterruptedException {
        GpuReport report = GpuReport.collect(Optional.ofNullable(System.getenv("GANTRY_LLAMA_LIB")).map(Path::of),
                Path.of("target", "gantry-cache").toAbsolutePath());
        System.out.print(report.render());
        assertTrue(report.hasGpu());
        assertTrue(report.inventory().sources().stream().allMatch(s -> s.available()), report.render());
        report.inventory().gpus().forEach(g -> {
            assertTrue(g.usableByLlama() && g.cudaOrdinal() == g.index() && g.nvmlIndex() >= 0, g.toString());
            assertTrue(report.samples().containsKey(g.index()), "no reading of GPU " + g.index());
        });
        assertFalse(report.render().contains("note: "), "a note means a source disagreed");
        try (GpuMonitor m = report.startMonitor(Duration.ofMillis(100))) {
            Instant first = m.snapshot().takenAt();
            Thread.sleep(350);
            GpuSnapshot s = m.snapshot();
            assertTrue(s.takenAt().isAfter(first), s.toString());
            assertTrue(report.gpuIndexes().stream().allMatch(i -> s.sample(i).filter(x -> !x.stale()).isPresent()),
                    s.toString());
            System.out.println(s);
        }
    }
}
