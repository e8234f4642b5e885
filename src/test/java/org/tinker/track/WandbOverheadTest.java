package org.tinker.track;

import static org.junit.jupiter.api.Assertions.*;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.runs.StatsListener;
import org.tinker.train.Experiment;
import org.tinker.train.TestRuns;

/** A dead server costs a training step next to nothing; also writes the request log of a real run to target/. */
class WandbOverheadTest {
    static double seconds(Path saved, List<StatsListener> ls) {
        long t0 = System.nanoTime();
        Experiment.run(TestRuns.spec(WandbTrainingTest.ONE_EPOCH), new Experiment.Setup(Path.of("."), saved, false, ai.djl.Device.cpu(),
                new PrintStream(OutputStream.nullOutputStream()), ls, false));
        return (System.nanoTime() - t0) / 1e9;
    }

    @Test
    void deadServerDoesNotSlowTraining(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            WandbSettings s = fake.settings(dir, WandbSettings.Mode.ONLINE);
            WandbSettings.Timing f = s.timing();
            s = s.withTiming(new WandbSettings.Timing(f.batchInterval(), f.heartbeat(), f.backoffBase(), f.backoffMax(), Duration.ofMillis(200),
                    Duration.ofMillis(300), Duration.ofMillis(500), Duration.ofMillis(500)));
            seconds(dir, List.of()); // warm-up
            fake.hang = true;
            List<Double> none = new ArrayList<>(), dead = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                none.add(seconds(dir, List.of()));
                dead.add(seconds(dir, List.of(new WandbListener(s, null, new PrintStream(OutputStream.nullOutputStream())))));
            }
            fake.hang = false;
            // the dead-server runs include the bounded waits at start (200 ms) and end (300 ms + 1 s join slack at most)
            double a = none.stream().mapToDouble(d -> d).min().orElseThrow(), b = dead.stream().mapToDouble(d -> d).min().orElseThrow();
            String line = String.format("training run (1 epoch, ~26 steps): no W&B %.3f s, dead W&B server %.3f s (incl. init/finish waits)", a, b);
            System.out.println(line);
            Files.createDirectories(Path.of("target"));
            Files.writeString(Path.of("target/wandb-overhead.txt"), line + "\n");
            assertTrue(b < a + 2.5, line);
        }
    }

    @Test
    void perStatisticCostOnTheTrainingThread(@TempDir Path dir) throws Exception {
        try (WandbFake fake = new WandbFake()) {
            fake.hang = true;
            WandbSettings s = fake.settings(dir, WandbSettings.Mode.ONLINE);
            WandbSettings.Timing f = s.timing();
            s = s.withTiming(new WandbSettings.Timing(f.batchInterval(), f.heartbeat(), f.backoffBase(), f.backoffMax(), Duration.ofMillis(100),
                    Duration.ofMillis(200), Duration.ofMillis(500), Duration.ofMillis(500)));
            WandbListener l = new WandbListener(s, null, new PrintStream(OutputStream.nullOutputStream()));
            l.onStart(new StatsListener.RunStart(TestRuns.spec(WandbTrainingTest.ONE_EPOCH), dir, false, -1, null));
            int steps = 20_000;
            long t0 = System.nanoTime();
            for (int i = 1; i <= steps; i++) for (int k = 0; k < 8; k++)
                l.onStat("stat/s" + k, i * 0.5, new StatsListener.Counters(i, 8L * i, 8L * i + k));
            double usPerStep = (System.nanoTime() - t0) / 1e3 / steps;
            l.onEnd(null);
            String line = String.format("W&B cost on the training thread, server not answering: %.1f µs per step of 8 statistics", usPerStep);
            System.out.println(line);
            Files.writeString(Path.of("target/wandb-overhead.txt"), line + "\n", java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND);
            assertTrue(usPerStep < 500, line);
        }
    }
}
