package org.tinker.train;

import org.tinker.config.ConfigError;
import org.tinker.config.ModelParams.Architecture;
import org.tinker.config.ModelParams.PosEncoding;
import org.tinker.config.ModelParams;
import org.tinker.config.RunSpec;

/**
 * Refuses, before any tensor is allocated, a model that cannot be trained on this machine: {@code dim = 1e9} would
 * otherwise overflow while the weights are laid out, and {@code n_layers = 100000} would start a training that swaps
 * or is killed hours later. The estimate is a lower bound, so nothing that fits is refused:
 * <ul>
 *   <li>parameters of the GPT layout (embeddings, attention, feed-forward, norms, head), counted in doubles so that no
 *       product overflows; {@code hierarchical} is counted as one transformer of width {@code dim}, {@code flexi} (whose
 *       widths are in {@code model_dict}) by its embeddings only;
 *   <li>16 bytes a parameter to train it in fp32: weights, gradients and Adam's two moments;
 *   <li>activations kept for the backward pass of one batch: per token and layer at least 4 x dim (q, k, v, attention
 *       output) + 2 x the feed-forward width + n_heads x T attention scores, 4 bytes each.
 * </ul>
 * The bound is the machine's physical memory (tensors live outside the Java heap).
 */
public final class ModelBudget {
    private ModelBudget() {}

    /** Lower bound of the parameter count of {@code mp} with this vocabulary. */
    public static double parameters(ModelParams mp, long vocab) {
        double d = mp.dim(), ff = d * mp.dim_ff_factor(), fc = mp.gated() ? 2 * ff : ff;
        double embed = vocab * d * (mp.tie_embed_deembed() ? 1 : 2) + (mp.pos_encoding() == PosEncoding.LEARNED ? (double) mp.max_seq_len() * d : 0);
        if (mp.layer_architecture() == Architecture.FLEXI) return embed;
        double norm = mp.norm().hasBias() ? 2 * d : d; // a scale, and a bias unless RMSNorm
        double layer = 2 * norm + 3 * d * d + 3 * d /* q, k, v */ + d * d + d /* c_proj */ + fc * d + fc /* c_fc */
                + ff * d + d /* mlp.c_proj */;
        return embed + (double) mp.n_layers() * layer + (mp.final_norm() ? norm : 0);
    }

    /** Lower bound in bytes of what training needs: parameters, their gradients and moments, one batch's activations. */
    public static double trainingBytes(ModelParams mp, long vocab, long tokensPerBatch, int seqLen) {
        double d = mp.dim(), ff = d * mp.dim_ff_factor();
        double perTokenLayer = 4 * d + 2 * ff + (double) mp.n_heads() * seqLen;
        double layers = mp.layer_architecture() == Architecture.FLEXI ? 0 : mp.n_layers();
        return 16 * parameters(mp, vocab) + 4 * (double) tokensPerBatch * layers * perTokenLayer;
    }

    /** Physical memory of this machine in bytes (the JVM's max heap where the OS does not say). */
    public static long machineBytes() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
            return os.getTotalMemorySize();
        return Runtime.getRuntime().maxMemory();
    }

    /**
     * Throws a one-line ConfigError when {@code spec}'s model cannot be trained here. Before the data is read, call it
     * with vocab 0 and seqLen 1 (still a lower bound); once the tokenizer and data exist, with the real values.
     */
    public static void check(RunSpec spec, long vocab, int seqLen) {
        ModelParams mp = spec.mp();
        long tokens = (long) spec.tp().batch_size() * seqLen;
        double need = trainingBytes(mp, vocab, tokens, seqLen), have = machineBytes();
        if (need <= have) return;
        throw new ConfigError(spec.configName() + ".txt: model too large to train here: about " + count(parameters(mp, vocab))
                + " parameters (n_layers=" + mp.n_layers() + ", dim=" + mp.dim() + ", dim_ff_factor=" + mp.dim_ff_factor()
                + (vocab > 0 ? ", vocab " + String.format("%,d", vocab) : "") + ") need at least " + bytes(need)
                + " to train (weights, gradients and Adam moments, 16 bytes a parameter, plus the activations of a batch of "
                + spec.tp().batch_size() + " x " + seqLen + " tokens); this machine has " + bytes(have));
    }

    static String count(double n) {
        return n < 1e6 ? String.format("%,.0f", n) : n < 1e9 ? String.format("%.1fM", n / 1e6) : n < 1e12 ? String.format("%.1fB", n / 1e9)
                : String.format("%.1e", n);
    }

    static String bytes(double b) {
        String[] units = {"B", "KB", "MB", "GB", "TB", "PB"};
        int u = 0;
        while (b >= 1000 && u < units.length - 1) {
            b /= 1000;
            u++;
        }
        return u == units.length - 1 && b >= 1000 ? String.format("%.1e PB", b) : String.format("%.1f %s", b, units[u]);
    }
}
