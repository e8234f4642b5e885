package org.tinker.tint;

import java.util.Arrays;

/**
 * A small dense row-major matrix of doubles, the arithmetic of the TinT construction and of its reference.
 *
 * <p>{@code f32}: every result is rounded to float32 after each operation (float32 storage, sums
 * accumulated in double inside one operation). That is how the float32 runs are computed; with {@code f32 = false}
 * everything is plain IEEE double.
 */
public final class Mat {
    public final int rows, cols;
    public final double[] a;
    public final boolean f32;

    public Mat(int rows, int cols, boolean f32) {
        this.rows = rows;
        this.cols = cols;
        this.a = new double[rows * cols];
        this.f32 = f32;
    }

    public Mat(int rows, int cols, double[] data, boolean f32) {
        if (data.length != rows * cols) throw new IllegalArgumentException("data length " + data.length + " != " + rows + "x" + cols);
        this.rows = rows;
        this.cols = cols;
        this.a = data;
        this.f32 = f32;
        if (f32) for (int i = 0; i < a.length; i++) a[i] = (float) a[i];
    }

    public static Mat zeros(int rows, int cols, boolean f32) {
        return new Mat(rows, cols, f32);
    }

    public static Mat row(double[] v, boolean f32) {
        return new Mat(1, v.length, v.clone(), f32);
    }

    double r(double x) {
        return f32 ? (float) x : x;
    }

    public double get(int i, int j) {
        return a[i * cols + j];
    }

    public void set(int i, int j, double v) {
        a[i * cols + j] = r(v);
    }

    public Mat copy() {
        return new Mat(rows, cols, a.clone(), f32);
    }

    public Mat like() {
        return new Mat(rows, cols, f32);
    }

    /** {@code this · b}. */
    public Mat mm(Mat b) {
        if (cols != b.rows) throw new IllegalArgumentException("mm " + shape() + " x " + b.shape());
        Mat c = new Mat(rows, b.cols, f32);
        double[] acc = new double[b.cols];
        for (int i = 0; i < rows; i++) {
            Arrays.fill(acc, 0);
            for (int k = 0; k < cols; k++) {
                double x = a[i * cols + k];
                if (x == 0) continue;
                int o = k * b.cols;
                for (int j = 0; j < b.cols; j++) acc[j] += x * b.a[o + j];
            }
            for (int j = 0; j < b.cols; j++) c.a[i * b.cols + j] = r(acc[j]);
        }
        return c;
    }

    /** {@code this · bᵀ}. */
    public Mat mmT(Mat b) {
        if (cols != b.cols) throw new IllegalArgumentException("mmT " + shape() + " x " + b.shape() + "ᵀ");
        Mat c = new Mat(rows, b.rows, f32);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < b.rows; j++) {
                double s = 0;
                int oi = i * cols, oj = j * cols;
                for (int k = 0; k < cols; k++) s += a[oi + k] * b.a[oj + k];
                c.a[i * b.rows + j] = r(s);
            }
        return c;
    }

    /** {@code thisᵀ · b}. */
    public Mat tmm(Mat b) {
        return t().mm(b);
    }

    public Mat t() {
        Mat c = new Mat(cols, rows, f32);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) c.a[j * rows + i] = a[i * cols + j];
        return c;
    }

    public Mat add(Mat b) {
        check(b);
        Mat c = like();
        for (int i = 0; i < a.length; i++) c.a[i] = r(a[i] + b.a[i]);
        return c;
    }

    public Mat sub(Mat b) {
        check(b);
        Mat c = like();
        for (int i = 0; i < a.length; i++) c.a[i] = r(a[i] - b.a[i]);
        return c;
    }

    public Mat mul(Mat b) {
        check(b);
        Mat c = like();
        for (int i = 0; i < a.length; i++) c.a[i] = r(a[i] * b.a[i]);
        return c;
    }

    public Mat scale(double s) {
        Mat c = like();
        for (int i = 0; i < a.length; i++) c.a[i] = r(a[i] * s);
        return c;
    }

    /** Adds a row vector (1 × cols) to every row. */
    public Mat addRow(Mat b) {
        if (b.rows != 1 || b.cols != cols) throw new IllegalArgumentException("addRow " + shape() + " + " + b.shape());
        Mat c = like();
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) c.a[i * cols + j] = r(a[i * cols + j] + b.a[j]);
        return c;
    }

    /** Sum over rows → 1 × cols. */
    public Mat colSum() {
        Mat c = new Mat(1, cols, f32);
        double[] s = new double[cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) s[j] += a[i * cols + j];
        for (int j = 0; j < cols; j++) c.a[j] = r(s[j]);
        return c;
    }

    /** Columns [c0, c1). */
    public Mat cols(int c0, int c1) {
        Mat c = new Mat(rows, c1 - c0, f32);
        for (int i = 0; i < rows; i++) System.arraycopy(a, i * cols + c0, c.a, i * (c1 - c0), c1 - c0);
        return c;
    }

    /** Rows [r0, r1). */
    public Mat rows(int r0, int r1) {
        Mat c = new Mat(r1 - r0, cols, f32);
        System.arraycopy(a, r0 * cols, c.a, 0, (r1 - r0) * cols);
        return c;
    }

    /** Writes {@code b} at (r0, c0) in place. */
    public Mat put(int r0, int c0, Mat b) {
        for (int i = 0; i < b.rows; i++) System.arraycopy(b.a, i * b.cols, a, (r0 + i) * cols + c0, b.cols);
        return this;
    }

    public static Mat vstack(Mat top, Mat bottom) {
        Mat c = new Mat(top.rows + bottom.rows, top.cols, top.f32);
        c.put(0, 0, top).put(top.rows, 0, bottom);
        return c;
    }

    public static Mat hstack(Mat... ms) {
        int n = 0;
        for (Mat m : ms) n += m.cols;
        Mat c = new Mat(ms[0].rows, n, ms[0].f32);
        int o = 0;
        for (Mat m : ms) {
            c.put(0, o, m);
            o += m.cols;
        }
        return c;
    }

    public Mat map(java.util.function.DoubleUnaryOperator f) {
        Mat c = like();
        for (int i = 0; i < a.length; i++) c.a[i] = r(f.applyAsDouble(a[i]));
        return c;
    }

    public Mat toF32(boolean f) {
        return new Mat(rows, cols, a.clone(), f);
    }

    public double maxAbs() {
        double m = 0;
        for (double x : a) m = Math.max(m, Math.abs(x));
        return m;
    }

    public double norm() {
        double s = 0;
        for (double x : a) s += x * x;
        return Math.sqrt(s);
    }

    public String shape() {
        return "[" + rows + "," + cols + "]";
    }

    private void check(Mat b) {
        if (rows != b.rows || cols != b.cols) throw new IllegalArgumentException("shape " + shape() + " vs " + b.shape());
    }
}
