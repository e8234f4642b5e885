package org.tinker.track;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import okhttp3.Call;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * HTTP to a W&B server over OkHttp: Basic auth only on requests to the base URL, retries and backoff as the
 * official client (Retry-After first, else {@code min(max, base·2^attempt·(1+0.25·rand))}), GraphQL errors.
 */
final class WandbHttp {
    static final MediaType JSON = MediaType.get("application/json");
    static final String USER_AGENT = "wandb-java/tinker-0.1.0";
    /** Serializes with NaN/Infinity as bare tokens (what wandb-core sends) and nulls kept. */
    static final Gson GSON = new GsonBuilder().serializeSpecialFloatingPointValues().serializeNulls().disableHtmlEscaping().create();

    /** Which failures are retried (core's retry_policy.go; file PUTs as retryablehttp). */
    enum Policy {
        GRAPHQL(20, Set.of(400, 401, 403, 404, 409, 410, 413, 422, 501)),
        UPSERT(20, Set.of(400, 401, 403, 404, 410, 413, 422, 501)),
        FILE_STREAM(10085, Set.of(400, 401, 403, 404, 409, 410, 413, 422, 501)),
        UPLOAD(20, null);

        final int maxRetries;
        private final Set<Integer> noRetry;

        Policy(int maxRetries, Set<Integer> noRetry) {
            this.maxRetries = maxRetries;
            this.noRetry = noRetry;
        }

        boolean retryable(int status) {
            if (noRetry == null) return status == 429 || (status >= 500 && status != 501);
            return !noRetry.contains(status);
        }
    }

    /** A request that failed for good: a status the policy does not retry, retries used up, or aborted. */
    static final class Failure extends Exception {
        final int status;
        final boolean fatal;

        Failure(String message, int status, boolean fatal) {
            super(message);
            this.status = status;
            this.fatal = fatal;
        }
    }

    private final String baseUrl;
    private final HttpUrl base;
    private final String apiKey;
    private final WandbSettings.Timing timing;
    private final OkHttpClient graphqlClient, streamClient, uploadClient;
    private volatile Call inFlight;

    WandbHttp(String baseUrl, String apiKey, WandbSettings.Timing timing) {
        this.baseUrl = baseUrl;
        this.base = HttpUrl.get(baseUrl);
        this.apiKey = apiKey;
        this.timing = timing;
        OkHttpClient root = new OkHttpClient.Builder().retryOnConnectionFailure(false)
                .connectTimeout(Duration.ofSeconds(20)).readTimeout(Duration.ZERO).writeTimeout(Duration.ZERO)
                .addInterceptor(chain -> {
                    Request r = chain.request();
                    Request.Builder b = r.newBuilder().header("User-Agent", USER_AGENT);
                    if (isBaseUrl(r.url())) b.header("Authorization", authHeader());
                    else b.removeHeader("Authorization");
                    return chain.proceed(b.build());
                }).build();
        graphqlClient = root.newBuilder().callTimeout(timing.graphqlTimeout()).build();
        streamClient = root.newBuilder().callTimeout(timing.streamTimeout()).build();
        uploadClient = root.newBuilder().callTimeout(Duration.ZERO).build();
    }

    String baseUrl() {
        return baseUrl;
    }

    /** Same scheme, host and port as the base URL, and a path under its path (core's LimitTo). */
    boolean isBaseUrl(HttpUrl u) {
        if (!u.scheme().equals(base.scheme()) || !u.host().equalsIgnoreCase(base.host()) || u.port() != base.port()) return false;
        String bp = base.encodedPath();
        return bp.equals("/") || u.encodedPath().equals(bp) || u.encodedPath().startsWith(bp.endsWith("/") ? bp : bp + "/");
    }

    private String authHeader() {
        return "Basic " + Base64.getEncoder().encodeToString(("api:" + apiKey).getBytes(StandardCharsets.UTF_8));
    }

    /** Cuts short the request in flight (used when a run's time to finish is up). */
    void cancel() {
        Call c = inFlight;
        if (c != null) c.cancel();
    }

    /** POST {base}/graphql; returns {@code data}, or fails on HTTP errors and on GraphQL {@code errors}. */
    JsonObject graphql(String operation, String query, Map<String, Object> variables, Policy policy, BooleanSupplier stop)
            throws Failure {
        JsonObject body = new JsonObject();
        body.addProperty("operationName", operation);
        body.addProperty("query", query);
        body.add("variables", GSON.toJsonTree(variables));
        String json = GSON.toJson(body);
        String text = send(() -> new Request.Builder().url(baseUrl + "/graphql").post(RequestBody.create(json, JSON)).build(),
                policy, stop);
        JsonObject resp;
        try {
            resp = JsonParser.parseString(text).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new Failure(operation + ": the server's answer is not JSON: " + abbreviate(text), 200, true);
        }
        JsonElement errors = resp.get("errors");
        if (errors != null && errors.isJsonArray() && !errors.getAsJsonArray().isEmpty()) {
            JsonElement first = errors.getAsJsonArray().get(0);
            String msg = first.isJsonObject() && first.getAsJsonObject().has("message")
                    ? first.getAsJsonObject().get("message").getAsString() : first.toString();
            throw new Failure(operation + ": " + msg, 200, true);
        }
        JsonElement data = resp.get("data");
        return data != null && data.isJsonObject() ? data.getAsJsonObject() : new JsonObject();
    }

    /** POST {base}/files/{entity}/{project}/{run}/file_stream; the body is rebuilt for every attempt. */
    String fileStream(String entity, String project, String runId, Supplier<String> body, BooleanSupplier stop) throws Failure {
        String url = baseUrl + "/files/" + entity + "/" + project + "/" + runId + "/file_stream";
        return send(() -> new Request.Builder().url(url).post(RequestBody.create(body.get(), JSON)).build(), Policy.FILE_STREAM, stop);
    }

    /**
     * PUT a body (bytes, or a file streamed from disk) to a signed URL with its headers (no W&B auth: the interceptor
     * strips it off the base URL).
     */
    void upload(String url, RequestBody body, Map<String, String> headers, BooleanSupplier stop) throws Failure {
        String full = url.startsWith("/") ? baseUrl + url : url;
        send(() -> {
            Request.Builder b = new Request.Builder().url(full).put(body);
            headers.forEach(b::header);
            return b.build();
        }, Policy.UPLOAD, stop);
    }

    /** Sends with retries; returns the response body of the first 2xx. */
    String send(Supplier<Request> request, Policy policy, BooleanSupplier stop) throws Failure {
        OkHttpClient client = switch (policy) {
            case FILE_STREAM -> streamClient;
            case UPLOAD -> uploadClient;
            default -> graphqlClient;
        };
        for (int attempt = 0; ; attempt++) {
            if (stop.getAsBoolean()) throw new Failure("stopped", -1, false);
            Request req = request.get();
            int status;
            String text, retryAfter = null;
            try {
                Call call = client.newCall(req);
                inFlight = call;
                try (Response r = call.execute()) {
                    status = r.code();
                    text = r.body() == null ? "" : r.body().string();
                    retryAfter = r.header("Retry-After");
                }
            } catch (IOException e) {
                status = 0;
                text = e.getClass().getSimpleName() + ": " + e.getMessage();
            } finally {
                inFlight = null;
            }
            if (status >= 200 && status < 300) return text;
            String what = req.method() + " " + req.url().encodedPath() + ": " + (status == 0 ? text : "HTTP " + status + " " + abbreviate(text));
            if (status != 0 && !policy.retryable(status)) throw new Failure(what, status, true);
            if (attempt >= policy.maxRetries) throw new Failure(what + " (after " + attempt + " retries)", status, false);
            long waitMs = retryAfterMs(retryAfter);
            if (waitMs < 0) waitMs = backoffMs(attempt, timing);
            // a pooled connection the server closed while it sat idle (an HTTP/1.0 server closes after every response)
            // fails before any answer: the first such failure is retried at once, on a new connection, as Go's
            // net/http under wandb-core retries a request that failed on a reused connection
            if (status == 0 && attempt == 0) waitMs = 0;
            if (!sleep(waitMs, stop)) throw new Failure(what + " (stopped while waiting to retry)", status, false);
        }
    }

    /** {@code min(max, base·2^attempt·(1+0.25·rand))} in milliseconds. */
    static long backoffMs(int attempt, WandbSettings.Timing t) {
        double w = t.backoffBase().toMillis() * Math.pow(2, Math.min(attempt, 30)) * (1 + 0.25 * ThreadLocalRandom.current().nextDouble());
        return (long) Math.min(t.backoffMax().toMillis(), w);
    }

    /** Retry-After as seconds or an HTTP date; -1 when absent or unreadable. */
    static long retryAfterMs(String h) {
        if (h == null || h.isBlank()) return -1;
        try {
            return Math.max(0, (long) (Double.parseDouble(h.trim()) * 1000));
        } catch (NumberFormatException e) {
            try {
                ZonedDateTime at = ZonedDateTime.parse(h.trim(), DateTimeFormatter.RFC_1123_DATE_TIME);
                return Math.max(0, at.toInstant().toEpochMilli() - System.currentTimeMillis());
            } catch (RuntimeException e2) {
                return -1;
            }
        }
    }

    /** Sleeps in short slices so that {@code stop} cuts it short; false when stopped. */
    private static boolean sleep(long ms, BooleanSupplier stop) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        try {
            while (System.nanoTime() < end) {
                if (stop.getAsBoolean()) return false;
                Thread.sleep(Math.max(1, Math.min(50, TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime()))));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        return !stop.getAsBoolean();
    }

    private static String abbreviate(String s) {
        s = s.replace('\n', ' ').trim();
        return s.length() > 200 ? s.substring(0, 200) + "…" : s;
    }
}
