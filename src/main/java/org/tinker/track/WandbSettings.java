package org.tinker.track;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.tinker.config.ConfigError;

/**
 * Where and how a run talks to W&B, resolved as the official client does: defaults, then environment
 * variables; the API key from {@code WANDB_API_KEY}, else the netrc entry for the base URL's host.
 *
 * @param mode online, offline or disabled (online without a key becomes offline, see {@link #keyMissing})
 * @param keyMissing online was asked for but no API key was found
 * @param dir parent of the {@code wandb/} spool folder ({@code WANDB_DIR}, default the working folder)
 * @param resume null, allow, must, never or auto
 */
public record WandbSettings(Mode mode, boolean keyMissing, String baseUrl, String apiKey, String entity, String project, Path dir,
                            String runId, String resume, String name, String notes, List<String> tags, String group,
                            Timing timing) {
    public static final String DEFAULT_BASE_URL = "https://api.wandb.ai";

    public enum Mode { ONLINE, OFFLINE, DISABLED }

    /**
     * Timing knobs (defaults as the official client; tests shrink them).
     *
     * @param batchInterval at most one file_stream POST per interval
     * @param heartbeat an empty file_stream POST when nothing was sent for this long
     * @param backoffBase first retry wait (doubles, +0..25% jitter) unless the server sends Retry-After
     * @param backoffMax longest retry wait
     * @param initWait how long start-up waits for the server before training goes on regardless
     * @param finishWait how long the end of a run keeps retrying unsent rows before leaving them to wandb-sync
     *        ({@code WANDB_FINISH_TIMEOUT} seconds); null when unset: a training run then takes its
     *        {@code tp.wandb_finish_timeout_s}, anything else {@link #DEFAULT_FINISH_WAIT}
     * @param graphqlTimeout per-attempt timeout of GraphQL calls
     * @param streamTimeout per-attempt timeout of file_stream calls
     */
    public record Timing(Duration batchInterval, Duration heartbeat, Duration backoffBase, Duration backoffMax, Duration initWait,
                         Duration finishWait, Duration graphqlTimeout, Duration streamTimeout) {
        public static final Duration DEFAULT_FINISH_WAIT = Duration.ofMinutes(10);
        public static final Timing DEFAULT = new Timing(Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(2),
                Duration.ofSeconds(60), Duration.ofSeconds(15), null, Duration.ofSeconds(30), Duration.ofSeconds(180));

        public Timing withFinishWait(Duration d) {
            return new Timing(batchInterval, heartbeat, backoffBase, backoffMax, initWait, d, graphqlTimeout, streamTimeout);
        }

        /** The finish wait, or {@link #DEFAULT_FINISH_WAIT} when unset. */
        public Duration finishWaitOrDefault() {
            return finishWait != null ? finishWait : DEFAULT_FINISH_WAIT;
        }
    }

    /** From the process environment and the user's home folder. */
    public static WandbSettings fromEnvironment() {
        return fromEnv(System.getenv(), Path.of(System.getProperty("user.home", ".")));
    }

    /** From the given environment (tests pass their own) and home folder (for ~/.netrc). */
    public static WandbSettings fromEnv(Map<String, String> env, Path home) {
        String modeStr = nonBlank(env.get("WANDB_MODE"));
        Mode mode = modeStr == null ? Mode.ONLINE : switch (modeStr.toLowerCase()) {
            case "online", "run", "shared" -> Mode.ONLINE;
            case "offline", "dryrun" -> Mode.OFFLINE;
            case "disabled" -> Mode.DISABLED;
            default -> throw new ConfigError("WANDB_MODE=" + modeStr + ": expected online, offline or disabled");
        };
        String base = nonBlank(env.get("WANDB_BASE_URL"));
        base = base == null ? DEFAULT_BASE_URL : base.replaceAll("/+$", "");
        try {
            URI u = URI.create(base);
            if (u.getScheme() == null || u.getHost() == null) throw new IllegalArgumentException();
        } catch (IllegalArgumentException e) {
            throw new ConfigError("WANDB_BASE_URL=" + base + ": expected a URL such as https://api.wandb.ai");
        }
        String key = nonBlank(env.get("WANDB_API_KEY"));
        if (key == null) key = netrcPassword(netrcFile(env, home), netloc(base));
        boolean missing = mode == Mode.ONLINE && key == null;
        if (missing) mode = Mode.OFFLINE;
        String resume = nonBlank(env.get("WANDB_RESUME"));
        if (resume != null) {
            resume = resume.toLowerCase();
            if (resume.equals("true")) resume = "auto";
            if (resume.equals("false")) resume = null;
            else if (!List.of("allow", "must", "never", "auto").contains(resume))
                throw new ConfigError("WANDB_RESUME=" + resume + ": expected allow, must, never or auto");
        }
        String runId = nonBlank(env.get("WANDB_RUN_ID"));
        if (runId != null && runId.matches(".*[:;,#?/'].*"))
            throw new ConfigError("WANDB_RUN_ID=" + runId + ": a run id may not contain any of :;,#?/'");
        List<String> tags = new ArrayList<>();
        String t = env.get("WANDB_TAGS");
        if (t != null) for (String s : t.split(",")) if (!s.isBlank()) tags.add(s.trim());
        String dir = nonBlank(env.get("WANDB_DIR"));
        Timing timing = Timing.DEFAULT;
        String ft = nonBlank(env.get("WANDB_FINISH_TIMEOUT"));
        if (ft != null) {
            double sec;
            try {
                sec = Double.parseDouble(ft);
            } catch (NumberFormatException e) {
                sec = -1;
            }
            if (!(sec >= 0)) throw new ConfigError("WANDB_FINISH_TIMEOUT=" + ft + ": expected seconds (a number >= 0)");
            timing = timing.withFinishWait(Duration.ofMillis((long) (sec * 1000)));
        }
        return new WandbSettings(mode, missing, base, key, nonBlank(env.get("WANDB_ENTITY")), nonBlank(env.get("WANDB_PROJECT")),
                Path.of(dir == null ? "." : dir), runId, resume, nonBlank(env.get("WANDB_NAME")), nonBlank(env.get("WANDB_NOTES")),
                List.copyOf(tags), nonBlank(env.get("WANDB_RUN_GROUP")), timing);
    }

    public WandbSettings withTiming(Timing t) {
        return new WandbSettings(mode, keyMissing, baseUrl, apiKey, entity, project, dir, runId, resume, name, notes, tags, group, t);
    }

    public WandbSettings withMode(Mode m) {
        return new WandbSettings(m, keyMissing, baseUrl, apiKey, entity, project, dir, runId, resume, name, notes, tags, group, timing);
    }

    public WandbSettings withRun(String id, String resumeMode) {
        return new WandbSettings(mode, keyMissing, baseUrl, apiKey, entity, project, dir, id, resumeMode, name, notes, tags, group, timing);
    }

    public WandbSettings withDir(Path d) {
        return new WandbSettings(mode, keyMissing, baseUrl, apiKey, entity, project, d, runId, resume, name, notes, tags, group, timing);
    }

    /** The line that tells a user without a key what to do. */
    public String missingKeyHint() {
        String host = netloc(baseUrl);
        return "W&B: no API key for " + host + " (set WANDB_API_KEY, or run `wandb login`, or add `machine " + host
                + " login user password KEY` to ~/.netrc; WANDB_MODE=offline or --no-wandb silence this); logging offline";
    }

    /** The web address of a run's page: api.wandb.ai → wandb.ai, api.X → X, otherwise the base URL itself. */
    public String runUrl(String entity, String project, String id) {
        URI u = URI.create(baseUrl);
        String app = u.getHost().startsWith("api.") ? u.getScheme() + "://" + u.getHost().substring(4)
                + (u.getPort() > 0 ? ":" + u.getPort() : "") : baseUrl;
        return app + "/" + entity + "/" + project + "/runs/" + id;
    }

    /** host[:port] of a URL, as the official client names netrc machines. */
    static String netloc(String url) {
        URI u = URI.create(url);
        return u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "");
    }

    static Path netrcFile(Map<String, String> env, Path home) {
        String n = nonBlank(env.get("NETRC"));
        if (n != null) return Path.of(n);
        Path a = home.resolve(".netrc");
        if (Files.exists(a)) return a;
        Path b = home.resolve("_netrc");
        return Files.exists(b) ? b : a;
    }

    /** The password of {@code machine} (or of {@code default}) in a netrc file; null when none. */
    static String netrcPassword(Path file, String machine) {
        if (file == null || !Files.isRegularFile(file)) return null;
        List<String> tok;
        try {
            tok = tokens(Files.readString(file));
        } catch (IOException e) {
            return null;
        }
        String current = null, found = null, dflt = null;
        boolean isDefault = false;
        for (int i = 0; i < tok.size(); i++) {
            String k = tok.get(i);
            switch (k) {
                case "machine" -> {
                    current = i + 1 < tok.size() ? tok.get(++i) : null;
                    isDefault = false;
                }
                case "default" -> {
                    current = null;
                    isDefault = true;
                }
                case "login", "account" -> i++;
                case "password" -> {
                    String p = i + 1 < tok.size() ? tok.get(++i) : null;
                    if (machine.equals(current) && found == null) found = p;
                    if (isDefault && dflt == null) dflt = p;
                }
                case "macdef" -> { // skip to the end of the macro (a blank line); tokens lost that information, stop here
                    i = tok.size();
                }
                default -> { }
            }
        }
        return found != null ? found : dflt;
    }

    /** Whitespace-separated tokens with shell-like quotes and backslash escapes; # comments to end of line. */
    private static List<String> tokens(String text) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = null;
        char quote = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quote != 0) {
                if (c == quote) quote = 0;
                else if (c == '\\' && quote == '"' && i + 1 < text.length()) cur.append(text.charAt(++i));
                else cur.append(c);
            } else if (c == '"' || c == '\'') {
                if (cur == null) cur = new StringBuilder();
                quote = c;
            } else if (c == '\\' && i + 1 < text.length()) {
                if (cur == null) cur = new StringBuilder();
                cur.append(text.charAt(++i));
            } else if (Character.isWhitespace(c)) {
                if (cur != null) out.add(cur.toString());
                cur = null;
            } else if (c == '#' && cur == null) {
                while (i < text.length() && text.charAt(i) != '\n') i++;
            } else {
                if (cur == null) cur = new StringBuilder();
                cur.append(c);
            }
        }
        if (cur != null) out.add(cur.toString());
        return out;
    }

    private static String nonBlank(String s) {
        return s == null || s.isBlank() ? null : s.trim();
    }
}
