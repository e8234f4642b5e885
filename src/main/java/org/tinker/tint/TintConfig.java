package org.tinker.tint;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.tinker.config.ConfigError;

/**
 * The TinT construction's settings, with the original code's names (docs/models/tint.md), and the dimension rules of
 * docs/models/tint.md, "Notation and layout rules" checked up front ({@link #validate}).
 */
public final class TintConfig {
    public int nSimulationLayers = -1;
    public int nForwardBackward = 1;
    public double innerLr = 1e-4;
    public int numPrefixes = 16;
    public int hiddenSize = 192;
    public int numAttentionHeads = 4;
    public double scaleEmbeddings = 1000;
    public double gateScale = 10;
    public boolean reuseForwardBlocks = true;
    public boolean reuseBackwardBlocks = true;
    public boolean restrictPrefixes = true;
    public boolean lnUpdateBiasOnly = true;
    public boolean backpropThroughAttention = true;
    public double epsilon = 1e-5;
    public int maxPositionEmbeddings = 2048;
    public boolean f32 = false;
    /**
     * The loss whose gradient starts the simulated backward pass (docs/models/tint.md, "The construction" step 2a; {@link LossGradient}). As in
     * the original, {@code use_prediction_loss} takes precedence: with both true the prediction loss is used and
     * {@code use_quad} is ignored (the original's {@code if / elif}). {@code use_quad=true} needs
     * {@code use_prediction_loss=false}; both false selects the original's third branch (δh = mean_v E_v − E_{x_{t+1}}).
     */
    public boolean usePredictionLoss = true;
    public boolean useQuad = false;

    /** The three loss-gradient options of the original (see {@link LossGradient}). */
    public enum Loss { PREDICTION, QUAD, MEAN }

    /** The loss the two flags select: prediction loss first, then quad, else the mean option (the original's order). */
    public Loss loss() {
        return usePredictionLoss ? Loss.PREDICTION : useQuad ? Loss.QUAD : Loss.MEAN;
    }

    public TintConfig copy() {
        TintConfig c = new TintConfig();
        c.nSimulationLayers = nSimulationLayers; c.nForwardBackward = nForwardBackward; c.innerLr = innerLr; c.numPrefixes = numPrefixes;
        c.hiddenSize = hiddenSize; c.numAttentionHeads = numAttentionHeads; c.scaleEmbeddings = scaleEmbeddings; c.gateScale = gateScale;
        c.reuseForwardBlocks = reuseForwardBlocks; c.reuseBackwardBlocks = reuseBackwardBlocks; c.restrictPrefixes = restrictPrefixes;
        c.lnUpdateBiasOnly = lnUpdateBiasOnly; c.backpropThroughAttention = backpropThroughAttention; c.epsilon = epsilon;
        c.maxPositionEmbeddings = maxPositionEmbeddings; c.f32 = f32; c.usePredictionLoss = usePredictionLoss; c.useQuad = useQuad;
        return c;
    }

    /** The number of simulated (top) layers for an aux model of {@code L} layers. */
    public int nSim(int L) {
        return nSimulationLayers < 0 ? L : nSimulationLayers;
    }

    /** Reads the TinT keys of a fixture-style input.json (missing keys keep their defaults). */
    public static TintConfig fromJson(JsonObject o, String where) {
        TintConfig c = new TintConfig();
        try {
            if (o.has("n_simulation_layers")) c.nSimulationLayers = o.get("n_simulation_layers").getAsInt();
            if (o.has("n_forward_backward")) c.nForwardBackward = o.get("n_forward_backward").getAsInt();
            if (o.has("inner_lr")) c.innerLr = o.get("inner_lr").getAsDouble();
            if (o.has("num_prefixes")) c.numPrefixes = o.get("num_prefixes").getAsInt();
            if (o.has("hidden_size")) c.hiddenSize = o.get("hidden_size").getAsInt();
            if (o.has("num_attention_heads")) c.numAttentionHeads = o.get("num_attention_heads").getAsInt();
            if (o.has("scale_embeddings")) c.scaleEmbeddings = o.get("scale_embeddings").getAsDouble();
            if (o.has("gate_scale")) c.gateScale = o.get("gate_scale").getAsDouble();
            if (o.has("reuse")) c.reuseForwardBlocks = c.reuseBackwardBlocks = o.get("reuse").getAsBoolean();
            if (o.has("reuse_forward_blocks")) c.reuseForwardBlocks = o.get("reuse_forward_blocks").getAsBoolean();
            if (o.has("reuse_backward_blocks")) c.reuseBackwardBlocks = o.get("reuse_backward_blocks").getAsBoolean();
            if (o.has("restrict_prefixes")) c.restrictPrefixes = o.get("restrict_prefixes").getAsBoolean();
            if (o.has("ln_update_bias_only")) c.lnUpdateBiasOnly = o.get("ln_update_bias_only").getAsBoolean();
            if (o.has("backprop_through_attention")) c.backpropThroughAttention = o.get("backprop_through_attention").getAsBoolean();
            if (o.has("epsilon")) c.epsilon = o.get("epsilon").getAsDouble();
            if (o.has("max_position_embeddings")) c.maxPositionEmbeddings = o.get("max_position_embeddings").getAsInt();
            if (o.has("dtype")) {
                String d = o.get("dtype").getAsString();
                if (!d.equals("float32") && !d.equals("float64")) throw new ConfigError(where + ": dtype=" + d + ": expected float32 or float64");
                c.f32 = d.equals("float32");
            }
            if (o.has("use_prediction_loss")) c.usePredictionLoss = o.get("use_prediction_loss").getAsBoolean();
            if (o.has("use_quad")) c.useQuad = o.get("use_quad").getAsBoolean();
        } catch (ClassCastException | IllegalStateException | NumberFormatException e) {
            throw new ConfigError(where + ": a TinT setting has the wrong type (" + e.getMessage() + ")");
        }
        return c;
    }

    /**
     * The rules of docs/models/tint.md, "Notation and layout rules" for an aux model (D, H, L) and a sequence of T tokens. Throws a {@link ConfigError}
     * that explains every broken rule and proposes valid values.
     */
    public void validate(AuxModel aux, int T) {
        int D = aux.D, H = aux.H, K = numPrefixes, E = hiddenSize, Hs = numAttentionHeads;
        // the aux's own keys in its family's names; OPT's num_attention_heads / max_position_embeddings are also TinT
        // setting names, so aux keys are always said as "the aux <key>" and TinT's causal buffer as "TinT's ..."
        AuxModel.Family fam = aux.family;
        String width = "the aux " + fam.widthKey() + "=" + D, heads = "the aux " + fam.headsKey() + "=" + H;
        List<String> broken = new ArrayList<>();
        if (K <= 0 || D % K != 0) broken.add("num_prefixes=" + K + " must divide " + width + " (each prefix holds D/K rows of every weight)");
        else {
            int S = D / K;
            if (E % K != 0) broken.add("hidden_size=" + E + " must be a multiple of num_prefixes=" + K + " (the linear attentions have E/K heads of size K)");
            if (E < D * (S + 1)) broken.add("hidden_size=" + E + " must be ≥ D·(D/K+1)=" + D * (S + 1) + " (a prefix stores D/K weight rows of width D plus the bias)");
        }
        if (E < 4 * D) broken.add("hidden_size=" + E + " must be ≥ 4·D=" + 4 * D + " (token rows hold the activation plus the memory slots [q,k], z and x)");
        if (Hs <= 0 || E % Hs != 0) broken.add("num_attention_heads=" + Hs + " must divide hidden_size=" + E);
        else {
            int hd = E / Hs;
            if (D % hd != 0 || H % (D / hd) != 0)
                broken.add("head size hidden_size/num_attention_heads=" + hd + " must divide D=" + D + " with " + heads + " a multiple of D/" + hd);
            if (Hs < H) broken.add("num_attention_heads=" + Hs + " must be ≥ " + heads + " (one TinT head per aux head)");
        }
        if (K + T > maxPositionEmbeddings) broken.add("num_prefixes+tokens=" + (K + T) + " must be ≤ TinT's max_position_embeddings=" + maxPositionEmbeddings);
        if (T > aux.T) broken.add("the input has " + T + " tokens, more than the aux " + fam.positionsKey() + "=" + aux.T);
        if (nSimulationLayers > aux.L || nSimulationLayers == 0 || nSimulationLayers < -1)
            broken.add("n_simulation_layers=" + nSimulationLayers + " must be -1 (all) or in 1.." + aux.L);
        if (nForwardBackward < 1) broken.add("n_forward_backward=" + nForwardBackward + " must be ≥ 1");
        if (aux.F % D != 0) broken.add("the aux MLP width " + aux.F + " must be a multiple of D=" + D + " (the MLP is simulated in F/D chunks of D)");
        if (scaleEmbeddings <= 0) broken.add("scale_embeddings=" + scaleEmbeddings + " must be > 0");
        if (!broken.isEmpty())
            throw new ConfigError("TinT settings for an aux model (" + fam.modelType + ") with " + fam.widthKey() + "=" + D + ", " + fam.headsKey() + "=" + H
                    + ": " + String.join("; ", broken) + ". Valid choices for this model: " + suggest(D, H));
    }

    /** A few valid (num_prefixes, hidden_size, num_attention_heads) triples for width D and H heads. */
    public static String suggest(int D, int H) {
        List<String> out = new ArrayList<>();
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
                    out.add("num_prefixes=" + K + " hidden_size=" + E + " num_attention_heads=" + hs);
                    break;
                }
            }
        }
        return String.join(" | ", out);
    }
}
