package org.tinker.track;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.management.OperatingSystemMXBean;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * The files of a run page the official client writes beside the history: {@code wandb-metadata.json} (host,
 * program, command line, git commit, Java and tinker versions, CPU/GPU count), {@code requirements.txt} (the
 * libraries on the class path, {@code artifact==version}), {@code config.yaml}, and the system metrics sampled
 * every 15 s (process CPU %, RSS).
 */
final class RunFiles {
    private RunFiles() {}

    static final String METADATA = "wandb-metadata.json", REQUIREMENTS = "requirements.txt", CONFIG = "config.yaml";
    static final String TINKER_VERSION = "0.1.0";

    /** Writes the three files into the spool's files/ (each recorded in the transaction log, uploaded by either sender). */
    static void write(Spool spool) {
        try {
            spool.writeFile(METADATA, WandbHttp.GSON.toJson(metadata(spool)));
            spool.writeFile(REQUIREMENTS, String.join("\n", requirements()) + "\n");
            spool.writeFile(CONFIG, configYaml(spool.run.getAsJsonObject("variables").get("config").getAsString()));
        } catch (IOException | RuntimeException e) {
            spool.debug("run files not written: " + e);
        }
    }

    static JsonObject metadata(Spool spool) {
        JsonObject m = new JsonObject();
        m.addProperty("os", System.getProperty("os.name") + "-" + System.getProperty("os.version") + "-" + System.getProperty("os.arch"));
        m.addProperty("java", System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
        m.addProperty("tinker", TINKER_VERSION);
        m.addProperty("startedAt", Instant.now().toString());
        List<String> args = new ArrayList<>();
        ProcessHandle.current().info().arguments().ifPresent(a -> args.addAll(List.of(a)));
        m.add("args", WandbHttp.GSON.toJsonTree(args));
        m.addProperty("program", "tinker");
        m.addProperty("executable", ProcessHandle.current().info().command().orElse("java"));
        m.addProperty("host", spool.run.getAsJsonObject("variables").get("host").getAsString());
        m.addProperty("root", Path.of("").toAbsolutePath().toString());
        String commit = gitCommit();
        if (commit != null) {
            JsonObject git = new JsonObject();
            git.addProperty("commit", commit);
            m.add("git", git);
        }
        m.addProperty("cpu_count", Runtime.getRuntime().availableProcessors());
        m.addProperty("cpu_count_logical", Runtime.getRuntime().availableProcessors());
        m.addProperty("gpu_count", gpuCount());
        return m;
    }

    /** The working folder's git commit, or null (no git, not a repository, or slower than 2 s). */
    static String gitCommit() {
        try {
            Process p = new ProcessBuilder("git", "rev-parse", "HEAD").redirectErrorStream(true).start();
            if (!p.waitFor(2, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.exitValue() == 0 && out.matches("[0-9a-f]{40}") ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** NVIDIA devices the driver exposes ({@code /dev/nvidia0}, ...). */
    static int gpuCount() {
        try (Stream<Path> s = Files.list(Path.of("/dev"))) {
            return (int) s.filter(p -> p.getFileName().toString().matches("nvidia\\d+")).count();
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** The jars on the class path as {@code artifact==version}, sorted (the Maven dependencies of runner.jar). */
    static List<String> requirements() {
        List<String> out = new ArrayList<>();
        for (String e : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            String name = Path.of(e).getFileName() == null ? "" : Path.of(e).getFileName().toString();
            if (!name.endsWith(".jar")) continue;
            String base = name.substring(0, name.length() - 4);
            Matcher m = Pattern.compile("(.+?)-(\\d[^-]*(?:-.+)?)").matcher(base);
            out.add(m.matches() ? m.group(1) + "==" + m.group(2) : base);
        }
        out.sort(null);
        return out;
    }

    /** The config as the official client's config.yaml: {@code key: {value: v}}, _wandb first. */
    static String configYaml(String configJson) {
        JsonObject c = JsonParser.parseString(configJson).getAsJsonObject();
        Map<String, Object> yaml = new LinkedHashMap<>();
        if (c.has("_wandb")) yaml.put("_wandb", WandbHttp.GSON.fromJson(c.get("_wandb"), Object.class));
        for (Map.Entry<String, JsonElement> e : c.entrySet())
            if (!e.getKey().equals("_wandb")) yaml.put(e.getKey(), WandbHttp.GSON.fromJson(e.getValue(), Object.class));
        DumperOptions o = new DumperOptions();
        o.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        return new Yaml(o).dump(yaml);
    }

    /** One sample of system metrics: process CPU % (of one core, as the official client's proc.cpu.percent) and RSS in MB. */
    static Map<String, Double> systemMetrics() {
        Map<String, Double> m = new LinkedHashMap<>();
        if (ManagementFactory.getOperatingSystemMXBean() instanceof OperatingSystemMXBean os) {
            double load = os.getProcessCpuLoad();
            if (load >= 0) m.put("proc.cpu.percent", load * 100 * Runtime.getRuntime().availableProcessors());
            double sys = os.getCpuLoad();
            if (sys >= 0) m.put("cpu", sys * 100);
        }
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status")))
                if (l.startsWith("VmRSS:")) m.put("proc.memory.rssMB", Double.parseDouble(l.replaceAll("\\D+", " ").trim()) / 1024);
        } catch (IOException | RuntimeException ignored) {
            // not Linux: no RSS
        }
        return m;
    }
}
