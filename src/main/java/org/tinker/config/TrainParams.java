package org.tinker.config;

/** How to train. Field names and defaults follow lm-springboard (seed era), plus a few tinker additions. */
public record TrainParams(
        @Doc("train and validation batch size") @Default("8") int batch_size,
        @Doc("step the optimizer every N batches") @Default("1") int accumulate_grad_batches,
        @Doc("passes over the training data") @Default("5") int epochs,
        @Doc("optimizer-step budget; stops training early when reached (-1 = no budget, epochs decide)") @Default("-1") int max_steps,
        @Doc("dropout inside the transformer layers") @Default("0.1") double dropout,
        @Doc("clip the global gradient norm to this (0 = no clipping)") @Default("0.5") double gradient_clip_val,
        @Doc("validate every this fraction of an epoch (float) or every N batches (int)") @Default("0.1") Number val_check_epoch_frac,
        @Doc("length in tokens of the sample printed after each validation") @Default("30") int max_sample_tokens,
        @Doc("temperature of that sample (0 = argmax)") @Default("0.5") double sample_temperature,
        @Doc("turn off W&B for this run (also set by --no-wandb)") @Default("False") boolean no_wandb,
        @Doc("log n_active_params and process_time every N optimizer steps") @Default("100") int hyperparams_log_freq,
        @Doc("peak learning rate") @Default("1e-3") double lr,
        @Doc("linear warm-up from 0 to lr over N optimizer steps") @Default("50") int lr_warm_steps,
        @Doc("after warm-up: Cosine | Cyclic | Plateau | Linear | Constant") @Default("Cosine") Scheduler lr_scheduler_type,
        @Doc("learning-rate floor of the schedules") @Default("1e-7") double min_lr,
        @Doc("Plateau: factor by which lr shrinks (also Cyclic's gamma)") @Default("0.995") double scheduler_factor,
        @Doc("Plateau: steps without improvement before shrinking") @Default("10") int patience,
        @Doc("Cosine: steps from lr to min_lr; Cyclic: full period; Linear: steps to min_lr") @Default("500") int lr_cycle_steps,
        @Doc("AdamW decoupled weight decay (0 = plain Adam)") @Default("0") double weight_decay,
        @Doc("Adam beta1") @Default("0.9") double adam_beta1,
        @Doc("Adam beta2") @Default("0.999") double adam_beta2,
        @Doc("LoRA rank on every parameter (0 = off): only the adapters train, the base weights stay frozen") @Default("0") int lora_rank,
        @Doc("init std of the LoRA matrices") @Default("0.02") double lora_std,
        @Doc("0 never; -1 after every validation; n>0 each time n_train_samples crosses a multiple of n") @Default("0") int checkpoint_every,
        @Doc("seed of weights, data order, dropout and sampling") @Default("0") long random_seed,
        @Doc("training compute precision: fp32 | bf16 (matmuls and attention in bfloat16 on fp32 master weights, as torch.autocast; evaluation and sampling stay fp32)") @Default("fp32") Precision precision,
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
    }
}
