package org.tinker.tint;

/**
 * An unnormalised (linear) multi-head attention of TinT: {@code nh} heads of size {@code hk}; query, key and value are
 * projections of the residual stream X plus projections of the one-hot positions (plus a constant);
 * scores are plain dot products (no softmax), restricted by a row mask (which rows query, which rows are keys).
 * The three linear-layer modules of docs/models/tint.md, "The construction" are instances built by {@link #forward}, {@link #backward} and
 * {@link #descent}: their projection matrices are fixed 0/±1/−η patterns that do not depend on the aux model, whose
 * weights are read from the prefix rows.
 */
final class LinAttn {
    enum Rows { PREFIX, TOKENS, TRAIN }

    final int nh, hk, E, P;
    final Mat wq, pq, bq, wk, pk, bk, wv, pv, wo;
    final Rows queries, keys;

    LinAttn(int nh, int hk, int E, int P, Rows queries, Rows keys, boolean f32) {
        this.nh = nh; this.hk = hk; this.E = E; this.P = P; this.queries = queries; this.keys = keys;
        int W = nh * hk;
        wq = new Mat(E, W, f32); pq = new Mat(P, W, f32); bq = new Mat(1, W, f32);
        wk = new Mat(E, W, f32); pk = new Mat(P, W, f32); bk = new Mat(1, W, f32);
        wv = new Mat(E, W, f32); pv = new Mat(P, W, f32);
        wo = new Mat(W, E, f32);
    }

    long paramCount() {
        return 3L * wq.a.length + 3L * pq.a.length + 2L * bq.a.length + wo.a.length;
    }

    static boolean in(Rows r, int row, Seq s) {
        return switch (r) {
            case PREFIX -> row < s.K;
            case TOKENS -> row >= s.K;
            case TRAIN -> row >= s.K && row - s.K < s.nTrain;
        };
    }

    /** The attention output [K+T, E]; rows that do not query are zero. */
    Mat apply(Mat X, Seq s, boolean restrict) {
        int n = X.rows;
        int[] qi, ki;
        if (restrict) {
            qi = select(queries, s, n);
            ki = select(keys, s, n);
        } else {
            qi = all(n);
            ki = all(n);
        }
        Mat Xq = gather(X, qi), Xk = gather(X, ki);
        Mat Q = Xq.mm(wq).add(gather(s.pos, qi).mm(pq)).addRow(bq);
        Mat Kk = Xk.mm(wk).add(gather(s.pos, ki).mm(pk)).addRow(bk);
        Mat Vv = Xk.mm(wv).add(gather(s.pos, ki).mm(pv));
        Mat O = new Mat(qi.length, nh * hk, X.f32);
        for (int h = 0; h < nh; h++) {
            Mat sc = Q.cols(h * hk, (h + 1) * hk).mmT(Kk.cols(h * hk, (h + 1) * hk));
            if (!restrict) // the full (K+T)² scores, masked to the allowed pairs
                for (int a = 0; a < sc.rows; a++)
                    for (int b = 0; b < sc.cols; b++)
                        if (!(in(queries, qi[a], s) && in(keys, ki[b], s))) sc.a[a * sc.cols + b] = 0;
            O.put(0, h * hk, sc.mm(Vv.cols(h * hk, (h + 1) * hk)));
        }
        Mat out = O.mm(wo);
        Mat full = new Mat(n, E, X.f32);
        for (int a = 0; a < qi.length; a++) System.arraycopy(out.a, a * E, full.a, qi[a] * E, E);
        return full;
    }

    static int[] select(Rows r, Seq s, int n) {
        return java.util.stream.IntStream.range(0, n).filter(i -> in(r, i, s)).toArray();
    }

    static int[] all(int n) {
        return java.util.stream.IntStream.range(0, n).toArray();
    }

    static Mat gather(Mat X, int[] rows) {
        Mat g = new Mat(rows.length, X.cols, X.f32);
        for (int a = 0; a < rows.length; a++) System.arraycopy(X.a, rows[a] * X.cols, g.a, a * X.cols, X.cols);
        return g;
    }

    // ------------------------------------------------------------------------------------------------ the three linear modules

    /**
     * Linear forward (docs/models/tint.md, "The construction": linear forward) for a D×D map: weight head h = s·c + r
     * (c = D/K chunks) computes ⟨chunk r of x_t, chunk r of row jS+s⟩ for every prefix j (value e_j from the positions); the output projection sums over r and puts the
     * result at neuron jS+s. Bias head m copies chunk m of prefix 0's bias slot (constant query e_0, key e_j).
     */
    static LinAttn forward(int D, int K, int E, int Taux, boolean f32) {
        int S = D / K, c = D / K, nW = S * c;
        LinAttn m = new LinAttn(E / K, K, E, Taux + K, Rows.TOKENS, Rows.PREFIX, f32);
        for (int s = 0; s < S; s++)
            for (int r = 0; r < c; r++) {
                int h = s * c + r;
                for (int i = 0; i < K; i++) {
                    m.wq.set(r * K + i, h * K + i, 1);
                    m.wk.set(s * D + r * K + i, h * K + i, 1);
                }
                for (int j = 0; j < K; j++) {
                    m.pv.set(Taux + j, h * K + j, 1);
                    m.wo.set(h * K + j, j * S + s, 1);
                }
            }
        for (int b = 0; b < S; b++) { // bias heads
            int h = nW + b;
            m.bq.set(0, h * K, 1);
            for (int j = 0; j < K; j++) m.pk.set(Taux + j, h * K + j, 1);
            for (int i = 0; i < K; i++) {
                m.wv.set(S * D + b * K + i, h * K + i, 1);
                m.wo.set(h * K + i, b * K + i, 1);
            }
        }
        return m;
    }

    /**
     * Linear backward (docs/models/tint.md, "The construction": linear backward): δx_t = Wᵀδy_t; head h = s·c + r: query
     * (δy_t)_{jS+s} over j, key e_j, value chunk r of row jS+s.
     */
    static LinAttn backward(int D, int K, int E, int Taux, boolean f32) {
        int S = D / K, c = D / K;
        LinAttn m = new LinAttn(E / K, K, E, Taux + K, Rows.TOKENS, Rows.PREFIX, f32);
        for (int s = 0; s < S; s++)
            for (int r = 0; r < c; r++) {
                int h = s * c + r;
                for (int j = 0; j < K; j++) {
                    m.wq.set(j * S + s, h * K + j, 1);
                    m.pk.set(Taux + j, h * K + j, 1);
                }
                for (int i = 0; i < K; i++) {
                    m.wv.set(s * D + r * K + i, h * K + i, 1);
                    m.wo.set(h * K + i, r * K + i, 1);
                }
            }
        return m;
    }

    /**
     * Linear descent (docs/models/tint.md, "The construction": linear descent): prefix j (query e_j) attends, without
     * softmax or causal mask, to the train tokens (key (δy_t)_{jS+s}) with values −η·x_t (x from the memory slot [E−D, E)): W ← W − η Σ δy xᵀ; bias heads (key e_0 for every
     * token, value −η δy_t) give b ← b − η Σ δy in prefix 0. {@code biasOnly}: the weight heads' values are zero.
     */
    static LinAttn descent(int D, int K, int E, int Taux, double eta, boolean biasOnly, boolean f32) {
        return descent(D, K, E, Taux, eta, biasOnly, E - D, f32);
    }

    /**
     * As {@link #descent(int, int, int, int, double, boolean, boolean)} with the weight heads' values −η·x_t read from the
     * memory slot [valueAt, valueAt+D) (LayerNorm: z = f(x) at [E−2D, E−D), docs/models/tint.md, "Approximations relative to exact backprop").
     */
    static LinAttn descent(int D, int K, int E, int Taux, double eta, boolean biasOnly, int valueAt, boolean f32) {
        int S = D / K, c = D / K, nW = S * c;
        LinAttn m = new LinAttn(E / K, K, E, Taux + K, Rows.PREFIX, Rows.TRAIN, f32);
        for (int s = 0; s < S; s++)
            for (int r = 0; r < c; r++) {
                int h = s * c + r;
                for (int j = 0; j < K; j++) {
                    m.pq.set(Taux + j, h * K + j, 1);
                    m.wk.set(j * S + s, h * K + j, 1);
                }
                for (int i = 0; i < K; i++) {
                    if (!biasOnly) m.wv.set(valueAt + r * K + i, h * K + i, -eta);
                    m.wo.set(h * K + i, s * D + r * K + i, 1);
                }
            }
        for (int b = 0; b < S; b++) {
            int h = nW + b;
            m.bk.set(0, h * K, 1);
            for (int j = 0; j < K; j++) m.pq.set(Taux + j, h * K + j, 1);
            for (int i = 0; i < K; i++) {
                m.wv.set(b * K + i, h * K + i, -eta);
                m.wo.set(h * K + i, S * D + b * K + i, 1);
            }
        }
        return m;
    }
}
