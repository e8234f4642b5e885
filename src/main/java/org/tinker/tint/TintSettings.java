package org.tinker.tint;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import org.tinker.config.ConfigError;
import org.tinker.config.Params;
import org.tinker.config.PyLiteral;
import org.tinker.config.TintParams;

/**
 * Where the TinT settings ({@link TintParams}) meet an aux model: read from the keys of a TinT input.json or
 * tint.json, and checked against the rules of docs/models/tint.md, "Notation and layout rules" ({@link #validate}),
 * with valid widths proposed ({@link #suggest}).
 */
public final class TintSettings {
    private TintSettings() {}

    /** A valid (num_prefixes, hidden_size, num_attention_heads) for some aux width and head count. */
    public record Widths(int numPrefixes, int hiddenSize, int numAttentionHeads) {
        /** {@code p} with these three settings. */
        public TintParams applyTo(TintParams p) {
            return p.with("num_prefixes", numPrefixes).with("hidden_size", hiddenSize).with("num_attention_heads", numAttentionHeads);
        }

        @Override
        public String toString() {
            return "num_prefixes=" + numPrefixes + " hidden_size=" + hiddenSize + " num_attention_heads=" + numAttentionHeads;
        }
    }

    /**
     * The TinT settings among the keys of a JSON object's text (other keys are the file's own business), each error
     * naming {@code where}, the line and the key. The fixtures' {@code reuse} sets both reuse flags, unless they are
     * given themselves.
     */
    public static TintParams fromJson(String json, String where) {
        LinkedHashMap<String, Params.Located> values = Params.jsonValues(json, where, k -> Params.Section.TINT.has(k) || k.equals("reuse"));
        Params.Located reuse = values.remove("reuse");
        if (reuse != null) {
            if (!(reuse.value() instanceof Boolean))
                throw new ConfigError(reuse.where() + ": reuse=" + PyLiteral.repr(reuse.value())
                        + ": expected true or false (it sets reuse_forward_blocks and reuse_backward_blocks)");
            values.putIfAbsent("reuse_forward_blocks", reuse);
            values.putIfAbsent("reuse_backward_blocks", reuse);
        }
        return Params.bind(Params.Section.TINT, values, where);
    }

    /**
     * The rules of docs/models/tint.md, "Notation and layout rules" for an aux model (D, H, L) and a sequence of T
     * tokens. Throws a {@link ConfigError} that explains every broken rule and proposes valid values. Settings made in
     * code ({@link TintParams#with}) have their own range checks first.
     */
    public static void validate(TintParams p, AuxModel aux, int T) {
        Params.validate(p, new Params.Where() {
            public String locate(String key) {
                return "TinT settings";
            }

            public String sectionTitle() {
                return Params.Section.TINT.title;
            }
        });
        int D = aux.D, H = aux.H, K = p.num_prefixes(), E = p.hidden_size(), Hs = p.num_attention_heads();
        // the aux's own keys in its family's names; OPT's num_attention_heads / max_position_embeddings are also TinT
        // setting names, so aux keys are always said as "the aux <key>" and TinT's causal buffer as "TinT's ..."
        AuxModel.Family fam = aux.family;
        String width = "the aux " + fam.widthKey() + "=" + D, heads = "the aux " + fam.headsKey() + "=" + H;
        List<String> broken = new ArrayList<>();
        if (D % K != 0) broken.add("num_prefixes=" + K + " must divide " + width + " (each prefix holds D/K rows of every weight)");
        else {
            int S = D / K;
            if (E % K != 0) broken.add("hidden_size=" + E + " must be a multiple of num_prefixes=" + K + " (the linear attentions have E/K heads of size K)");
            if (E < D * (S + 1)) broken.add("hidden_size=" + E + " must be ≥ D·(D/K+1)=" + D * (S + 1) + " (a prefix stores D/K weight rows of width D plus the bias)");
        }
        if (E < 4 * D) broken.add("hidden_size=" + E + " must be ≥ 4·D=" + 4 * D + " (token rows hold the activation plus the memory slots [q,k], z and x)");
        if (E % Hs != 0) broken.add("num_attention_heads=" + Hs + " must divide hidden_size=" + E);
        else {
            int hd = E / Hs;
            if (D % hd != 0 || H % (D / hd) != 0)
                broken.add("head size hidden_size/num_attention_heads=" + hd + " must divide D=" + D + " with " + heads + " a multiple of D/" + hd);
            if (Hs < H) broken.add("num_attention_heads=" + Hs + " must be ≥ " + heads + " (one TinT head per aux head)");
        }
        if (K + T > p.max_position_embeddings())
            broken.add("num_prefixes+tokens=" + (K + T) + " must be ≤ TinT's max_position_embeddings=" + p.max_position_embeddings());
        if (T > aux.T) broken.add("the input has " + T + " tokens, more than the aux " + fam.positionsKey() + "=" + aux.T);
        if (p.n_simulation_layers() > aux.L) broken.add("n_simulation_layers=" + p.n_simulation_layers() + " must be -1 (all) or in 1.." + aux.L);
        if (aux.F % D != 0) broken.add("the aux MLP width " + aux.F + " must be a multiple of D=" + D + " (the MLP is simulated in F/D chunks of D)");
        if (!broken.isEmpty())
            throw new ConfigError("TinT settings for an aux model (" + fam.modelType + ") with " + fam.widthKey() + "=" + D + ", " + fam.headsKey() + "=" + H
                    + ": " + String.join("; ", broken) + ". Valid choices for this model: "
                    + String.join(" | ", suggest(D, H).stream().map(Widths::toString).toList()));
    }

    /** Up to four valid widths for an aux of width D and H heads, the most prefix rows first. */
    public static List<Widths> suggest(int D, int H) {
        List<Widths> out = new ArrayList<>();
        for (int K = D; K >= 1 && out.size() < 4; K--) {
            if (D % K != 0) continue;
            int S = D / K;
            int min = Math.max(4 * D, D * (S + 1));
            int E = ((min + K - 1) / K) * K;
            for (int tries = 0; tries < 64; tries++, E += K) {
                Integer hs = null;
                for (int Hs = H; Hs <= E; Hs++) {
                    if (E % Hs != 0) continue;
                    int hd = E / Hs;
                    if (D % hd == 0 && H % (D / hd) == 0) {
                        hs = Hs;
                        break;
                    }
                }
                if (hs != null) {
                    out.add(new Widths(K, E, hs));
                    break;
                }
            }
        }
        return out;
    }
}
