package org.tinker.train;

import static org.junit.jupiter.api.Assertions.*;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.tinker.config.ModelParams;

class BenchmarkTest {
    @Test
    void flopsPerTokenCountsEveryMatmulWeightSixTimesPlusAttention() {
        ModelParams mp = TestRuns.spec("[ModelParams]\nn_layers=2\nn_heads=4\ndim=128\ndim_ff_factor=4\nmax_seq_len=64\n").mp();
        long perLayer = 4L * 128 * 128 + 2L * 128 * 512;
        assertEquals(6.0 * (2 * perLayer + 10_000L * 128) + 12.0 * 2 * 64 * 128, Benchmark.flopsPerToken(mp, 10_000));
    }

    @Test
    void aShortBenchmarkReportsSaneFigures() {
        Benchmark.Report r = Benchmark.run(TestRuns.spec(TestRuns.PTB_TINY), 12, false, Path.of("."),
                new PrintStream(OutputStream.nullOutputStream()));
        assertEquals(12, r.steps());
        assertTrue(r.medianTokensPerSec() > 0 && r.minTokensPerSec() <= r.medianTokensPerSec()
                && r.medianTokensPerSec() <= r.maxTokensPerSec(), r.table());
        assertTrue(r.matmulPeakGflops() > 1, r.table());
        assertTrue(r.mfu() > 0 && r.mfu() < 1, r.table());
        assertTrue(r.peakRssMb() > 50, r.table());
        assertTrue(r.secondsToFirstStep() > 0, r.table());
        assertTrue(r.table().contains("MFU"));
    }

    @Test
    void aTrainOnlySmokeRunTimesItsLastStepAndMeasuresNoGeneration() {
        Benchmark.Report r = Benchmark.run(TestRuns.spec(TestRuns.PTB_TINY), 3, true, Path.of("."),
                new PrintStream(OutputStream.nullOutputStream()));
        assertTrue(r.medianTokensPerSec() > 0 && r.medianTokensPerSec() == r.maxTokensPerSec(), r.table());
        assertEquals(0, r.generatedTokens());
        assertTrue(Double.isNaN(r.cachedTokensPerSec()) && Double.isNaN(r.recomputeTokensPerSec()), r.table());
        assertTrue(r.table().contains("generation tokens/s            not measured"), r.table());
    }

    @Test
    void aProfileRecordsTheOpsOfExactlyTheStepsAfterTheTimedOnes(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path trace = dir.resolve("profiles/tinker.json");
        Benchmark.Report r = Benchmark.run(TestRuns.spec(TestRuns.PTB_TINY), 3, true, new Benchmark.Profile(trace, 2), Path.of("."),
                new PrintStream(OutputStream.nullOutputStream()));
        assertEquals(3, r.steps(), "the profiled steps are not timed");
        com.google.gson.JsonArray events = com.google.gson.JsonParser.parseString(java.nio.file.Files.readString(trace)).getAsJsonArray();
        java.util.Map<String, Integer> calls = new java.util.HashMap<>();
        for (var e : events) calls.merge(e.getAsJsonObject().get("name").getAsString(), 1, Integer::sum);
        // one embedding lookup, its backward and one AdamW update per training step: the trace holds the two profiled
        // steps, forward, backward and optimizer, and nothing of the three before them
        for (String op : new String[] {"aten::embedding", "aten::embedding_dense_backward", "aten::_fused_adamw_"})
            assertEquals(2, calls.getOrDefault(op, 0), op + " in " + calls);
        assertTrue(calls.keySet().stream().anyMatch(n -> n.endsWith("Backward0")), "backward ops recorded: " + calls.keySet());
    }
}
