package org.tinker.search;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.ArrayRealVector;
import org.apache.commons.math3.linear.CholeskyDecomposition;
import org.apache.commons.math3.linear.DecompositionSolver;
import org.apache.commons.math3.linear.MatrixUtils;
import org.apache.commons.math3.linear.NonPositiveDefiniteMatrixException;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.RealVector;

/**
 * A Gaussian-process regression surrogate: zero mean on standardised targets, an isotropic Matérn-5/2 kernel, Gaussian
 * observation noise. The length scale and the noise are picked from a small grid by the log marginal likelihood
 * {@code -½ yᵀK⁻¹y - ½ log|K| - n/2 log 2π}; the linear algebra is Commons Math's Cholesky decomposition.
 */
public final class GaussianProcess {
    static final double[] LENGTH_SCALES = {0.25, 0.5, 1, 2, 4, 8};
    static final double[] NOISES = {1e-4, 1e-3, 1e-2, 0.05, 0.2};

    private final double[][] x;
    private final double mean, scale, lengthScale, noise, logLikelihood;
    private final RealMatrix lower; // K = L Lᵀ
    private final RealVector alpha; // K⁻¹ y (standardised)

    /** A prediction in the targets' own units: mean and standard deviation (the latent function's, without noise). */
    public record Prediction(double mean, double sd) {}

    private GaussianProcess(double[][] x, double mean, double scale, double lengthScale, double noise, double logLikelihood,
                            RealMatrix lower, RealVector alpha) {
        this.x = x;
        this.mean = mean;
        this.scale = scale;
        this.lengthScale = lengthScale;
        this.noise = noise;
        this.logLikelihood = logLikelihood;
        this.lower = lower;
        this.alpha = alpha;
    }

    /** Fits to {@code y[i] = f(x[i]) + noise}, hyperparameters by the grid. Needs at least one point. */
    public static GaussianProcess fit(double[][] x, double[] y) {
        if (x.length == 0 || x.length != y.length) throw new IllegalArgumentException("a GP needs as many targets as points, at least one");
        double mean = 0;
        for (double v : y) mean += v;
        mean /= y.length;
        double var = 0;
        for (double v : y) var += (v - mean) * (v - mean);
        double scale = y.length > 1 && var > 0 ? Math.sqrt(var / (y.length - 1)) : 1;
        double[] z = new double[y.length];
        for (int i = 0; i < y.length; i++) z[i] = (y[i] - mean) / scale;
        GaussianProcess best = null;
        for (double l : LENGTH_SCALES)
            for (double noise : NOISES) {
                GaussianProcess gp = fitWith(x, z, mean, scale, l, noise);
                if (gp != null && (best == null || gp.logLikelihood > best.logLikelihood)) best = gp;
            }
        if (best == null) throw new IllegalStateException("no kernel of the grid gave a positive-definite covariance");
        return best;
    }

    private static GaussianProcess fitWith(double[][] x, double[] z, double mean, double scale, double l, double noise) {
        int n = x.length;
        double[][] k = new double[n][n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++) {
                k[i][j] = k[j][i] = kernel(x[i], x[j], l);
                if (i == j) k[i][i] += noise;
            }
        CholeskyDecomposition chol;
        try {
            chol = new CholeskyDecomposition(new Array2DRowRealMatrix(k, false));
        } catch (NonPositiveDefiniteMatrixException e) {
            return null;
        }
        DecompositionSolver solver = chol.getSolver();
        RealVector y = new ArrayRealVector(z, false);
        RealVector alpha = solver.solve(y);
        RealMatrix lower = chol.getL();
        double logDet = 0;
        for (int i = 0; i < n; i++) logDet += 2 * Math.log(lower.getEntry(i, i));
        double ll = -0.5 * y.dotProduct(alpha) - 0.5 * logDet - 0.5 * n * Math.log(2 * Math.PI);
        return new GaussianProcess(x, mean, scale, l, noise, ll, lower, alpha);
    }

    /** Matérn 5/2 with unit variance: (1 + √5 r/l + 5r²/3l²) exp(−√5 r/l). */
    static double kernel(double[] a, double[] b, double l) {
        double r = Encoding.distance(a, b) / l;
        double s = Math.sqrt(5) * r;
        return (1 + s + s * s / 3) * Math.exp(-s);
    }

    public Prediction predict(double[] at) {
        int n = x.length;
        double[] ks = new double[n];
        for (int i = 0; i < n; i++) ks[i] = kernel(at, x[i], lengthScale);
        RealVector kv = new ArrayRealVector(ks, false);
        double mu = kv.dotProduct(alpha);
        RealVector v = new ArrayRealVector(ks, true);
        MatrixUtils.solveLowerTriangularSystem(lower, v); // v = L⁻¹ k*, in place
        double var = Math.max(1 - v.dotProduct(v), 1e-12);
        return new Prediction(mean + scale * mu, scale * Math.sqrt(var));
    }

    public double lengthScale() {
        return lengthScale;
    }

    public double noise() {
        return noise;
    }

    public double logLikelihood() {
        return logLikelihood;
    }
}
