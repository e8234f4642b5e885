package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.runs.Checkpoint;
import org.tinker.runs.RunStore;
import org.tinker.runs.TrainerState;
import org.tinker.train.TestRuns;

/**
 * Issue 19, item 7: SIGTERM and Ctrl-C (SIGINT) during training. A real training in a child JVM, signalled after its
 * first validation, writes a checkpoint of the step it is at (with {@code checkpoint_every = 0}), prints one line saying
 * how to resume and exits 143 / 130; {@code runner resume} from that checkpoint trains to the end (and removes a stale
 * temporary checkpoint folder, item 8).
 */
class SignalTest {
    static final String CONFIG = TestRuns.set(BadInputTest.tiny("TrainParams", "checkpoint_every", "0"),
            "epochs", "1000", "max_steps", String.valueOf(SignalTest.STEPS));
    /** Long enough that the signal, sent once the child is seen training, always arrives before the run's end. */
    static final int STEPS = 400;

    @Test
    void sigtermAndCtrlCSaveTheCurrentStepAndSayHowToResume(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("c.txt"), CONFIG);
        for (String signal : List.of("TERM", "INT")) {
            Path saved = dir.resolve("saved-" + signal);
            Path err = dir.resolve("err-" + signal + ".txt");
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Dtinker.relaunch=false", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                    "--config=c", "--configs-dir=" + dir, "--no-wandb", "--save", "--saved-models=" + saved));
            Path outFile = dir.resolve("out-" + signal + ".txt");
            Process p = new ProcessBuilder(cmd).directory(Path.of(System.getProperty("user.dir")).toFile())
                    .redirectOutput(outFile.toFile()).redirectError(err.toFile()).start();
            try {
                // training, past its first optimizer step (Process.destroy closes the pipes, so output goes to files)
                for (int i = 0; i < 1200 && p.isAlive() && !Files.readString(outFile).contains("val_loss"); i++) Thread.sleep(100);
                assertTrue(p.isAlive() && Files.readString(outFile).contains("val_loss"), "the child trains: " + Files.readString(err));
                if (signal.equals("TERM")) p.destroy(); // SIGTERM on Linux
                else assertEquals(0, new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor());
                assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            } finally {
                p.destroyForcibly();
            }
            String e = Files.readString(err);
            assertEquals(signal.equals("TERM") ? 143 : 130, p.exitValue(), e);
            List<String> lines = e.strip().lines().toList();
            assertEquals(1, lines.size(), e);
            RunStore.Run run = new RunStore(saved).list().get(0);
            assertTrue(lines.get(0).startsWith("interrupted: saved checkpoint "), e);
            assertTrue(lines.get(0).endsWith("continue with: runner resume --timestamp=" + run.timestamp() + " --saved-models=" + saved), e);
            assertFalse(run.finished(), "stopped before the end");
            List<String> cks = run.checkpoints();
            assertEquals(1, cks.size(), "only the checkpoint of the signal: " + cks);
            assertTrue(lines.get(0).contains("checkpoint " + cks.get(0) + " after"), e);
            TrainerState state = TrainerState.read(run.checkpoint(cks.get(0)).resolve(Checkpoint.STATE_FILE));
            assertEquals(Long.parseLong(cks.get(0)), state.nTrainSamples, "the checkpoint of the current step");
            assertTrue(state.nOptSteps > 0 && state.nOptSteps < STEPS, "mid-training: " + state.nOptSteps);
            assertTrue(lines.get(0).contains("after " + state.nOptSteps + " optimizer steps"), e);
            if (signal.equals("TERM")) {
                // what a save killed harder (kill -9) would leave: removed when the run resumes (item 8)
                Path stale = run.dir().resolve("." + cks.get(0) + ".tmp-12345");
                Files.createDirectories(stale);
                Files.writeString(stale.resolve(Checkpoint.MODEL_FILE), "half");
                MainTest.Outcome resumed = MainTest.run("resume", "--timestamp=" + run.timestamp(), "--saved-models=" + saved, "--no-wandb");
                assertEquals(0, resumed.code(), resumed.err());
                assertFalse(Files.exists(stale), "the stale temporary folder is gone");
                assertTrue(resumed.out().contains("removed what an interrupted save left in " + run.dir() + ": " + stale.getFileName()),
                        resumed.out());
                assertTrue(run.finished(), "resume from the signal's checkpoint trains to the end");
                assertEquals(STEPS, TrainerState.read(run.checkpoint(Checkpoint.FINAL).resolve(Checkpoint.STATE_FILE)).nOptSteps);
            }
        }
    }
}
