package org.tinker.tint;

import java.util.List;

/**
 * Where the aux weights sit in TinT's prefix rows (docs/models/tint.md, "Notation and layout rules"), shared by the Mat construction ({@link TintModel})
 * and the engine construction ({@link TintEngine}): prefix j (a K×E row block) holds rows jS..jS+S−1 of a D×D weight at
 * [s·D, (s+1)·D) and the whole bias at [S·D, S·D+D), S = D/K. Per aux layer: ln_1, Q, K, V, attn c_proj, ln_2 and,
 * per MLP chunk of D neurons, c_fc and c_proj (bias b₂/R, so the R chunks' bias steps add up to R·η, tint.md A7).
 */
final class PrefixLayout {
    final int D, K, E, S, R;
    final boolean f32;

    PrefixLayout(int D, int K, int E, int R, boolean f32) {
        this.D = D; this.K = K; this.E = E; this.S = D / K; this.R = R; this.f32 = f32;
    }

    /** A norm weight as the D×D matrix the prefix stores: M, or diag(γ). */
    Mat lnMatrix(Mat gamma, Mat M) {
        return M != null ? M : AuxModel.diag(gamma);
    }

    /** Decoded norm weight: null (diagonal, γ = the diagonal) unless an off-diagonal entry is non-zero. */
    static Mat fullIfDense(Mat w) {
        for (int i = 0; i < w.rows; i++)
            for (int j = 0; j < w.cols; j++)
                if (i != j && w.get(i, j) != 0) return w;
        return null;
    }

    /** Prefix j holds rows jS..jS+S−1 of W at [s·D, (s+1)·D) and the whole bias at [S·D, S·D+D). */
    Mat encode(Mat w, Mat b) {
        Mat p = new Mat(K, E, f32);
        for (int j = 0; j < K; j++) {
            for (int s = 0; s < S; s++)
                for (int i = 0; i < D; i++) p.set(j, s * D + i, w.get(j * S + s, i));
            for (int i = 0; i < D; i++) p.set(j, S * D + i, b.get(0, i));
        }
        return p;
    }

    /** W (D×D) from a prefix. */
    Mat decodeW(Mat p) {
        Mat w = new Mat(D, D, f32);
        for (int j = 0; j < K; j++)
            for (int s = 0; s < S; s++)
                for (int i = 0; i < D; i++) w.set(j * S + s, i, p.get(j, s * D + i));
        return w;
    }

    /** b from prefix 0 (the only bias that is read or updated). */
    Mat decodeB(Mat p) {
        return p.rows(0, 1).cols(S * D, S * D + D);
    }

    /** The 6 + 2R prefixes of one aux layer. */
    Mat[] encodeLayer(AuxModel.Layer y) {
        Mat[] p = new Mat[6 + 2 * R];
        p[0] = encode(lnMatrix(y.ln1W, y.ln1M), y.ln1B);
        p[1] = encode(y.wq, y.bq);
        p[2] = encode(y.wk, y.bk);
        p[3] = encode(y.wv, y.bv);
        p[4] = encode(y.wo, y.bo);
        p[5] = encode(lnMatrix(y.ln2W, y.ln2M), y.ln2B);
        Mat b2 = y.b2.scale(1.0 / R);
        for (int k = 0; k < R; k++) {
            p[6 + 2 * k] = encode(y.w1.rows(k * D, (k + 1) * D), y.b1.cols(k * D, (k + 1) * D));
            p[7 + 2 * k] = encode(y.w2.cols(k * D, (k + 1) * D), b2);
        }
        return p;
    }

    /** ln_f's prefix. */
    Mat encodeFinalNorm(AuxModel aux) {
        return encode(lnMatrix(aux.lnfW, aux.lnfM), aux.lnfB);
    }

    /** The aux model that a set of prefixes holds (embeddings from {@code aux}). */
    AuxModel decode(AuxModel aux, List<Mat[]> pre, Mat lnf) {
        AuxModel a = aux.copy();
        for (int l = 0; l < aux.L; l++) {
            Mat[] p = pre.get(l);
            AuxModel.Layer y = a.layers.get(l);
            y.ln1W = AuxModel.diagOf(decodeW(p[0])); y.ln1M = fullIfDense(decodeW(p[0])); y.ln1B = decodeB(p[0]);
            y.wq = decodeW(p[1]); y.bq = decodeB(p[1]);
            y.wk = decodeW(p[2]); y.bk = decodeB(p[2]);
            y.wv = decodeW(p[3]); y.bv = decodeB(p[3]);
            y.wo = decodeW(p[4]); y.bo = decodeB(p[4]);
            y.ln2W = AuxModel.diagOf(decodeW(p[5])); y.ln2M = fullIfDense(decodeW(p[5])); y.ln2B = decodeB(p[5]);
            Mat w1 = new Mat(aux.F, D, f32), b1 = new Mat(1, aux.F, f32), w2 = new Mat(D, aux.F, f32), b2 = new Mat(1, D, f32);
            for (int k = 0; k < R; k++) {
                w1.put(k * D, 0, decodeW(p[6 + 2 * k]));
                b1.put(0, k * D, decodeB(p[6 + 2 * k]));
                w2.put(0, k * D, decodeW(p[7 + 2 * k]));
                b2 = b2.add(decodeB(p[7 + 2 * k]));
            }
            y.w1 = w1; y.b1 = b1; y.w2 = w2; y.b2 = b2;
        }
        a.lnfW = AuxModel.diagOf(decodeW(lnf));
        a.lnfM = fullIfDense(decodeW(lnf));
        a.lnfB = decodeB(lnf);
        return a;
    }
}
