package org.tinker.tint;

/**
 * TinT gates (docs/models/tint.md, "Notation and layout rules"): out = tanh(a·pos + α)·h_in + tanh(b·pos + β)·h_new per row, with weights ±g on the prefix
 * position coordinates. With g = 20 in float64 (or g = 10 in float32) tanh(g) is exactly 1.
 */
final class Gates {
    final Mat a, b;
    final double alpha, beta;

    private Gates(Mat a, double alpha, Mat b, double beta) {
        this.a = a; this.alpha = alpha; this.b = b; this.beta = beta;
    }

    /** Prefix rows: tanh(g)·h_in; token rows: tanh(g)·h_new. */
    static Gates keepPrefixReplaceTokens(int P, int Taux, int K, double g, boolean f32) {
        Mat a = new Mat(1, P, f32), b = new Mat(1, P, f32);
        for (int j = 0; j < K; j++) {
            a.set(0, Taux + j, g);
            b.set(0, Taux + j, -g);
        }
        return new Gates(a, 0, b, g);
    }

    /** Prefix rows: tanh(g)·(h_in + h_new); token rows: tanh(g)·h_in. */
    static Gates addToPrefix(int P, int Taux, int K, double g, boolean f32) {
        Mat a = new Mat(1, P, f32), b = new Mat(1, P, f32);
        for (int j = 0; j < K; j++) b.set(0, Taux + j, g);
        return new Gates(a, g, b, 0);
    }

    long paramCount() {
        return 2L * a.cols + 2;
    }

    /**
     * The two factors {tanh(a·pos + α), tanh(b·pos + β)} of a row whose one-hot position is coordinate {@code col},
     * rounded as {@link #apply} rounds them (the engine construction multiplies by them elementwise).
     */
    double[] factors(int col, boolean f32) {
        double ga = a.get(0, col), gb = b.get(0, col);
        return f32 ? new double[] {(float) Math.tanh((float) (ga + alpha)), (float) Math.tanh((float) (gb + beta))}
                : new double[] {Math.tanh(ga + alpha), Math.tanh(gb + beta)};
    }

    Mat apply(Mat in, Mat neu, Seq s) {
        Mat ga = s.pos.mmT(a), gb = s.pos.mmT(b);
        Mat out = in.like();
        for (int i = 0; i < in.rows; i++) {
            double x = out.r(Math.tanh(out.r(ga.get(i, 0) + alpha))), y = out.r(Math.tanh(out.r(gb.get(i, 0) + beta)));
            for (int j = 0; j < in.cols; j++) {
                double v = 0;
                if (x != 0) v += x * in.get(i, j);
                if (y != 0) v += y * neu.get(i, j);
                out.a[i * in.cols + j] = out.r(v);
            }
        }
        return out;
    }
}
