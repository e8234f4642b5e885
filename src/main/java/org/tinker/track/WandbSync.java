package org.tinker.track;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.tinker.config.ConfigError;

/**
 * {@code runner wandb-sync DIR...}: sends spools (offline runs, or online runs whose server went away)
 * to the server of the current settings. Idempotent: it starts from what {@code sync-state.json} says the
 * server acknowledged, and file_stream offsets are explicit, so a repeated or interrupted sync never
 * duplicates a row. Spools of the same run are sent oldest first.
 */
public final class WandbSync {
    private WandbSync() {}

    /** What one spool's sync did. */
    public record Result(Path dir, String runId, long rowsSent, boolean synced, String message) {}

    /** Syncs every spool folder given (or every spool under a {@code wandb/} folder given). */
    public static List<Result> sync(List<Path> dirs, WandbSettings s, PrintStream out) {
        if (s.mode() == WandbSettings.Mode.DISABLED) throw new ConfigError("wandb-sync: WANDB_MODE=disabled; nothing to do");
        if (s.apiKey() == null) throw new ConfigError("wandb-sync: " + s.missingKeyHint().replace("W&B: ", "").replace("; logging offline", ""));
        List<Path> spools = new ArrayList<>();
        for (Path d : dirs) {
            if (Spool.isSpool(d)) spools.add(d);
            else if (Files.isDirectory(d)) {
                try (var st = Files.list(d)) {
                    st.filter(p -> !Files.isSymbolicLink(p) && Spool.isSpool(p)).forEach(spools::add);
                } catch (IOException e) {
                    throw new ConfigError(d + ": cannot list (" + e.getMessage() + ")");
                }
                if (spools.isEmpty()) throw new ConfigError(d + ": not a W&B run folder (no run-<id>.wandb) nor a wandb/ folder of them");
            } else throw new ConfigError(d + ": no such folder");
        }
        // same run: oldest spool first (folder names are {run|offline-run}-{yyyyMMdd_HHmmss}-{id})
        spools.sort(Comparator.comparing((Path p) -> p.getFileName().toString().replaceFirst("^(offline-)?run-", "")));
        List<Result> results = new ArrayList<>();
        for (Path d : spools) {
            Result r = syncOne(d, s);
            out.println("W&B sync " + d + ": " + r.message());
            results.add(r);
        }
        return results;
    }

    static Result syncOne(Path dir, WandbSettings s) {
        Spool spool;
        try {
            spool = Spool.open(dir);
        } catch (IOException | RuntimeException e) {
            throw new ConfigError(dir + ": unreadable spool (" + e.getMessage() + ")");
        }
        try {
            if (spool.synced() && spool.entity() != null)
                return new Result(dir, spool.runId(), 0, true, "already synced (" + spool.size() + " rows)");
            long deadline = System.nanoTime() + s.timing().finishWaitOrDefault().toNanos();
            WandbHttp http = new WandbHttp(s.baseUrl(), s.apiKey(), s.timing());
            Sender sender = new Sender(http, spool, () -> System.nanoTime() > deadline);
            try {
                sender.upsert();
                boolean end = spool.exitCode() != null;
                do {
                    sender.upload();
                    sender.post(end);
                } while (!spool.synced());
                String url = s.runUrl(spool.entity(), spool.project(), spool.runId());
                return new Result(dir, spool.runId(), sender.rowsSent(), true, "sent " + sender.rowsSent() + " rows (" + spool.size()
                        + " in the spool)" + (end ? ", exit code " + spool.exitCode() : ", no end recorded (the run shows Crashed)")
                        + " → " + url);
            } catch (WandbHttp.Failure f) {
                return new Result(dir, spool.runId(), sender.rowsSent(), false, "stopped after " + sender.rowsSent() + " rows: "
                        + f.getMessage() + " (run wandb-sync again to continue)");
            }
        } catch (IOException e) {
            throw new ConfigError(dir + ": cannot update sync-state.json (" + e.getMessage() + ")");
        } finally {
            spool.close();
        }
    }
}
