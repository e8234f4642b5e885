package org.tinker.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tinker.runs.RunStore;
import org.tinker.train.TestRuns;

/**
 * {@code runner search} end to end on real data: tiny FlexiBERT models of a four-model space trained on a crop of PTB
 * by the runner itself (child processes, as the rounds of a real search), warm-started by weight transfer, resumed
 * after a kill without training anything twice; and a round written as a SLURM array script, run by hand, collected.
 */
class SearchCommandTest {
    static final String SPACE = """
            architecture:
              encoder_layers: [2]
              hidden_size: [16, 24]
              num_heads: [2]
              operation_types: [sa, l]
              operation_parameters: {sa: [sdp], l: [dct]}
              number_of_feed-forward_stacks: [1]
              feed-forward_hidden: [32]
            """;

    static Path files(Path dir) throws Exception {
        Files.writeString(dir.resolve("space.yaml"), SPACE);
        Files.writeString(dir.resolve("base.txt"), TestRuns.set(TestRuns.PTB_TINY, "epochs", "1", "debug_crop", "40"));
        return dir;
    }

    static List<JsonObject> records(Path out) throws Exception {
        return Files.readAllLines(out.resolve("search.jsonl")).stream().map(l -> JsonParser.parseString(l).getAsJsonObject()).toList();
    }

    static int saved(Path savedModels) {
        return new RunStore(savedModels).list().size();
    }

    static String[] args(Path dir, String... more) {
        return Stream.concat(Stream.of("search", "--space=" + dir.resolve("space.yaml"), "--base=" + dir.resolve("base.txt"),
                "--out=" + dir.resolve("search"), "--saved-models=" + dir.resolve("saved"), "--seed=3"), Stream.of(more)).toArray(String[]::new);
    }

    @Test
    void trainsWarmStartedModelsAsSavedRunsAndContinuesAfterAKill(@TempDir Path dir) throws Exception {
        files(dir);
        Files.createDirectories(dir.resolve("saved"));
        Path out = dir.resolve("search"); // also the runs' config names, search-001 ...: --config=search must not be taken for the subcommand
        assertEquals(0, Main.run(args(dir, "--budget=2", "--init=2", "--parallel=2")), "one round of two models side by side");
        assertEquals(2, saved(dir.resolve("saved")));
        List<JsonObject> first = records(out);
        assertEquals(2, first.size());

        // killed after the round trained but before it was recorded: the next start trains nothing of it again
        Files.delete(out.resolve("search.jsonl"));
        assertEquals(0, Main.run(args(dir, "--budget=3", "--init=2")));
        assertEquals(3, saved(dir.resolve("saved")), "the two finished models were collected, only the third trained");
        List<JsonObject> rs = records(out);
        assertEquals(3, rs.size());
        assertEquals(3, new HashSet<>(rs.stream().map(r -> r.get("model_dict").getAsString()).toList()).size());
        for (int i = 0; i < 2; i++) assertEquals(first.get(i).get("run").getAsString(), rs.get(i).get("run").getAsString());
        JsonObject third = rs.get(2);
        assertEquals("ei", third.get("strategy").getAsString());
        assertEquals("OD", third.get("transfer").getAsString());
        String neighbour = third.get("neighbour_run").getAsString();
        assertTrue(List.of(rs.get(0).get("run").getAsString(), rs.get(1).get("run").getAsString()).contains(neighbour));
        assertTrue(third.get("val_loss").getAsDouble() > 0 && third.get("params").getAsLong() > 0 && third.get("wall_s").getAsDouble() > 0);
        assertEquals(1 + 2 * (1 + 2 + 4), third.getAsJsonArray("embedding").size(), "l, then per layer: present, 2 operations, 4 sizes");
        RunStore.Run run = new RunStore(dir.resolve("saved")).find(third.get("run").getAsString());
        String log = Files.readString(run.dir().resolve("log.txt"));
        assertTrue(log.contains("weights from " + neighbour + " by OD transfer"), log);
        assertTrue(log.contains("mp.from_saved=" + neighbour), "the warm start is in the run's own params");

        assertEquals(0, Main.run(args(dir, "--budget=3", "--init=2")), "a finished search");
        assertEquals(3, saved(dir.resolve("saved")), "trains nothing more");
        assertEquals(3, records(out).size());
    }

    @Test
    void aSlurmRoundIsOneArrayJobAndIsCollectedWhenTheSearchStartsAgain(@TempDir Path dir) throws Exception {
        files(dir);
        Files.createDirectories(dir.resolve("saved"));
        assertEquals(0, Main.run(args(dir, "--budget=2", "--init=2", "--parallel=2", "--slurm", "--sbatch=none")));
        assertFalse(Files.exists(dir.resolve("search").resolve("search.jsonl")), "nothing trained yet");
        Path script;
        try (Stream<Path> s = Files.walk(dir.resolve("saved"))) {
            script = s.filter(p -> p.getFileName().toString().equals("grid.sbatch")).findFirst().orElseThrow();
        }
        String text = Files.readString(script);
        assertTrue(text.contains("#SBATCH --array=1-2"), text);
        assertTrue(text.contains("--grid-index=\"$SLURM_ARRAY_TASK_ID\""), text);
        // the scheduler's part, by hand: each task's runner command with its --grid-index
        String line = text.lines().filter(l -> l.startsWith("exec ")).findFirst().orElseThrow();
        List<String> words = List.of(line.split(" "));
        List<String> runnerArgs = words.subList(words.indexOf("--config=search"), words.size() - 1).stream().map(w -> w.replace("'", "")).toList();
        for (int i = 1; i <= 2; i++) {
            List<String> a = new java.util.ArrayList<>(runnerArgs);
            a.add("--grid-index=" + i);
            assertEquals(0, Main.run(a.toArray(String[]::new)), a.toString());
        }
        assertEquals(0, Main.run(args(dir, "--budget=2", "--init=2", "--parallel=2", "--slurm", "--sbatch=none")));
        assertEquals(2, records(dir.resolve("search")).size(), "the array's two runs collected, not submitted again");
        assertEquals(2, saved(dir.resolve("saved")));
    }

    @Test
    void mistakesAreOneLineAndExitTwo(@TempDir Path dir) throws Exception {
        files(dir);
        assertEquals(2, Main.run(args(dir, "--budget=0")));
        assertEquals(2, Main.run(args(dir, "--budget=2", "--levels=1,2")));
        Files.writeString(dir.resolve("base.txt"), TestRuns.set(TestRuns.PTB_TINY, "lr", "[0.001, 0.01]"));
        assertEquals(2, Main.run(args(dir, "--budget=2")), "a grid axis in the base");
        assertFalse(Files.exists(dir.resolve("search").resolve("search.jsonl")));
    }
}
