package org.tinker.cli;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.tinker.config.ConfigError;
import org.tinker.config.Params;
import org.tinker.config.TintParams;
import org.tinker.data.IclTask;
import org.tinker.data.PyRandom;
import org.tinker.tint.AuxModel;
import org.tinker.tint.IclEval;
import org.tinker.tint.TintPass;
import org.tinker.tint.TintSettings;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code runner tint icl}: few-shot classification in one TinT pass against the aux model alone ({@link IclEval}). */
@Command(name = "icl", mixinStandardHelpOptions = true, description = {"The original's icl_eval protocol (docs/models/tint.md, ICL evaluation): per query, the label word with",
        "the highest logit from the aux model alone (zero-shot and with the demonstrations in context) and from one TinT pass whose",
        "train part is the demonstrations, each isolated with positions from 0, the inner loss on their label words only, the query",
        "isolated too. Prints accuracies per demonstration count and appends a JSON line per count to --log."})
final class TintIclCommand implements Callable<Integer> {
    @ArgGroup(exclusive = true, multiplicity = "1") TintCommands.AuxChoice model;
    @Mixin TintCommands.Settings settings;
    @Option(names = "--task", paramLabel = "T", description = "the ICL task (default keyword-icl)") String task = "keyword-icl";
    @Option(names = "--demos", split = ",", paramLabel = "K,K,...", description = "demonstration counts (default 0,4,8)") List<Integer> demos = List.of(0, 4, 8);
    @Option(names = "--queries", paramLabel = "N", description = "queries per demonstration count (default 64); the same queries for every count") int queries = 64;
    @Option(names = "--seed", paramLabel = "S", description = "seed of the queries and demonstrations (default 1; the training samples use 0)") long seed = 1;
    @Option(names = "--batch-size", paramLabel = "B", description = "queries per TinT pass (engine; default 4)") int batchSize = 4;
    @Option(names = "--log", paramLabel = "FILE") Path log = Path.of("tint-results.jsonl");
    @Option(names = "--saved-models", paramLabel = "DIR") Path savedModels = Path.of("saved-models");

    /** The episodes of {@code k} demonstrations: queries from the seed, demonstrations from a stream of their own per k. */
    static List<IclTask.Episode> episodes(IclTask task, long seed, int n, int k) {
        PyRandom q = new PyRandom(seed), d = new PyRandom((seed + 7919L * (k + 1)) & 0xffffffffL);
        List<IclTask.Episode> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) out.add(task.episode(q, d, k));
        return out;
    }

    @Override
    public Integer call() throws IOException {
        IclTask t = IclTask.named(task);
        if (queries < 1) throw new ConfigError("--queries=" + queries + ": expected at least 1");
        if (batchSize < 1) throw new ConfigError("--batch-size=" + batchSize + ": expected at least 1");
        if (seed < 0 || seed > 0xffffffffL) throw new ConfigError("--seed=" + seed + ": expected 0.." + 0xffffffffL);
        for (int k : demos) if (k < 0) throw new ConfigError("--demos: " + k + ": expected counts ≥ 0");
        IclEval eval = new IclEval(t, TintCommands.tokenizer(model, savedModels, "icl"));
        List<List<IclTask.Episode>> perCount = new ArrayList<>();
        int longest = 0; // the memory estimate's T
        for (int k : demos) {
            perCount.add(episodes(t, seed, queries, k));
            for (IclTask.Episode e : perCount.get(perCount.size() - 1)) longest = Math.max(longest, eval.singleFt(e).ids().length);
        }
        AuxModel aux = TintCommands.aux(model, savedModels, settings, Math.min(batchSize, queries), longest);
        TintParams c = settings.params(aux.D, aux.H);
        TintSettings.validate(c, aux, 1);
        String dtype = TintCommands.spelling(settings.precision(c));
        String name = model.pretrained != null ? model.pretrained : model.auxShape != null ? "aux-shape:" + model.auxShape + " seed " + settings.auxSeed : "timestamp:" + model.timestamp;
        System.out.printf("%s on %s: %d queries (seed %d); TinT inner_lr %s, %d step(s), K=%d, E=%d, Hs=%d (%s, %s)%n", t.name(), name, queries, seed,
                c.inner_lr(), c.n_forward_backward(), c.num_prefixes(), c.hidden_size(), c.num_attention_heads(), settings.backend, dtype);
        System.out.println("demos | aux zero-shot | aux in context | TinT  | TinT changed");
        try (TintPass tint = settings.build(aux, c)) {
            for (int i = 0; i < demos.size(); i++) {
                int k = demos.get(i);
                long t0 = System.nanoTime();
                IclEval.Result r = eval.run(perCount.get(i), aux, tint, batchSize);
                double secs = (System.nanoTime() - t0) / 1e9;
                double zero = r.accuracy(IclEval.Query::zeroShot), icl = r.accuracy(IclEval.Query::inContext), tintAcc = r.accuracy(IclEval.Query::tint);
                System.out.printf("%5d | %12.1f%% | %13.1f%% | %4.1f%% | %d%s%n", k, 100 * zero, 100 * icl, 100 * tintAcc, r.changedByUpdate(),
                        k == 0 ? "  (no demonstrations: in context = zero-shot, and TinT's inner loss is empty; it differs from the aux alone only by the gates' leak, 1 - tanh(gate_scale), none with hard gates)" : "");
                JsonObject o = new JsonObject();
                o.addProperty("protocol", "icl");
                o.addProperty("model", name);
                o.addProperty("task", t.name()); o.addProperty("seed", seed); o.addProperty("queries", queries); o.addProperty("demos", k);
                Params.toJsonObject(c).entrySet().forEach(x -> o.add(x.getKey(), x.getValue()));
                o.addProperty("dtype", dtype); // bfloat16 is the engine's arithmetic, not a TinT setting
                o.addProperty("backend", settings.backend);
                o.addProperty("acc_zero_shot", zero); o.addProperty("acc_in_context", icl); o.addProperty("acc_tint", tintAcc);
                o.addProperty("tint_changed", r.changedByUpdate()); o.addProperty("seconds", secs);
                if (log.toAbsolutePath().getParent() != null) Files.createDirectories(log.toAbsolutePath().getParent());
                Files.writeString(log, new Gson().toJson(o) + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            }
        }
        System.out.println("appended to " + log);
        return 0;
    }
}
