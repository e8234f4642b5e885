package org.tinker.tint;

/**
 * TinT softmax self-attention over the token rows (docs/models/tint.md, "Train part, eval part and single-pass ICL"): Hs heads of size hd = E/Hs; TinT head i < H simulates
 * aux head i, reading q, k, v from [0,D), [D,2D), [2D,3D), with score ⟨q,k⟩·initial_scale/√hd = ⟨q,k⟩/√d; causal mask
 * restricted further by the sequence's icl_mask, prefix keys excluded. The backward variant (stop-gradient through the
 * scores) recomputes A, with the same masks, from the stored [q,k] (memory [E−3D, E−D)) and applies Aᵀ to δo ([0,D)),
 * keys t limited to u itself and the train part.
 */
final class SoftAttn {
    final int D, H, d, E, Hs, hd;
    final Mat wq, wk, wv, wo, wqMem, wkMem;

    SoftAttn(int D, int H, int E, int Hs, boolean f32) {
        this.D = D; this.H = H; this.d = D / H; this.E = E; this.Hs = Hs; this.hd = E / Hs;
        wq = new Mat(E, E, f32); wk = new Mat(E, E, f32); wv = new Mat(E, E, f32); wo = new Mat(E, E, f32);
        wqMem = new Mat(E, E, f32); wkMem = new Mat(E, E, f32);
        double initialScale = Math.sqrt((double) E / D * H / Hs);
        double c = initialScale / Math.sqrt(hd);
        for (int i = 0; i < H; i++)
            for (int a = 0; a < d; a++) {
                wq.set(i * d + a, i * hd + a, c);
                wk.set(D + i * d + a, i * hd + a, 1);
                wv.set(2 * D + i * d + a, i * hd + a, 1);
                wo.set(i * hd + a, i * d + a, 1);
                wqMem.set(E - 3 * D + i * d + a, i * hd + a, c);
                wkMem.set(E - 2 * D + i * d + a, i * hd + a, 1);
            }
    }

    long paramCount() {
        return 6L * E * E;
    }

    Mat forward(Mat X, Seq s) {
        return run(X, s, wq, wk, wv, false);
    }

    /** Under stop-attention, δv_u = Σ_t A_tu δo_t (δo at [0,D) is the value, read by the identity on those coordinates). */
    Mat backward(Mat X, Seq s) {
        Mat id = new Mat(E, E, X.f32);
        for (int i = 0; i < H; i++) for (int a = 0; a < d; a++) id.set(i * d + a, i * hd + a, 1);
        return run(X, s, wqMem, wkMem, id, true);
    }

    private Mat run(Mat X, Seq s, Mat mq, Mat mk, Mat mv, boolean transpose) {
        Mat tok = X.rows(s.K, X.rows);
        int T = tok.rows;
        Mat Q = tok.mm(mq), Kk = tok.mm(mk), V = tok.mm(mv);
        Mat O = new Mat(T, E, X.f32);
        for (int h = 0; h < H; h++) {
            Mat A = AuxModel.maskedSoftmax(Q.cols(h * hd, (h + 1) * hd).mmT(Kk.cols(h * hd, (h + 1) * hd)), s.icl);
            Mat Vh = V.cols(h * hd, (h + 1) * hd);
            if (transpose) {
                for (int t = 0; t < T; t++)
                    for (int u = 0; u <= t; u++)
                        if (!(t == u || t < s.nTrain)) A.a[t * T + u] = 0;
                O.put(0, h * hd, A.tmm(Vh));
            } else {
                O.put(0, h * hd, A.mm(Vh));
            }
        }
        Mat full = new Mat(X.rows, E, X.f32);
        full.put(s.K, 0, O.mm(wo));
        return full;
    }
}
