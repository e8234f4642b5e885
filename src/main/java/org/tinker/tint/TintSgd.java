package org.tinker.tint;

import org.tinker.config.TintParams;

/**
 * "TinT-SGD": the explicit reference for what a TinT forward pass computes (docs/models/tint.md, "Approximations relative to exact backprop"). An ordinary forward
 * pass of the auxiliary model, a hand-written backward of the summed cross-entropy over the train targets, and
 * w ← w − η·mult·g, with one switch per approximation:
 *
 * <ul>
 *   <li>A1 {@code stopAttn}: no gradient through the attention scores (only V and O get gradients, δx has no q/k path);
 *   <li>A2 {@code freezeQK}: W_Q, W_K, b_Q, b_K frozen;
 *   <li>A3/A4 {@code fdN}: LayerNorm and activation backward as N·(f(x+δ/N) − f(x)); {@code Double.POSITIVE_INFINITY} = exact;
 *   <li>A5 {@code freezeGamma}: every LayerNorm γ frozen (β updated); {@code lnFullMatrix} instead: the original's
 *       {@code ln_update_bias_only=false} (docs/models/tint.md, "Approximations relative to exact backprop"), where each simulated LayerNorm weight is held as the full
 *       matrix M = diag(γ) and updated as M ← M − η Σ_𝒯 δy zᵀ (δy = gradient at the norm's output, z = f(x)). Its diagonal
 *       step is the γ gradient, but the off-diagonal entries become non-zero too, so from then on the "LayerNorm" is
 *       y = M·f(x) + β with a dense M: this is what the original computes, not SGD on γ;
 *   <li>A6 {@code nSim} (top layers only; ln_f always) and {@code trainEmbeddings} (wte/wpe, exact mode only);
 *   <li>A7 {@code mlpBiasMult}: the MLP output bias step is mult·η (TinT: F/D = 4);
 *   <li>A8 {@code meanLoss}: false = summed loss (TinT), true = mean over the train targets.
 * </ul>
 * {@code loss} picks the loss at the top (cross-entropy, use_quad or the mean option; {@link LossGradient}, the code
 * the construction uses too).
 * {@code backpropThroughAttention=false} uses δv = δo (no Aᵀ mixing), as the original's flag.
 */
public final class TintSgd {
    private TintSgd() {}

    public static final class Switches {
        public boolean stopAttn = true, freezeQK = true, freezeGamma = true, meanLoss = false, trainEmbeddings = false;
        public boolean backpropThroughAttention = true;
        public boolean lnFullMatrix = false;
        public double fdN = 1000;
        public double mlpBiasMult = 4;
        public int nSim = -1;
        /** The loss at the top: cross-entropy (default), use_quad or the mean option, as {@link TintParams#loss()} selects. */
        public TintParams.Loss loss = TintParams.Loss.PREDICTION;

        /** TinT's approximations for a construction config and an aux model. */
        public static Switches tint(TintParams c, AuxModel aux) {
            Switches s = new Switches();
            s.fdN = c.scale_embeddings();
            s.mlpBiasMult = (double) aux.F / aux.D;
            s.nSim = c.nSim(aux.L);
            s.backpropThroughAttention = c.backprop_through_attention();
            s.lnFullMatrix = !c.ln_update_bias_only();
            s.loss = c.loss();
            return s;
        }

        /** No approximation at all: exact SGD on the chosen loss over every block (embeddings optional). */
        public static Switches exact(AuxModel aux) {
            Switches s = new Switches();
            s.stopAttn = false;
            s.freezeQK = false;
            s.freezeGamma = false;
            s.fdN = Double.POSITIVE_INFINITY;
            s.mlpBiasMult = 1;
            s.nSim = aux.L;
            return s;
        }
    }

    /** Gradient of the (summed or mean) loss (CE unless {@code sw.loss} says otherwise) over targets 1..nTrain−1 w.r.t. the weights, as an AuxModel of the same shape. */
    public static AuxModel grad(AuxModel aux, long[] ids, int nTrain, Switches sw) {
        return grad(aux, ids, IclInput.NONE, nTrain, sw);
    }

    /**
     * The same with the original's icl_mask / position_ids: the forward's attention is masked, so every backward
     * quantity that goes through A (Aᵀδo, and the score Jacobian in exact mode) follows the mask too.
     */
    public static AuxModel grad(AuxModel aux, long[] ids, IclInput icl, int nTrain, Switches sw) {
        AuxModel g = zerosLike(aux);
        AuxModel.Forward f = aux.forward(ids, icl);
        int T = ids.length;
        int nSim = sw.nSim < 0 ? aux.L : sw.nSim;
        int count = Math.max(1, LossGradient.count(nTrain, icl));
        // the same loss gradient as the construction's (dℓ/dlogits; logits = h_f·Eᵀ with the tied head E = wte)
        Mat dlog = LossGradient.logits(f.logits, ids, nTrain, icl, sw.loss, sw.meanLoss ? count : 1, aux.f32);
        Mat dhf = dlog.mm(aux.wte);
        if (sw.trainEmbeddings) g.wte = dlog.tmm(f.hf);
        g.lnfB = dhf.colSum();
        g.lnfW = dhf.mul(f.zf).colSum();
        if (sw.lnFullMatrix) g.lnfM = dhf.tmm(f.zf);
        Mat dx = normBack(aux, f.xf, f.zf, AuxModel.affineBack(dhf, aux.lnfW, aux.lnfM), sw);
        for (int l = aux.L - 1; l >= aux.L - nSim; l--) dx = layerBack(aux, l, f.layers.get(l), dx, g.layers.get(l), sw);
        if (sw.trainEmbeddings) {
            for (int t = 0; t < T; t++)
                for (int j = 0; j < aux.D; j++) {
                    int row = aux.wpeRow(t, icl);
                    g.wpe.set(row, j, g.wpe.get(row, j) + dx.get(t, j));
                    g.wte.set((int) ids[t], j, g.wte.get((int) ids[t], j) + dx.get(t, j));
                }
        }
        return g;
    }

    /** One SGD step: w − η·g (MLP output bias with mlpBiasMult·η). Frozen tensors are copied unchanged. */
    public static AuxModel step(AuxModel aux, long[] ids, int nTrain, double lr, Switches sw) {
        return step(aux, ids, IclInput.NONE, nTrain, lr, sw);
    }

    public static AuxModel step(AuxModel aux, long[] ids, IclInput icl, int nTrain, double lr, Switches sw) {
        AuxModel g = grad(aux, ids, icl, nTrain, sw);
        AuxModel w = aux.copy();
        int nSim = sw.nSim < 0 ? aux.L : sw.nSim;
        w.lnfB = w.lnfB.sub(g.lnfB.scale(lr));
        if (sw.lnFullMatrix) {
            w.lnfM = fullOf(w.lnfW, w.lnfM).sub(g.lnfM.scale(lr));
            w.lnfW = AuxModel.diagOf(w.lnfM);
        } else if (!sw.freezeGamma) {
            w.lnfW = w.lnfW.sub(g.lnfW.scale(lr));
            if (w.lnfM != null) w.lnfM = w.lnfM.sub(AuxModel.diag(g.lnfW).scale(lr));
        }
        if (sw.trainEmbeddings) {
            w.wte = w.wte.sub(g.wte.scale(lr));
            w.wpe = w.wpe.sub(g.wpe.scale(lr));
        }
        for (int l = aux.L - nSim; l < aux.L; l++) {
            AuxModel.Layer y = w.layers.get(l), d = g.layers.get(l);
            if (!(sw.freezeQK || sw.stopAttn)) {
                y.wq = y.wq.sub(d.wq.scale(lr)); y.bq = y.bq.sub(d.bq.scale(lr));
                y.wk = y.wk.sub(d.wk.scale(lr)); y.bk = y.bk.sub(d.bk.scale(lr));
            }
            y.wv = y.wv.sub(d.wv.scale(lr)); y.bv = y.bv.sub(d.bv.scale(lr));
            y.wo = y.wo.sub(d.wo.scale(lr)); y.bo = y.bo.sub(d.bo.scale(lr));
            y.w1 = y.w1.sub(d.w1.scale(lr)); y.b1 = y.b1.sub(d.b1.scale(lr));
            y.w2 = y.w2.sub(d.w2.scale(lr)); y.b2 = y.b2.sub(d.b2.scale(lr * sw.mlpBiasMult));
            y.ln1B = y.ln1B.sub(d.ln1B.scale(lr)); y.ln2B = y.ln2B.sub(d.ln2B.scale(lr));
            if (sw.lnFullMatrix) {
                y.ln1M = fullOf(y.ln1W, y.ln1M).sub(d.ln1M.scale(lr)); y.ln1W = AuxModel.diagOf(y.ln1M);
                y.ln2M = fullOf(y.ln2W, y.ln2M).sub(d.ln2M.scale(lr)); y.ln2W = AuxModel.diagOf(y.ln2M);
            } else if (!sw.freezeGamma) {
                y.ln1W = y.ln1W.sub(d.ln1W.scale(lr)); y.ln2W = y.ln2W.sub(d.ln2W.scale(lr));
                if (y.ln1M != null) y.ln1M = y.ln1M.sub(AuxModel.diag(d.ln1W).scale(lr));
                if (y.ln2M != null) y.ln2M = y.ln2M.sub(AuxModel.diag(d.ln2W).scale(lr));
            }
        }
        return w;
    }

    /** The norm weight as a full matrix: M itself, or diag(γ) when there is none yet. */
    static Mat fullOf(Mat gamma, Mat M) {
        return M != null ? M : AuxModel.diag(gamma);
    }

    /** {@code steps} SGD steps. */
    public static AuxModel train(AuxModel aux, long[] ids, int nTrain, double lr, int steps, Switches sw) {
        return train(aux, ids, IclInput.NONE, nTrain, lr, steps, sw);
    }

    public static AuxModel train(AuxModel aux, long[] ids, IclInput icl, int nTrain, double lr, int steps, Switches sw) {
        AuxModel w = aux;
        for (int s = 0; s < steps; s++) w = step(w, ids, icl, nTrain, lr, sw);
        return w;
    }

    /** Jᵀδz of the normalisation, exact or by the finite difference N·(f(x+δz/N) − f(x)) with f(x) = z given. */
    static Mat normBack(AuxModel aux, Mat x, Mat z, Mat dz, Switches sw) {
        if (Double.isInfinite(sw.fdN)) return aux.normalizeBackward(x, dz);
        return aux.normalize(x.add(dz.scale(1 / sw.fdN))).sub(z).scale(sw.fdN);
    }

    static Mat actBack(AuxModel aux, Mat h, Mat da, Switches sw) {
        if (Double.isInfinite(sw.fdN)) return h.map(aux::sigmaPrime).mul(da);
        return h.add(da.scale(1 / sw.fdN)).map(aux::sigma).sub(h.map(aux::sigma)).scale(sw.fdN);
    }

    static Mat layerBack(AuxModel aux, int l, AuxModel.LayerCache c, Mat g, AuxModel.Layer gl, Switches sw) {
        AuxModel.Layer y = aux.layers.get(l);
        int T = g.rows, D = aux.D, H = aux.H, d = D / H;
        // MLP
        gl.w2 = g.tmm(c.a);
        gl.b2 = g.colSum();
        Mat da = g.mm(y.w2);
        Mat dh = actBack(aux, c.h, da, sw);
        gl.w1 = dh.tmm(c.u2);
        gl.b1 = dh.colSum();
        Mat du2 = dh.mm(y.w1);
        gl.ln2B = du2.colSum();
        gl.ln2W = du2.mul(c.z2).colSum();
        if (sw.lnFullMatrix) gl.ln2M = du2.tmm(c.z2);
        Mat gmid = g.add(normBack(aux, c.xm, c.z2, AuxModel.affineBack(du2, y.ln2W, y.ln2M), sw));
        // attention
        gl.wo = gmid.tmm(c.o);
        gl.bo = gmid.colSum();
        Mat dO = gmid.mm(y.wo);
        Mat dv = new Mat(T, D, aux.f32), dq = new Mat(T, D, aux.f32), dk = new Mat(T, D, aux.f32);
        for (int i = 0; i < H; i++) {
            Mat A = c.attn[i], doi = dO.cols(i * d, (i + 1) * d);
            dv.put(0, i * d, sw.backpropThroughAttention || !sw.stopAttn ? A.tmm(doi) : doi);
            if (!sw.stopAttn) {
                Mat vi = c.v.cols(i * d, (i + 1) * d), qi = c.q.cols(i * d, (i + 1) * d), ki = c.k.cols(i * d, (i + 1) * d);
                Mat dA = doi.mmT(vi);
                Mat dS = A.like();
                for (int t = 0; t < T; t++) {
                    double s = 0;
                    for (int u = 0; u <= t; u++) s += dA.get(t, u) * A.get(t, u);
                    for (int u = 0; u <= t; u++) dS.set(t, u, A.get(t, u) * (dA.get(t, u) - s));
                }
                dq.put(0, i * d, dS.mm(ki).scale(1 / Math.sqrt(d)));
                dk.put(0, i * d, dS.tmm(qi).scale(1 / Math.sqrt(d)));
            }
        }
        gl.wv = dv.tmm(c.u1);
        gl.bv = dv.colSum();
        Mat du1 = dv.mm(y.wv);
        if (!sw.stopAttn) {
            gl.wq = dq.tmm(c.u1); gl.bq = dq.colSum();
            gl.wk = dk.tmm(c.u1); gl.bk = dk.colSum();
            du1 = du1.add(dq.mm(y.wq)).add(dk.mm(y.wk));
        }
        gl.ln1B = du1.colSum();
        gl.ln1W = du1.mul(c.z1).colSum();
        if (sw.lnFullMatrix) gl.ln1M = du1.tmm(c.z1);
        return gmid.add(normBack(aux, c.x, c.z1, AuxModel.affineBack(du1, y.ln1W, y.ln1M), sw));
    }

    static AuxModel zerosLike(AuxModel a) {
        AuxModel g = a.copy();
        zero(g.wte); zero(g.wpe); zero(g.lnfW); zero(g.lnfB);
        g.lnfM = null;
        for (AuxModel.Layer y : g.layers) {
            y.ln1M = null;
            y.ln2M = null;
            for (Mat m : new Mat[] {y.ln1W, y.ln1B, y.wq, y.bq, y.wk, y.bk, y.wv, y.bv, y.wo, y.bo, y.ln2W, y.ln2B, y.w1, y.b1, y.w2, y.b2}) zero(m);
        }
        return g;
    }

    static void zero(Mat m) {
        java.util.Arrays.fill(m.a, 0);
    }
}
