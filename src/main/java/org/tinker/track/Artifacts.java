package org.tinker.track;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.tinker.runs.Checkpoint;

/**
 * A logged artifact as the official client describes one (its ArtifactRecord): type, name, aliases, and a v1
 * manifest of the files, each with its size and base64 MD5; the artifact's digest is the hex MD5 of the manifest's
 * {@code path:digest} lines. Kept in a spool as JSON:
 * <pre>
 *   {client_id, sequence_client_id, type, name, digest, metadata?, aliases: [..],
 *    contents: [{path, digest, size, local_path}, ...]}   (contents sorted by path)
 * </pre>
 * {@code local_path} is a staged hard link (a copy where links are impossible) under the run folder's
 * {@code artifacts/}: wandb-core's saver may delete the files it uploaded, so it must never name the original. tinker's
 * own senders read the staged files from the run folder where it is now ({@link #staged}).
 */
final class Artifacts {
    private Artifacts() {}

    static final String STAGING = "artifacts", STORAGE_POLICY = "wandb-storage-policy-v1", STORAGE_LAYOUT = "V2";
    private static final String DIGEST_HEADER = "wandb-artifact-manifest-v1\n";

    /**
     * Describes the files under {@code folder} as a new artifact version and stages them under
     * {@code {runDir}/artifacts/}. Reads every file once (for its MD5).
     */
    static JsonObject stage(Path runDir, String name, String type, Path folder, List<String> aliases, JsonObject metadata) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(folder)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        String clientId = WandbRun.newId(128); // as the official client's
        Path staging = staging(runDir, clientId);
        JsonArray contents = new JsonArray();
        for (Path f : files) {
            String rel = folder.relativize(f).toString().replace('\\', '/');
            Path staged = staging.resolve(rel);
            Files.createDirectories(staged.getParent());
            try {
                Files.createLink(staged, f);
            } catch (FileSystemException | UnsupportedOperationException e) { // another file system: a copy
                Files.copy(f, staged, StandardCopyOption.COPY_ATTRIBUTES);
            }
            JsonObject e = new JsonObject();
            e.addProperty("path", rel);
            e.addProperty("digest", md5File(staged));
            e.addProperty("size", Files.size(staged));
            e.addProperty("local_path", staged.toAbsolutePath().toString());
            contents.add(e);
        }
        JsonObject a = new JsonObject();
        a.addProperty("client_id", clientId);
        a.addProperty("sequence_client_id", WandbRun.newId(128));
        a.addProperty("type", type);
        a.addProperty("name", name);
        a.addProperty("digest", digest(contents));
        if (metadata != null) a.addProperty("metadata", WandbHttp.GSON.toJson(metadata));
        a.add("aliases", WandbHttp.GSON.toJsonTree(aliases));
        a.add("contents", contents);
        return a;
    }

    /** The artifact's digest: hex MD5 of the manifest header and a {@code path:digest} line per file, by path. */
    static String digest(JsonArray contents) {
        MessageDigest md = md5();
        md.update(DIGEST_HEADER.getBytes(StandardCharsets.UTF_8));
        List<String> lines = new ArrayList<>();
        for (JsonElement e : contents) lines.add(path(e) + ":" + e.getAsJsonObject().get("digest").getAsString() + "\n");
        lines.sort(null);
        lines.forEach(l -> md.update(l.getBytes(StandardCharsets.UTF_8)));
        return HexFormat.of().formatHex(md.digest());
    }

    /**
     * {@code wandb_manifest.json}: version 1, the storage policy, and per file its digest, size and the id of the
     * artifact version that first stored it ({@code birthArtifactID}, from CreateArtifactFiles); no local paths.
     */
    static byte[] manifestJson(JsonObject artifact, Map<String, String> birthIds) {
        JsonObject m = new JsonObject();
        m.addProperty("version", 1);
        m.addProperty("storagePolicy", STORAGE_POLICY);
        JsonObject cfg = new JsonObject();
        cfg.addProperty("storageLayout", STORAGE_LAYOUT);
        m.add("storagePolicyConfig", cfg);
        JsonObject contents = new JsonObject();
        for (JsonElement e : artifact.getAsJsonArray("contents")) {
            JsonObject entry = new JsonObject();
            entry.add("digest", e.getAsJsonObject().get("digest"));
            entry.add("size", e.getAsJsonObject().get("size"));
            String birth = birthIds.get(path(e));
            if (birth != null) entry.addProperty("birthArtifactID", birth);
            contents.add(path(e), entry);
        }
        m.add("contents", contents);
        return WandbHttp.GSON.toJson(m).getBytes(StandardCharsets.UTF_8);
    }

    /** Removes an uploaded artifact's staged files (as the official client does once it has saved one). */
    static void unstage(Path runDir, JsonObject artifact) {
        Checkpoint.deleteTree(staging(runDir, artifact.get("client_id").getAsString()));
    }

    /** A manifest entry's path in the artifact. */
    static String path(JsonElement entry) {
        return entry.getAsJsonObject().get("path").getAsString();
    }

    /** An artifact's staged file in a run folder. */
    static Path staged(Path runDir, JsonObject artifact, String path) {
        return staging(runDir, artifact.get("client_id").getAsString()).resolve(path);
    }

    /** {@code artifacts/{client id's first 16 characters}/}: one folder per artifact version. */
    private static Path staging(Path runDir, String clientId) {
        return runDir.resolve(STAGING).resolve(clientId.substring(0, 16));
    }

    /** Base64 MD5 of a file (the digest of a manifest entry, and the md5 of CreateArtifactFiles). */
    static String md5File(Path f) throws IOException {
        MessageDigest md = md5();
        try (InputStream in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        }
        return Base64.getEncoder().encodeToString(md.digest());
    }

    static String md5(byte[] bytes) {
        return Base64.getEncoder().encodeToString(md5().digest(bytes));
    }

    private static MessageDigest md5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
