package org.tinker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.tinker.config.ModelParams.Architecture;
import org.tinker.config.ModelParams.PosEncoding;
import org.tinker.config.ModelParams;
import org.tinker.config.TrainParams;
import org.tinker.engine.Kernels;
import org.tinker.engine.Ops;

/**
 * A decoder-only transformer language model, GPT-style:
 * <pre>
 *   x      = drop(wte[ids] (+ positions: learned wpe | fixed sinusoid | none))      [B,T,D]
 *   x      = block_{L-1}( … block_0(x) )      causal self-attention + MLP, see {@link Block}
 *                                             unet_skips: block L-1-i also reads skip_weights[i]·(block i's output)
 *   x      = ln_f(x)                          if final_norm
 *   logits = x @ lm_headᵀ                     lm_head = wte when tie_embed_deembed     [B,T,V]
 *   logits = c·tanh(logits / c)               if logit_softcap = c > 0
 * </pre>
 *
 * Positions may also be {@code rotary} or {@code alibi} (inside attention), norms {@code rmsnorm}, MLPs gated
 * ({@code swiglu}, {@code geglu}). The config's {@code recipes} ({@link ModelRecipes}) are hooks the model carries: every
 * pass runs them, whoever calls it. With {@code layer_architecture = "hierarchical"} or {@code "flexi"} the whole
 * stack is a {@link ModelBody} instead (no blocks or hook points); parameters, loss, training and sampling stay here.
 *
 * <p><b>Tensor lifetime.</b> The parameters (and two cached constants in its dtype: the causal mask and the
 * sinusoid table) live in {@link #manager()}, a sub-manager of the one passed in, freed by {@link #close()}.
 * Everything {@link #forward} and {@link #loss} create — intermediates and outputs — lives in the manager of
 * the {@code ids} argument, so a caller's per-step {@code try (NDManager step = …)} frees it all. Note that
 * DJL's {@code param.getGradient()} returns a new array in the parameter's manager: close it after use.
 *
 * <p>Parameters follow nanoGPT/HF GPT-2 names, weights in torch Linear layout {@code [out, in]}.
 * Not thread-safe for concurrent forward calls that change {@link #setTraining}/{@link #setDropout}.
 */
public final class LM implements AutoCloseable {
    public static final String WTE = "transformer.wte.weight";
    public static final String WPE = "transformer.wpe.weight";
    public static final String LN_F_W = "transformer.ln_f.weight";
    public static final String LN_F_B = "transformer.ln_f.bias";
    public static final String LM_HEAD = "lm_head.weight";
    /** U-net skips ({@code unet_skips}): one learned scalar per skip, {@code [n_layers / 2]}. */
    public static final String SKIP_WEIGHTS = "transformer.skip_weights";

    private final ModelParams mp;
    private final int vocabSize;
    private final NDManager manager;
    private final DataType dtype;
    /** The hierarchical or FlexiBERT-style body when layer_architecture names one (then there are no blocks); else null. */
    private final ModelBody body;
    private final LinkedHashMap<String, NDArray> params = new LinkedHashMap<>();
    private final List<Block> blocks = new ArrayList<>();
    private final List<String> hookPoints = new ArrayList<>();
    /** The config's recipes and their hooks (null when none): part of the model, run by every pass. */
    private final List<ModelRecipe> recipes;
    private final Hooks recipeHooks;
    private final NDArray wte;
    private final NDArray wpe;
    private final NDArray head;
    private final NDArray lnFW;
    private final NDArray lnFB;
    /**
     * Constants in the model's dtype, built on first use at the largest size (max_seq_len) so there is exactly
     * one of each; every forward takes a view of the corner it needs into its own scope.
     */
    private NDArray causalMask;
    private NDArray sinTable;

    private Dropout dropout = Dropout.NONE;
    /** Label smoothing of the training objective (0 = plain cross-entropy); see {@link #setLabelSmoothing}. */
    private double labelSmoothing = 0;
    private boolean training = false;
    /** LoRA adapters when attached ({@link #attachLora}); null otherwise. */
    private Lora lora;

    public LM(ModelParams mp, int vocabSize, NDManager manager, long seed) {
        this(mp, vocabSize, manager, seed, DataType.FLOAT32);
    }

    public LM(ModelParams mp, int vocabSize, NDManager manager, long seed, DataType dtype) {
        check(mp, vocabSize, dtype);
        this.mp = mp;
        this.vocabSize = vocabSize;
        this.dtype = dtype;
        this.manager = manager.newSubManager();
        this.manager.setName("LM");
        this.body = ModelBody.of(mp, vocabSize, this.manager, dtype);

        for (ParamSpec spec : layout()) params.put(spec.name, spec.create(this.manager, seed, dtype));
        wte = params.get(WTE);
        wpe = params.get(WPE);
        head = mp.tie_embed_deembed() ? wte : params.get(LM_HEAD);
        lnFW = params.get(LN_F_W);
        lnFB = params.get(LN_F_B);
        blocks.addAll(blocksOf(params));
        if (body == null) hookPoints.addAll(Hooks.points(mp));
        recipes = ModelRecipes.of(mp.recipes());
        recipeHooks = ModelRecipes.hooks(recipes);
        if (recipeHooks != null && body != null)
            throw new IllegalArgumentException("recipes (" + mp.recipes() + ") hook into transformer blocks; layer_architecture="
                    + mp.layer_architecture() + " has none");
        if (recipeHooks != null) recipeHooks.checkAgainst(hookPoints);
    }

    /** The config's recipes, in order (empty when none). */
    public List<ModelRecipe> recipes() {
        return recipes;
    }

    /**
     * Whether decoding with a {@link KVCache} computes exactly what the full forward does: a block stack whose recipes
     * are all {@link ModelRecipe#causal() causal}.
     */
    public boolean cacheable() {
        return body == null && recipes.stream().allMatch(ModelRecipe::causal);
    }

    /** The model's own hooks (its recipes), then {@code extra}'s; null when there are none. */
    Hooks hooksWith(Hooks extra) {
        return Hooks.both(recipeHooks, extra);
    }

    /** Whether this is the hierarchical transformer ({@code layer_architecture="hierarchical"}). */
    public boolean isHierarchical() {
        return mp.layer_architecture() == Architecture.HIERARCHICAL;
    }

    /**
     * Whether this is a GPT block stack (torch- or custom-transformer). The other bodies ({@link ModelBody}:
     * hierarchical, flexi) have no blocks, hook points, KV cache or stepwise access.
     */
    public boolean hasBlocks() {
        return body == null;
    }

    private static void check(ModelParams mp, int vocabSize, DataType dtype) {
        List<String> problems = new ArrayList<>();
        if (vocabSize <= 0) problems.add("vocabSize must be positive, got " + vocabSize);
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT64)
            problems.add("dtype must be FLOAT32 or FLOAT64, got " + dtype);
        if (mp.n_layers() <= 0 || mp.n_heads() <= 0 || mp.dim() <= 0 || mp.dim_ff_factor() <= 0)
            problems.add("n_layers, n_heads, dim and dim_ff_factor must be positive");
        else if (mp.dim() % mp.n_heads() != 0)
            problems.add("dim=" + mp.dim() + " is not a multiple of n_heads=" + mp.n_heads());
        if (mp.max_seq_len() < 1) problems.add("max_seq_len must be positive, got " + mp.max_seq_len());
        if (mp.individual_head_params() && mp.layer_architecture() != Architecture.CUSTOM_TRANSFORMER)
            problems.add("individual_head_params needs layer_architecture=custom-transformer");
        if (mp.pos_encoding() == PosEncoding.ROTARY && mp.dim() % mp.n_heads() == 0 && mp.headDim() % 2 != 0)
            problems.add("rotary positions need an even head width, got dim/n_heads=" + mp.headDim());
        if (!problems.isEmpty()) throw new IllegalArgumentException("bad model config: " + String.join("; ", problems));
    }

    // ---------------------------------------------------------------------------------------------------
    // Parameters

    private enum Init { NORMAL, ZEROS, ONES, UNIFORM }

    /** One named parameter: its shape and how it starts out. */
    private record ParamSpec(String name, Shape shape, Init init, double std) {
        static ParamSpec normal(String name, double std, long... shape) {
            return new ParamSpec(name, new Shape(shape), Init.NORMAL, std);
        }

        static ParamSpec zeros(String name, long... shape) {
            return new ParamSpec(name, new Shape(shape), Init.ZEROS, 0);
        }

        static ParamSpec ones(String name, long... shape) {
            return new ParamSpec(name, new Shape(shape), Init.ONES, 0);
        }

        /**
         * Deterministic from (seed, name) with a Java RNG — independent of the engine's RNG, and of which other
         * parameters exist, so e.g. both architectures built from one seed share wte.
         */
        NDArray create(NDManager m, long seed, DataType dtype) {
            int n = Math.toIntExact(shape.size());
            // Straight into a native-order direct buffer, which the tensor then uses as its storage: no Java array of the
            // weights (GPT-2's wte alone would be 154 MB of float[], 309 MB more as double[]) grows the heap
            boolean f64 = dtype == DataType.FLOAT64;
            ByteBuffer buf = ByteBuffer.allocateDirect(n * (f64 ? Double.BYTES : Float.BYTES)).order(ByteOrder.nativeOrder());
            SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + name.hashCode());
            for (int i = 0; i < n; i++) {
                double x = switch (init) {
                    case ZEROS -> 0;
                    case ONES -> 1;
                    case NORMAL -> std * rng.nextGaussian();
                    case UNIFORM -> std * (2 * rng.nextDouble() - 1);
                };
                if (f64) buf.putDouble(x);
                else buf.putFloat((float) x);
            }
            NDArray a = m.create(buf.rewind(), shape, f64 ? DataType.FLOAT64 : DataType.FLOAT32);
            a.setName(name);
            a.setRequiresGradient(true);
            return a;
        }
    }

    /** The ordered parameter list (GPT-2 init: N(0, 0.02), residual projections scaled by 1/√(2L)). */
    private List<ParamSpec> layout() {
        if (body != null) {
            List<ParamSpec> specs = new ArrayList<>();
            for (var p : body.layout()) {
                Init init = switch (p.init()) {
                    case "ones" -> Init.ONES;
                    case "zeros" -> Init.ZEROS;
                    case "uniform" -> Init.UNIFORM;
                    default -> Init.NORMAL;
                };
                specs.add(new ParamSpec(p.name(), new Shape(p.shape()), init, p.std()));
            }
            return specs;
        }
        long d = mp.dim();
        long ff = mp.ffDim();
        long hd = mp.headDim();
        double std = 0.02;
        double projStd = 0.02 / Math.sqrt(2.0 * mp.n_layers());
        boolean layerNorm = mp.norm().hasBias(); // RMSNorm has a scale but no bias
        long fcRows = mp.gated() ? 2 * ff : ff;
        List<ParamSpec> specs = new ArrayList<>();
        specs.add(ParamSpec.normal(WTE, std, vocabSize, d));
        if (mp.pos_encoding() == PosEncoding.LEARNED) specs.add(ParamSpec.normal(WPE, std, mp.max_seq_len(), d));
        for (int l = 0; l < mp.n_layers(); l++) {
            String h = BlockWeights.prefix(l);
            specs.add(ParamSpec.ones(h + "ln_1.weight", d));
            if (layerNorm) specs.add(ParamSpec.zeros(h + "ln_1.bias", d));
            if (mp.individual_head_params()) {
                for (int head = 0; head < mp.n_heads(); head++) {
                    for (String qkv : new String[] {"q", "k", "v"}) {
                        String p = h + "attn.heads." + head + "." + qkv;
                        specs.add(ParamSpec.normal(p + ".weight", std, hd, d));
                        specs.add(ParamSpec.zeros(p + ".bias", hd));
                    }
                }
            } else {
                specs.add(ParamSpec.normal(h + "attn.c_attn.weight", std, 3 * d, d));
                specs.add(ParamSpec.zeros(h + "attn.c_attn.bias", 3 * d));
            }
            // zero_init_proj: each residual branch starts by adding nothing, so the stack starts as the identity and every
            // block first learns through its input side (modded-nanogpt's zero-initialised c_proj)
            specs.add(mp.zero_init_proj() ? ParamSpec.zeros(h + "attn.c_proj.weight", d, d)
                    : ParamSpec.normal(h + "attn.c_proj.weight", projStd, d, d));
            specs.add(ParamSpec.zeros(h + "attn.c_proj.bias", d));
            specs.add(ParamSpec.ones(h + "ln_2.weight", d));
            if (layerNorm) specs.add(ParamSpec.zeros(h + "ln_2.bias", d));
            // gated activations: rows [0, ff) are the gate, rows [ff, 2ff) the "up" features (see Layers.ffHidden)
            specs.add(ParamSpec.normal(h + "mlp.c_fc.weight", std, fcRows, d));
            specs.add(ParamSpec.zeros(h + "mlp.c_fc.bias", fcRows));
            specs.add(mp.zero_init_proj() ? ParamSpec.zeros(h + "mlp.c_proj.weight", d, ff)
                    : ParamSpec.normal(h + "mlp.c_proj.weight", projStd, d, ff));
            specs.add(ParamSpec.zeros(h + "mlp.c_proj.bias", d));
        }
        if (mp.unet_skips()) specs.add(ParamSpec.ones(SKIP_WEIGHTS, mp.n_layers() / 2));
        if (mp.final_norm()) {
            specs.add(ParamSpec.ones(LN_F_W, d));
            if (layerNorm) specs.add(ParamSpec.zeros(LN_F_B, d));
        }
        if (!mp.tie_embed_deembed()) specs.add(ParamSpec.normal(LM_HEAD, std, vocabSize, d));
        return specs;
    }

    public ModelParams params() {
        return mp;
    }

    public int vocabSize() {
        return vocabSize;
    }

    /** The LM's own manager (a sub-manager of the one it was built with), holding parameters and constants. */
    public NDManager manager() {
        return manager;
    }

    public DataType dtype() {
        return dtype;
    }

    /** Name → parameter, in a stable order; the arrays are the live parameters (requiresGradient=true). */
    public LinkedHashMap<String, NDArray> parameters() {
        return new LinkedHashMap<>(params);
    }

    public long numParameters() {
        return params.values().stream().mapToLong(a -> a.getShape().size()).sum();
    }

    // ---------------------------------------------------------------------------------------------------
    // LoRA (see Lora)

    /** Adds LoRA adapters of this rank to every parameter and freezes the base weights. */
    public void attachLora(int rank, double std, long seed) {
        if (lora != null) throw new IllegalStateException("LoRA is already attached");
        lora = new Lora(params, rank, std, seed, manager, dtype);
        for (NDArray p : params.values()) p.setRequiresGradient(false);
    }

    public boolean hasLora() {
        return lora != null;
    }

    /** What an optimizer should train: the LoRA adapters when attached, else every parameter. */
    public LinkedHashMap<String, NDArray> trainableParameters() {
        return lora == null ? parameters() : new LinkedHashMap<>(lora.adapters);
    }

    /** Everything a checkpoint holds: the parameters, then the LoRA adapters if any ({@code {param}.lora_A}, ...). */
    public LinkedHashMap<String, NDArray> stateTensors() {
        LinkedHashMap<String, NDArray> all = parameters();
        if (lora != null) all.putAll(lora.adapters);
        return all;
    }

    /** Folds the adapters into the base weights (W ← W + B·A, p ← p + delta) and removes them; the logits do not change. */
    public void mergeLora() {
        if (lora == null) throw new IllegalStateException("no LoRA adapters to merge");
        try (NDManager tmp = manager.newSubManager()) {
            Map<String, NDArray> merged = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : params.entrySet()) merged.put(e.getKey(), lora.merged(e.getKey(), e.getValue(), tmp));
            for (Map.Entry<String, NDArray> e : params.entrySet()) e.getValue().set(merged.get(e.getKey()).toByteBuffer());
        }
        for (NDArray a : lora.adapters.values()) a.close();
        lora = null;
        for (NDArray p : params.values()) p.setRequiresGradient(true);
    }

    /**
     * The weights a forward pass reads: the parameters, or with LoRA attached base + adapter for each, computed in
     * {@code scope} (for inference that holds them across many steps, e.g. a {@link KVCache}).
     */
    Map<String, NDArray> effectiveParameters(NDManager scope) {
        return lora == null ? parameters() : loraEffective(scope);
    }

    private Map<String, NDArray> loraEffective(NDManager scope) {
        Map<String, NDArray> eff = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) eff.put(e.getKey(), lora.effective(e.getKey(), e.getValue(), scope));
        return eff;
    }

    /** The blocks over the weights {@code p} (the parameters, or LoRA-effective ones). */
    List<Block> blocksOf(Map<String, NDArray> p) {
        List<Block> out = new ArrayList<>(mp.n_layers());
        for (int l = 0; body == null && l < mp.n_layers(); l++)
            out.add(new Block(mp, l, BlockWeights.of(p, l, mp.n_heads(), mp.individual_head_params())));
        return out;
    }

    /** Sets every parameter's gradient to zero (DJL's gradient collector accumulates, like torch). */
    public void zeroGradients() {
        for (NDArray p : trainableParameters().values()) JniUtils.zeroGrad(Ops.pt(p));
    }

    /** Copies values in by name (converting dtype if needed); every name must match exactly, with its shape. */
    public void loadParameters(Map<String, NDArray> tensors) {
        LinkedHashMap<String, NDArray> params = stateTensors(); // with LoRA: the adapters too
        List<String> problems = new ArrayList<>();
        for (String name : params.keySet()) if (!tensors.containsKey(name)) problems.add("missing " + name);
        for (String name : new TreeSet<>(tensors.keySet())) {
            NDArray mine = params.get(name);
            if (mine == null) problems.add("unexpected " + name);
            else if (!mine.getShape().equals(tensors.get(name).getShape()))
                problems.add(name + " has shape " + tensors.get(name).getShape() + ", expected " + mine.getShape());
        }
        if (!problems.isEmpty())
            throw new IllegalArgumentException("cannot load parameters: " + String.join("; ", problems));
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            NDArray src = tensors.get(e.getKey());
            if (src.getDataType() == dtype) {
                e.getValue().set(src.toByteBuffer());
            } else {
                try (NDArray converted = src.toType(dtype, true)) {
                    e.getValue().set(converted.toByteBuffer());
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------
    // Training state

    /**
     * Dropout probabilities used while training: on the input embeddings, on the attention pattern, and on each residual
     * branch's output (and the MLP's hidden layer).
     */
    public record Dropout(double embd, double attn, double resid) {
        public static final Dropout NONE = new Dropout(0, 0, 0);

        public Dropout {
            for (double p : new double[] {embd, attn, resid})
                if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout must be in [0, 1), got " + p);
        }
    }

    /** Dropout {@code p} on the attention pattern and the residual branches, none on the embeddings (default 0). */
    public void setDropout(double p) {
        setDropout(new Dropout(0, p, p));
    }

    public void setDropout(Dropout d) {
        this.dropout = d;
    }

    public Dropout dropout() {
        return dropout;
    }

    /**
     * Label smoothing ε of the training objective ({@link #loss(NDArray, NDArray, NDArray, ForwardOptions)} in
     * training mode): {@code (1−ε)·(−log p[y]) + ε·mean_v(−log p[v])}, the cross-entropy against a target that puts
     * 1−ε on the next token and ε spread evenly over the vocabulary. Evaluation reports the plain cross-entropy.
     */
    public double labelSmoothing() {
        return labelSmoothing;
    }

    public void setLabelSmoothing(double eps) {
        if (!(eps >= 0 && eps < 1)) throw new IllegalArgumentException("label smoothing must be in [0, 1), got " + eps);
        this.labelSmoothing = eps;
    }

    public void setTraining(boolean training) {
        this.training = training;
    }

    public boolean isTraining() {
        return training;
    }

    /** Every hook point this model offers (none for the hierarchical and flexi bodies). */
    public List<String> hookPoints() {
        return List.copyOf(hookPoints);
    }

    // ---------------------------------------------------------------------------------------------------
    // Forward

    public LMOutput forward(NDArray ids) {
        return forward(ids, ForwardOptions.DEFAULT);
    }

    /**
     * @param ids {@code [B,T]} token ids (int64; other integer types are converted), or {@code [T]} for B=1;
     *            T ≤ max_seq_len. All results land in this array's manager.
     */
    private void checkLength(NDArray ids) {
        long t = ids.getShape().get(1);
        if (ids.getShape().dimension() != 2 || t < 1 || t > mp.max_seq_len())
            throw new IllegalArgumentException("ids must be [B,T] with 1 <= T <= max_seq_len=" + mp.max_seq_len() + ", got " + ids.getShape());
    }

    public LMOutput forward(NDArray ids, ForwardOptions opts) {
        return inPrecision(() -> {
            Trunk tr = trunk(ids, opts);
            if (tr.logits() != null) return new LMOutput(tr.logits(), tr.attns(), tr.embeddings());
            return new LMOutput(unembed(tr.hidden(), tr.head()), tr.attns(), tr.embeddings()); // logits [B,T,V]
        });
    }

    /** Runs a pass under this model's training precision ({@link Ops#autocast} on for bf16 in training mode). */
    private <T> T inPrecision(java.util.function.Supplier<T> pass) {
        boolean was = Ops.autocast(bf16 && training);
        try {
            return pass.get();
        } finally {
            Ops.autocast(was);
        }
    }

    private boolean bf16;

    /**
     * The compute precision of this model's training forward passes ({@code fp32} | {@code bf16}); see
     * {@link Ops#autocast}. Only passes in training mode use it: evaluation, sampling and the explorer compute in the
     * parameters' own dtype (bfloat16 would only add rounding there, and casting the weights for each generated token
     * costs more than it saves). Parameters stay in their own dtype either way.
     */
    public void setPrecision(TrainParams.Precision precision) {
        this.bf16 = precision == TrainParams.Precision.BF16;
    }

    public TrainParams.Precision precision() {
        return bf16 ? TrainParams.Precision.BF16 : TrainParams.Precision.FP32;
    }

    /**
     * Everything of the forward pass but the LM head: the final hidden state {@code [B,T,D]} (after ln_f) and the head
     * {@code [V,D]} that maps it to logits; or, for a model body with its own head (hierarchical, flexi), its logits.
     */
    record Trunk(NDArray hidden, NDArray head, NDArray attns, NDArray embeddings, NDArray logits) {}

    private Trunk trunk(NDArray ids, ForwardOptions opts) {
        if (opts == null) opts = ForwardOptions.DEFAULT;
        if (ids.getShape().dimension() == 1) ids = ids.expandDims(0);
        if (ids.getShape().dimension() != 2)
            throw new IllegalArgumentException("ids must be [B,T] or [T], got shape " + ids.getShape());
        long t = ids.getShape().get(1);
        if (t < 1 || t > mp.max_seq_len())
            throw new IllegalArgumentException("sequence length T=" + t + " must be between 1 and max_seq_len="
                    + mp.max_seq_len() + " (crop the input, or raise max_seq_len)");
        if (ids.getDataType() != DataType.INT64) ids = ids.toType(DataType.INT64, false);

        // With LoRA, every parameter is base + adapter, computed afresh in the step scope (so gradients reach the adapters).
        Map<String, NDArray> eff = lora == null ? params : loraEffective(ids.getManager());
        if (body != null) { // its own attention patterns and residual stream, when asked (see ModelBody.Output)
            if (opts.hooks() != null && !opts.hooks().isEmpty())
                throw new IllegalArgumentException("layer_architecture=" + mp.layer_architecture() + " has no hook points");
            ModelBody.Output o = body.forward(ids, eff, false, opts.getAttns(), opts.getEmbeddings());
            return new Trunk(null, null, o.attns(), o.residuals(), o.logits());
        }
        return stack(ids, opts, eff, lora == null ? blocks : blocksOf(eff), 0, null);
    }

    /**
     * The block stack on {@code ids [B,T]} (int64) at positions {@code [from, from+T)}: embedding, blocks, ln_f. Every
     * pass of a GPT-style model comes through here — training, evaluation, generation with or without the cache (then
     * {@code cache} holds each layer's earlier keys and values, and there is no dropout), the stepwise runner.
     *
     * @param eff    the weights to read (the parameters, or LoRA-effective ones)
     * @param blocks the blocks over {@code eff}
     */
    Trunk stack(NDArray ids, ForwardOptions opts, Map<String, NDArray> eff, List<Block> blocks, int from,
                List<KVCache.Layer> cache) {
        Hooks hooks = hooksWith(opts.hooks());
        if (opts.hooks() != null) opts.hooks().checkAgainst(hookPoints);
        boolean train = training && cache == null;
        Block.Pass pass = pass(from, from + ids.getShape().get(1), ids, ids, dropout.attn(), dropout.resid(), train, hooks,
                opts.attnRequests(), opts.getAttns() ? new ArrayList<>() : null, cache);
        NDArray x = pass.hook(Hooks.EMBED, -1, embed(ids, eff, from)); // [B,T,D]
        x = Ops.dropout(x, dropout.embd(), train);
        NDList residuals = opts.getEmbeddings() ? new NDList(blocks.size() + 1) : null;
        // U-net skips: block i < L/2 hands its output to block L-1-i, which adds it (times a learned scalar) to its input,
        // so the later blocks see the early, token-level features directly (modded-nanogpt). Per position: still causal.
        int nLayers = blocks.size(), nSkips = mp.unet_skips() ? nLayers / 2 : 0;
        NDArray[] skips = new NDArray[nSkips];
        for (int l = 0; l < nLayers; l++) {
            int src = nLayers - 1 - l; // the first-half block whose output this block reads, when l is in the second half
            if (src < nSkips) // skip_weights[src] as a [1] view in the step's scope (an op on the parameter would land in the LM's)
                x = x.add(skips[src].mul(Ops.slice1(eff.get(SKIP_WEIGHTS), src, src + 1, x)));
            if (residuals != null) residuals.add(x);
            x = blocks.get(l).forward(x, pass);
            if (l < nSkips) skips[l] = x;
        }
        if (residuals != null) residuals.add(x);
        if (mp.final_norm()) x = pass.hook(Hooks.LN_F_OUT, -1, Layers.norm(x, eff.get(LN_F_W), eff.get(LN_F_B), mp.norm(), mp.layer_norm_eps()));
        NDArray head = mp.tie_embed_deembed() ? eff.get(WTE) : eff.get(LM_HEAD);
        NDArray attns = pass.attns() == null ? null : NDArrays.stack(new NDList(pass.attns()), 1); // [B,L,H,T,T]
        NDArray embeddings = residuals == null ? null : NDArrays.stack(residuals, 1);              // [B,L+1,T,D]
        return new Trunk(x, head, attns, embeddings, null);
    }

    /**
     * Token embedding plus positions, {@code [B,T,D]}, of {@code ids [B,T]} (int64) at positions {@code [from, from+T)}.
     * "rotary" and "alibi" add nothing here: they act inside attention ({@link #pass}); with "none" the causal mask
     * alone breaks the symmetry between positions.
     */
    NDArray embed(NDArray ids, Map<String, NDArray> eff, long from) {
        long to = from + ids.getShape().get(1);
        NDArray x = Ops.embedding(ids, eff.get(WTE));
        return switch (mp.pos_encoding()) {
            case LEARNED -> x.add(Ops.slice2(eff.get(WPE), from, to, 0, mp.dim(), ids)); // + [T,D], broadcast over B
            case SIN -> x.add(Ops.slice2(sinTable(), from, to, 0, mp.dim(), ids));
            default -> x;
        };
    }

    /**
     * Next-token cross-entropy: inputs {@code ids[:, :-1]}, targets {@code ids[:, 1:]}.
     *
     * @param ids      {@code [B,T+1]} int64
     * @param lossMask {@code [B,T]}, 1 where the target counts, 0 where it doesn't
     */
    public LossResult loss(NDArray ids, NDArray lossMask) {
        Shape s = ids.getShape();
        if (s.dimension() != 2 || s.get(1) < 2)
            throw new IllegalArgumentException("loss needs ids of shape [B,T+1] with T >= 1, got " + s);
        Shape expectedMask = new Shape(s.get(0), s.get(1) - 1);
        if (!lossMask.getShape().equals(expectedMask))
            throw new IllegalArgumentException("lossMask must be " + expectedMask + " for ids " + s + ", got " + lossMask.getShape());
        if (ids.getDataType() != DataType.INT64) ids = ids.toType(DataType.INT64, false);
        return loss(ids.get(":, :-1"), ids.get(":, 1:"), lossMask, ForwardOptions.DEFAULT, false);
    }

    /**
     * Next-token cross-entropy with inputs and targets given apart, so that a training recipe can change
     * what the model reads (e.g. corrupt it) without changing what it must predict, and pass hooks or
     * attention requests to the forward pass.
     *
     * @param x        {@code [B,T]} input ids
     * @param y        {@code [B,T]} target ids
     * @param lossMask {@code [B,T]}, 1 where the target counts
     */
    public LossResult loss(NDArray x, NDArray y, NDArray lossMask, ForwardOptions opts) {
        return loss(x, y, lossMask, opts, true);
    }

    /**
     * @param objective true for the training objective: the hierarchical transformer then adds its auxiliary losses
     *                  (weighted) to the cross-entropy, and reports each in {@link LossResult#extra()}; false for the
     *                  plain cross-entropy (evaluation: {@link #loss(NDArray, NDArray)}). Same for other architectures.
     */
    private LossResult loss(NDArray x, NDArray y, NDArray lossMask, ForwardOptions opts, boolean objective) {
        return inPrecision(() -> lossInPrecision(x, y, lossMask, opts, objective));
    }

    private LossResult lossInPrecision(NDArray x, NDArray y, NDArray lossMask, ForwardOptions opts, boolean objective) {
        boolean smoothing = objective && training && labelSmoothing > 0;
        if (x.getDataType() != DataType.INT64) x = x.toType(DataType.INT64, false);
        if (y.getDataType() != DataType.INT64) y = y.toType(DataType.INT64, false);
        ModelBody.Output hout = null;
        NDArray logits;
        // A copy owned by the step scope: ops on it (sum) land in its manager, and the caller's mask may live elsewhere.
        NDArray mask = lossMask.toType(dtype, true);
        mask.attach(x.getManager());
        long tokens = Math.round(mask.sum().toType(DataType.FLOAT64, false).getDouble());
        if (body != null && objective) {
            checkLength(x);
            hout = body.forward(x, lora == null ? params : loraEffective(x.getManager()), true);
            logits = hout.logits();
        } else {
            Trunk tr = trunk(x, opts);
            // the fused head computes the plain cross-entropy of uncapped logits
            boolean plain = mp.logit_softcap() == 0 && !smoothing;
            if (tr.logits() == null && Kernels.available() && plain) return fusedHeadLoss(tr, y, mask, tokens);
            logits = tr.logits() != null ? tr.logits() : unembed(tr.hidden(), tr.head()); // [B,T,V]
        }
        NDArray logProbs = Ops.logSoftmax(logits, -1);                                            // [B,T,V]
        NDArray targetLogProb = Ops.pt(logProbs).gather(y.expandDims(2), 2)                       // [B,T,1]
                .squeeze(2);                                                                      // [B,T]
        // label smoothing: the target is 1−ε on y and ε/V on every token, so the loss mixes in the mean −log p over V
        if (smoothing) targetLogProb = Ops.mul(targetLogProb, 1 - labelSmoothing).add(Ops.mul(logProbs.mean(new int[] {2}), labelSmoothing));
        long correct;
        try (NDArray hits = logits.argMax(2).eq(y).toType(dtype, false).mul(mask).sum()) {
            correct = Math.round(hits.toType(DataType.FLOAT64, false).getDouble());
        }
        NDArray loss = Ops.div(targetLogProb.neg().mul(mask).sum(), Math.max(tokens, 1)); // +0 (not -0) when nothing counts
        if (hout == null) return new LossResult(loss, tokens, correct);
        if (hout.aux().isEmpty()) return new LossResult(loss, tokens, correct);
        Map<String, Double> extra = new LinkedHashMap<>();
        extra.put("ce", loss.toType(DataType.FLOAT64, false).getDouble());
        NDArray total = loss;
        for (ModelBody.Aux a : hout.aux()) {
            extra.put(a.name(), a.value().toType(DataType.FLOAT64, false).getDouble());
            if (a.weight() > 0) total = total.add(Ops.mul(a.value(), a.weight()));
        }
        return new LossResult(total, tokens, correct, extra);
    }

    /**
     * The cross-entropy through {@link Kernels#lmHeadLoss}: the kernel returns the loss and, when a gradient is being
     * recorded, dLoss/dh and dLoss/dhead computed block by block without materialising the logits. They enter the
     * autograd graph through a surrogate whose gradient is exactly those arrays and whose value is the true loss:
     * {@code S = Σ h·ĝh + Σ head·ĝw (ĝ constants)}, {@code loss = L + (S − stop_gradient(S))}, which is L to the bit.
     */
    private LossResult fusedHeadLoss(Trunk tr, NDArray y, NDArray mask, long tokens) {
        NDArray h = tr.hidden();
        long d = h.getShape().get(h.getShape().dimension() - 1);
        long vocab = tr.head().getShape().get(0);
        NDArray h2 = h.reshape(-1, d); // [N,D], N = B·T
        boolean grad = ai.djl.pytorch.jni.JniUtils.isGradMode();
        // Vocabulary blocks of about 16 MB of logits (N × block floats): large enough for efficient matmuls, small
        // enough that the kept exponentials come from the allocator's cache, not fresh pages (measured on bench-ptb,
        // N=2048: 2048 columns 86 ms fwd+bwd in fp32, 256 columns 100 ms, the whole vocabulary at once 96 ms).
        int block = (int) Math.max(64, Math.min(vocab, (1L << 22) / Math.max(1, h2.getShape().get(0))));
        double scale = 1.0 / Math.max(tokens, 1);
        List<NDArray> out = Kernels.lmHeadLoss(h2, tr.head(), y.reshape(-1), mask.reshape(-1), block, grad, Ops.autocastBf16(h2), scale);
        long correct = Math.round(out.get(1).toType(DataType.FLOAT64, false).getDouble());
        NDArray value = out.get(0).mul(scale); // mean over counted tokens; +0 when nothing counts
        if (!grad) return new LossResult(value, tokens, correct);
        // Step-scope arrays first: an op's result lands in its first operand's manager, and the head is a parameter.
        NDArray hProduct = h2.mul(out.get(2)), wProduct = out.get(3).mul(tr.head()); // [N,D], [V,D]
        NDArray surrogate = hProduct.sum().add(wProduct.sum());
        // A sum's backward needs only its input's shape, so the products can go now rather than with the step's scope
        // (autograd keeps what the multiplications' backward needs): GPT-2's [V,D] product alone is 154 MB.
        hProduct.close();
        wProduct.close();
        NDArray loss = value.add(surrogate.sub(surrogate.stopGradient()));
        return new LossResult(loss, tokens, correct);
    }

    /**
     * The head: final hidden states {@code [.., D]} → logits {@code [.., V]}, soft-capped when {@code logit_softcap}
     * is set ({@code c·tanh(z/c)}: smooth, monotone, ≈ z for |z| ≪ c and never beyond ±c, so no logit can run away).
     * Every path to logits comes through here: forward, loss, the KV cache, the stepwise runner.
     */
    NDArray unembed(NDArray hidden, NDArray head) {
        NDArray logits = Ops.linear(hidden, head, null);
        double c = mp.logit_softcap();
        return c > 0 ? Ops.mul(JniUtils.tanh(Ops.pt(Ops.div(logits, c))), c) : logits;
    }

    // ---------------------------------------------------------------------------------------------------
    // Sampling

    /**
     * Autoregressive generation that may run past max_seq_len: each step recomputes the last max_seq_len tokens (a
     * sliding window, as the reference's sample). {@link Generation} stops at max_seq_len and offers the KV cache and beams.
     *
     * @param temperature 0 = greedy (argmax)
     * @param topK        keep only the k most likely tokens (null = all); exclusive with {@code nucleus}
     * @param nucleus     keep the smallest set of tokens with this much probability mass (null = off)
     * @param stopId      stop right after emitting this id; negative = never stop early
     * @return the prompt followed by the generated ids
     */
    public int[] sample(int[] prompt, int maxNewTokens, double temperature, Integer topK, Double nucleus,
                        int stopId, Random rng) {
        Sampler.check(temperature, topK, nucleus);
        if (prompt.length == 0) throw new IllegalArgumentException("sample needs a non-empty prompt");
        if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
        int[] seq = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
        int n = prompt.length;
        boolean wasTraining = training;
        training = false; // no dropout while generating
        try {
            for (int step = 0; step < maxNewTokens; step++) {
                int start = Math.max(0, n - mp.max_seq_len()); // the model can't see further back than this
                long[] context = new long[n - start];
                for (int i = 0; i < context.length; i++) context[i] = seq[start + i];
                int next;
                try (NDManager scope = manager.newSubManager()) {
                    NDArray logits = forward(scope.create(context, new Shape(1, context.length))).logits();
                    float[] last = logits.get(0, context.length - 1).toType(DataType.FLOAT32, false).toFloatArray();
                    next = Sampler.pick(last, temperature, topK, nucleus, rng);
                }
                seq[n++] = next;
                if (stopId >= 0 && next == stopId) break;
            }
        } finally {
            training = wasTraining;
        }
        return Arrays.copyOf(seq, n);
    }

    // ---------------------------------------------------------------------------------------------------
    // Cached constants

    /** {@code [S,S]} additive causal mask for S = max_seq_len: 0 where key ≤ query, -inf above the diagonal. */
    synchronized NDArray causalMask() {
        if (causalMask == null) {
            int s = mp.max_seq_len();
            double[] m = new double[s * s];
            for (int q = 0; q < s; q++)
                for (int k = q + 1; k < s; k++) m[q * s + k] = Double.NEGATIVE_INFINITY;
            causalMask = constant(m, new Shape(s, s), "causal_mask");
        }
        return causalMask;
    }

    /**
     * The position-dependent state of one pass whose queries are positions {@code [from, to)} and whose keys are
     * {@code [0, to)}: the additive causal mask {@code [to−from, to]} (for ALiBi {@code [H, to−from, to]}, the mask
     * plus each head's distance penalty) and, for rotary positions, the cos/sin tables of the query positions.
     * All are views or small results in {@code scope}'s manager; {@code ids} are the pass's input ids, for hooks (may be null).
     */
    Block.Pass pass(long from, long to, NDArray scope, NDArray ids, double attnDropout, double residDropout, boolean training, Hooks hooks,
                    Object attnRequests, List<NDArray> attns, List<KVCache.Layer> cache) {
        NDArray mask = Ops.slice2(causalMask(), from, to, 0, to, scope);
        if (mp.pos_encoding() == PosEncoding.ALIBI)
            mask = mask.add(Ops.slice2(alibiDistance(), from, to, 0, to, scope).mul(alibiSlopes())); // [H,Tq,Tk]
        NDArray cos = null, sin = null;
        if (mp.pos_encoding() == PosEncoding.ROTARY) {
            NDArray[] tables = ropeTables();
            cos = Ops.slice2(tables[0], from, to, 0, mp.headDim(), scope);
            sin = Ops.slice2(tables[1], from, to, 0, mp.headDim(), scope);
        }
        boolean causalOnly = from == 0 && mp.pos_encoding() != PosEncoding.ALIBI;
        return new Block.Pass(ids, mask, attnDropout, residDropout, training, hooks, attnRequests, attns, cos, sin, causalOnly, cache);
    }

    private NDArray alibiDist;
    private NDArray alibiSlopes;
    private NDArray ropeCos;
    private NDArray ropeSin;

    /** {@code [S,S]}: {@code k − q} on and below the diagonal (≤ 0), 0 above (the causal mask covers that part). */
    synchronized NDArray alibiDistance() {
        if (alibiDist == null) {
            int s = mp.max_seq_len();
            double[] m = new double[s * s];
            for (int q = 0; q < s; q++)
                for (int k = 0; k <= q; k++) m[q * s + k] = k - q;
            alibiDist = constant(m, new Shape(s, s), "alibi_distance");
        }
        return alibiDist;
    }

    /**
     * {@code [H,1,1]} ALiBi slopes (Press et al. 2022): the geometric sequence 2^(−8/n), 2^(−16/n), … for n = H when H
     * is a power of 2; otherwise those of the largest power of 2 below H, then every other slope of twice that.
     */
    synchronized NDArray alibiSlopes() {
        if (alibiSlopes == null) {
            int h = mp.n_heads();
            double[] slopes = alibiSlopeValues(h);
            alibiSlopes = constant(slopes, new Shape(h, 1, 1), "alibi_slopes");
        }
        return alibiSlopes;
    }

    static double[] alibiSlopeValues(int h) {
        int n = Integer.highestOneBit(h);
        double[] out = new double[h];
        for (int i = 0; i < n; i++) out[i] = Math.pow(2, -8.0 * (i + 1) / n);
        for (int i = n; i < h; i++) out[i] = Math.pow(2, -8.0 * (2 * (i - n) + 1) / (2 * n));
        return out;
    }

    /** {@code [S, hd]} cos and sin of rotary positions: feature i (and i + hd/2) turns at 10000^(−2(i mod hd/2)/hd). */
    synchronized NDArray[] ropeTables() {
        if (ropeCos == null) {
            int s = mp.max_seq_len();
            int hd = mp.headDim();
            double[] c = new double[s * hd], sn = new double[s * hd];
            for (int pos = 0; pos < s; pos++) {
                for (int i = 0; i < hd; i++) {
                    double theta = pos * Math.pow(10000.0, -2.0 * (i % (hd / 2)) / hd);
                    c[pos * hd + i] = Math.cos(theta);
                    sn[pos * hd + i] = Math.sin(theta);
                }
            }
            ropeCos = constant(c, new Shape(s, hd), "rope_cos");
            ropeSin = constant(sn, new Shape(s, hd), "rope_sin");
        }
        return new NDArray[] {ropeCos, ropeSin};
    }

    /** {@code [S,D]} sinusoidal positions (Vaswani et al. 2017, §3.5): sin on even features, cos on odd. */
    synchronized NDArray sinTable() {
        if (sinTable == null) {
            int s = mp.max_seq_len();
            int d = mp.dim();
            double[] pe = new double[s * d];
            for (int pos = 0; pos < s; pos++) {
                for (int i = 0; i < d; i++) {
                    double freq = Math.pow(10000.0, -(double) (i - i % 2) / d);
                    pe[pos * d + i] = i % 2 == 0 ? Math.sin(pos * freq) : Math.cos(pos * freq);
                }
            }
            sinTable = constant(pe, new Shape(s, d), "sin_positions");
        }
        return sinTable;
    }

    private NDArray constant(double[] values, Shape shape, String name) {
        NDArray a = dtype == DataType.FLOAT64 ? manager.create(values, shape) : manager.create(toFloats(values), shape);
        a.setName(name);
        return a;
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }

    /** Frees the parameters and cached constants. */
    @Override
    public void close() {
        manager.close();
    }
}
