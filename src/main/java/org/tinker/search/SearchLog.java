package org.tinker.search;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import com.google.gson.reflect.TypeToken;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tinker.config.ConfigError;

/**
 * What a search keeps in its folder, all it needs to continue after a kill:
 * <ul>
 *   <li>{@code search.jsonl}: one {@link Record} per trained model, appended (and synced) once its run has finished;
 *   <li>{@code rounds/round-NNN.json}: the {@link Proposal}s of round NNN, written (atomically) before any of them
 *       trains, so a round cut short by a kill is finished as proposed, not proposed again.
 * </ul>
 */
public final class SearchLog {
    public static final String FILE = "search.jsonl";
    private static final Gson GSON = new GsonBuilder().serializeSpecialFloatingPointValues().create();

    /**
     * One trained model: its place in the search, the dict, its encoding, the run it was warm-started from (null: none)
     * and the run it became, its final validation loss, parameter count and wall time (seconds, as the round trainer
     * measured it).
     */
    public record Record(int index, int round, int level, String strategy, String model_dict, double[] embedding,
                         Integer neighbour_index, String neighbour_run, String transfer, String run, double val_loss,
                         long params, double wall_s) {}

    /** A model chosen for a round: its dict, level, why it was chosen, the trained model it starts from (or none). */
    public record Proposal(int index, int level, String strategy, String model_dict, Integer neighbour_index, String neighbour_run,
                           String transfer, double predicted_mean, double predicted_sd) {}

    private final Path dir;

    public SearchLog(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    public Path file() {
        return dir.resolve(FILE);
    }

    /** The records so far; a last line cut short by a kill (no newline, not JSON) is dropped, any other bad line is an error. */
    public List<Record> read() {
        List<Record> out = new ArrayList<>();
        if (!Files.isRegularFile(file())) return out;
        String text;
        try {
            text = Files.readString(file(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigError(file() + ": cannot read (" + e.getMessage() + ")");
        }
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            if (line.isBlank()) continue;
            boolean last = i == lines.length - 1; // no newline after it: an append the kill interrupted
            try {
                Record r = GSON.fromJson(line, Record.class);
                if (r == null || r.model_dict() == null) throw new JsonParseException("no model_dict");
                out.add(r);
            } catch (JsonParseException e) {
                if (last) break;
                throw new ConfigError(file() + ":" + (i + 1) + ": not a search record (" + e.getMessage() + ")");
            }
        }
        return out;
    }

    /** Appends records, each on its own line, and syncs the file. */
    public void append(List<Record> records) {
        try {
            Files.createDirectories(dir);
            dropCutLine();
            try (FileChannel ch = FileChannel.open(file(), StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
                 OutputStream os = Channels.newOutputStream(ch)) {
                StringBuilder s = new StringBuilder();
                for (Record r : records) s.append(GSON.toJson(r)).append('\n');
                os.write(s.toString().getBytes(StandardCharsets.UTF_8));
                os.flush();
                ch.force(true);
            }
        } catch (IOException e) {
            throw new ConfigError(file() + ": cannot append (" + e.getMessage() + ")");
        }
    }

    /** A last line without its newline (a killed append) is removed before the next append. */
    private void dropCutLine() throws IOException {
        if (!Files.isRegularFile(file())) return;
        byte[] b = Files.readAllBytes(file());
        if (b.length == 0 || b[b.length - 1] == '\n') return;
        int cut = b.length;
        while (cut > 0 && b[cut - 1] != '\n') cut--;
        Path tmp = file().resolveSibling(FILE + ".tmp");
        Files.write(tmp, Arrays.copyOf(b, cut));
        Files.move(tmp, file(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private Path roundFile(int round) {
        return dir.resolve("rounds").resolve(String.format("round-%03d.json", round));
    }

    /** The proposals written for a round, or null when it was never proposed. */
    public List<Proposal> proposals(int round) {
        Path f = roundFile(round);
        if (!Files.isRegularFile(f)) return null;
        try {
            return GSON.fromJson(Files.readString(f, StandardCharsets.UTF_8), new TypeToken<List<Proposal>>() {}.getType());
        } catch (IOException | JsonParseException e) {
            throw new ConfigError(f + ": cannot read the round's proposals (" + e.getMessage() + ")");
        }
    }

    /** Writes a round's proposals atomically (a temporary file renamed over the name). */
    public void writeProposals(int round, List<Proposal> proposals) {
        Path f = roundFile(round);
        try {
            Files.createDirectories(f.getParent());
            Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
            Files.writeString(tmp, GSON.toJson(proposals), StandardCharsets.UTF_8);
            Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new ConfigError(f + ": cannot write (" + e.getMessage() + ")");
        }
    }
}
