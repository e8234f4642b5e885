package org.tinker.config;

/** How to train. Field names and defaults follow lm-springboard (seed era), plus a few tinker additions. */
public record TrainParams(
        @Doc("train and validation batch size") @Default("8") int batch_size,
        @Doc("step the optimizer every N batches") @Default("1") int accumulate_grad_batches,
        @Doc("passes over the training data") @Default("5") int epochs,
        @Doc("optimizer-step budget; stops training early when reached (-1 = no budget, epochs decide)") @Default("-1") int max_steps,
        @Doc("dropout inside the transformer layers: the default of attn_dropout and resid_dropout") @Default("0.1") double dropout,
        @Doc("dropout on the attention pattern (-1 = dropout)") @Default("-1") double attn_dropout,
        @Doc("dropout on each residual branch's output and the MLP's hidden layer (-1 = dropout)") @Default("-1") double resid_dropout,
        @Doc("dropout on the input embeddings (token + positions), before the first block") @Default("0") double embd_dropout,
        @Doc("label smoothing of the training loss: (1 - e) * cross-entropy + e * mean over the vocabulary of -log p (validation and test report the plain cross-entropy)") @Default("0") double label_smoothing,
        @Doc("clip the global gradient norm to this (0 = no clipping)") @Default("0.5") double gradient_clip_val,
        @Doc("validate every this fraction of an epoch (float) or every N batches (int)") @Default("0.1") Number val_check_epoch_frac,
        @Doc("length in tokens of the sample printed after each validation") @Default("30") int max_sample_tokens,
        @Doc("temperature of that sample (0 = argmax)") @Default("0.5") double sample_temperature,
        @Doc("turn off W&B for this run (also set by --no-wandb)") @Default("False") boolean no_wandb,
        @Doc("log each saved checkpoint to W&B as a version of model artifact model-{run id} (aliases latest, step-N, final)") @Default("False") boolean wandb_log_checkpoints,
        @Doc("seconds the end of a run keeps sending unsent W&B data (the environment's WANDB_FINISH_TIMEOUT takes precedence)") @Default("600") double wandb_finish_timeout_s,
        @Doc("log n_active_params and process_time every N optimizer steps") @Default("100") int hyperparams_log_freq,
        @Doc("peak learning rate") @Default("1e-3") double lr,
        @Doc("linear warm-up from 0 to lr over N optimizer steps") @Default("50") int lr_warm_steps,
        @Doc("after warm-up: Cosine | Cyclic | Plateau | Linear | Constant") @Default("Cosine") Scheduler lr_scheduler_type,
        @Doc("learning-rate floor of the schedules") @Default("1e-7") double min_lr,
        @Doc("Plateau: factor by which lr shrinks (also Cyclic's gamma)") @Default("0.995") double scheduler_factor,
        @Doc("Plateau: steps without improvement before shrinking") @Default("10") int patience,
        @Doc("Cosine: steps from lr to min_lr; Cyclic: full period; Linear: steps to min_lr") @Default("500") int lr_cycle_steps,
        @Doc("adamw | muon (Muon, Jordan et al. 2024: momentum orthogonalised by a Newton-Schulz iteration for the blocks' 2-D weights; AdamW at lr for embeddings, head, gains and biases)") @Default("adamw") Optimizer optimizer,
        @Doc("muon: peak learning rate of the blocks' matrices (follows lr's schedule)") @Default("0.02") double muon_lr,
        @Doc("muon: momentum (Nesterov)") @Default("0.95") double muon_momentum,
        @Doc("AdamW decoupled weight decay (0 = plain Adam); with muon also on the matrices Muon updates") @Default("0") double weight_decay,
        @Doc("weight decay only on parameters of 2 or more dimensions (matrices, embeddings), none on gains and biases") @Default("False") boolean weight_decay_matrices_only,
        @Doc("Adam beta1") @Default("0.9") double adam_beta1,
        @Doc("Adam beta2") @Default("0.999") double adam_beta2,
        @Doc("LoRA rank on every parameter (0 = off): only the adapters train, the base weights stay frozen") @Default("0") int lora_rank,
        @Doc("init std of the LoRA matrices") @Default("0.02") double lora_std,
        @Doc("0 never; -1 after every validation; n>0 each time n_train_samples crosses a multiple of n") @Default("0") int checkpoint_every,
        @Doc("seed of weights, data order, dropout and sampling") @Default("0") long random_seed,
        @Doc("training compute precision: fp32 | bf16 (matmuls and attention in bfloat16 on fp32 master weights, as torch.autocast, and Muon's Newton-Schulz iteration; evaluation and sampling stay fp32)") @Default("fp32") Precision precision,
        @Doc("training-loop ideas, ';'-separated, e.g. \"freeze_random_layers; corrupt_inputs(0.2); track_max_param(100)\" (docs/recipes.md)") @Default("") String callbacks) {

    /** Every field at its {@link Default}. */
    public static final TrainParams DEFAULTS = Params.defaults(TrainParams.class);

    /** The learning-rate schedule after warm-up (train/LrSchedule.java). */
    public enum Scheduler implements Choice {
        COSINE("Cosine"), CYCLIC("Cyclic"), PLATEAU("Plateau"), LINEAR("Linear"), CONSTANT("Constant");

        private final String spelling;
        Scheduler(String spelling) { this.spelling = spelling; }
        public String spelling() { return spelling; }
        @Override public String toString() { return spelling; }
    }

    /** The compute precision of training steps. */
    public enum Precision implements Choice {
        FP32("fp32"), BF16("bf16");

        private final String spelling;
        Precision(String spelling) { this.spelling = spelling; }
        public String spelling() { return spelling; }
        @Override public String toString() { return spelling; }
    }

    /** The optimizer of the hidden matrices (embeddings, head, gains and biases always take AdamW). */
    public enum Optimizer implements Choice {
        ADAMW("adamw"), MUON("muon");

        private final String spelling;
        Optimizer(String spelling) { this.spelling = spelling; }
        public String spelling() { return spelling; }
        @Override public String toString() { return spelling; }
    }

    /** The attention-pattern dropout: attn_dropout, or dropout when it is -1. */
    public double attnDropout() {
        return attn_dropout < 0 ? dropout : attn_dropout;
    }

    /** The residual-branch dropout: resid_dropout, or dropout when it is -1. */
    public double residDropout() {
        return resid_dropout < 0 ? dropout : resid_dropout;
    }

    /** A copy with one field replaced, by its config name. */
    public TrainParams with(String field, Object value) {
        return Params.with(this, field, value);
    }

    /** Range checks, written as !(in range) so that NaN fails them; Params.validate has already refused inf and nan. */
    public void validate(Params.Where where) {
        if (batch_size <= 0) where.fail("batch_size", "a positive integer", batch_size);
        if (accumulate_grad_batches <= 0) where.fail("accumulate_grad_batches", "a positive integer", accumulate_grad_batches);
        if (epochs <= 0) where.fail("epochs", "a positive integer", epochs);
        if (max_steps == 0 || max_steps < -1) where.fail("max_steps", "a positive number of steps or -1", max_steps);
        if (!(dropout >= 0 && dropout < 1)) where.fail("dropout", "a probability in [0, 1)", dropout);
        for (String f : new String[] {"attn_dropout", "resid_dropout"}) {
            double p = f.equals("attn_dropout") ? attn_dropout : resid_dropout;
            if (!(p == -1 || (p >= 0 && p < 1))) where.fail(f, "a probability in [0, 1), or -1 for dropout's value", p);
        }
        if (!(embd_dropout >= 0 && embd_dropout < 1)) where.fail("embd_dropout", "a probability in [0, 1)", embd_dropout);
        if (!(label_smoothing >= 0 && label_smoothing < 1)) where.fail("label_smoothing", "a value in [0, 1)", label_smoothing);
        if (!(muon_lr > 0)) where.fail("muon_lr", "a positive learning rate", muon_lr);
        if (!(muon_momentum >= 0 && muon_momentum < 1)) where.fail("muon_momentum", "a value in [0, 1)", muon_momentum);
        if (optimizer == Optimizer.MUON && lora_rank > 0) where.fail("optimizer", "adamw when lora_rank > 0 (Muon updates whole matrices)", optimizer);
        if (!(gradient_clip_val >= 0)) where.fail("gradient_clip_val", "a non-negative norm", gradient_clip_val);
        if (val_check_epoch_frac instanceof Double d && !(d > 0 && d <= 1))
            where.fail("val_check_epoch_frac", "a fraction in (0, 1] or a positive number of batches", d);
        if (val_check_epoch_frac instanceof Integer i && i <= 0)
            where.fail("val_check_epoch_frac", "a fraction in (0, 1] or a positive number of batches", i);
        if (max_sample_tokens < 0) where.fail("max_sample_tokens", "a non-negative number of tokens", max_sample_tokens);
        if (!(sample_temperature >= 0)) where.fail("sample_temperature", "a non-negative temperature", sample_temperature);
        if (hyperparams_log_freq <= 0) where.fail("hyperparams_log_freq", "a positive integer", hyperparams_log_freq);
        if (!(lr > 0)) where.fail("lr", "a positive learning rate", lr);
        if (lr_warm_steps < 0) where.fail("lr_warm_steps", "a non-negative number of steps", lr_warm_steps);
        if (!(min_lr >= 0 && min_lr <= lr)) where.fail("min_lr", "a floor in [0, lr]", min_lr);
        if (!(scheduler_factor > 0 && scheduler_factor <= 1)) where.fail("scheduler_factor", "a factor in (0, 1]", scheduler_factor);
        if (patience < 0) where.fail("patience", "a non-negative number of steps", patience);
        if (lr_cycle_steps <= 0) where.fail("lr_cycle_steps", "a positive number of steps", lr_cycle_steps);
        if (!(weight_decay >= 0)) where.fail("weight_decay", "a non-negative decay", weight_decay);
        if (!(adam_beta1 >= 0 && adam_beta1 < 1)) where.fail("adam_beta1", "a value in [0, 1)", adam_beta1);
        if (!(adam_beta2 >= 0 && adam_beta2 < 1)) where.fail("adam_beta2", "a value in [0, 1)", adam_beta2);
        if (lora_rank < 0) where.fail("lora_rank", "0 (off) or a positive rank", lora_rank);
        if (lora_rank > 0 && !(lora_std >= 0)) where.fail("lora_std", "a non-negative init std", lora_std);
        String callbackProblem = RecipeBook.check("callbacks", callbacks, this);
        if (callbackProblem != null) where.fail("callbacks", "';'-separated callbacks name(numbers), but " + callbackProblem, callbacks);
        if (checkpoint_every < -1) where.fail("checkpoint_every", "0, -1 or a positive number of samples", checkpoint_every);
        if (!(wandb_finish_timeout_s >= 0)) where.fail("wandb_finish_timeout_s", "a non-negative number of seconds", wandb_finish_timeout_s);
    }
}
