package org.tinker.train;

import ai.djl.ndarray.NDArray;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.tinker.config.ConfigError;
import org.tinker.config.RecipeRegistry;
import org.tinker.engine.Ops;

/**
 * The training-loop recipes a config may name in {@code [TrainParams] callbacks}: the reference README's ideas, one small
 * class each. Add a line to {@link #ALL} to ship another; a researcher's own goes in {@code src/recipes/java/recipes/}
 * (a class implementing {@link TrainingCallback}) and is found by name. Every {@link Trainer} runs the callbacks its
 * spec names, before any added with {@link Trainer#addCallback}.
 */
public final class TrainingRecipes extends RecipeRegistry<TrainingCallback> {

    public static final List<Entry<TrainingCallback>> ALL = List.of(
            new Entry<>("freeze_random_layers", List.of(), "freeze_random_layers", c -> new FreezeRandomLayers()),
            new Entry<>("corrupt_inputs", List.of("frac"), "corrupt_inputs(0.2)", c -> new CorruptInputs(c.args().get(0))),
            new Entry<>("track_max_param", List.of("every"), "track_max_param(100)", c -> new TrackMaxParam(c.intArg(0))));

    private static final TrainingRecipes BOOK = new TrainingRecipes();

    public TrainingRecipes() { // public: found by ServiceLoader
        super("callbacks", "callback", TrainingCallback.class, ALL);
    }

    /** The callbacks a {@code callbacks} text names, in order; IllegalArgumentException naming the known ones otherwise. */
    public static List<TrainingCallback> of(String text) {
        return BOOK.build(text);
    }

    /**
     * Each block of the stack is frozen with probability 1/2 for this optimizer step: its weights and Adam moments stay as
     * they are. The choice comes from {@code step.random()}, so a resumed run freezes the same layers.
     */
    public record FreezeRandomLayers() implements TrainingCallback {
        @Override
        public Set<String> frozen(Step step) {
            Set<String> names = new HashSet<>();
            Set<String> all = step.lm().parameters().keySet();
            // layers are the GPT block stack's transformer.h.<l>.*; hierarchical and flexi bodies name theirs otherwise
            if (all.stream().noneMatch(n -> n.startsWith("transformer.h.")))
                throw new ConfigError("callbacks: freeze_random_layers needs a GPT block stack (parameters transformer.h.<layer>.*), this model has none");
            for (int l = 0; l < step.lm().params().n_layers(); l++) {
                if (!step.random().nextBoolean()) continue;
                String prefix = "transformer.h." + l + ".";
                for (String n : all) if (n.startsWith(prefix)) names.add(n);
            }
            return names;
        }
    }

    /**
     * Each input token is replaced, with probability {@code frac}, by a token id drawn uniformly from the vocabulary;
     * the targets stay the real next tokens, so the model learns to predict through noise. Drawn from
     * {@code step.random()}: the same corruption on every device and on a resumed run.
     */
    public record CorruptInputs(double frac) implements TrainingCallback {
        public CorruptInputs {
            if (!(frac >= 0 && frac <= 1)) throw new IllegalArgumentException("corrupt_inputs needs a fraction in [0, 1], got " + frac);
        }

        @Override
        public NDArray inputs(NDArray inputs, Step step) {
            if (frac == 0) return inputs;
            long[] ids = inputs.toLongArray(); // [B,T] is small next to the step: draw on the host, one copy each way
            int vocab = step.lm().vocabSize();
            Random r = step.random();
            for (int i = 0; i < ids.length; i++) if (r.nextDouble() < frac) ids[i] = r.nextInt(vocab);
            return inputs.getManager().create(ids, inputs.getShape()).toType(inputs.getDataType(), false);
        }
    }

    /** Logs {@code max_param}, the largest value of any parameter, every {@code every} optimizer steps. */
    public record TrackMaxParam(int every) implements TrainingCallback {
        public TrackMaxParam {
            if (every <= 0) throw new IllegalArgumentException("track_max_param needs a positive number of steps, got " + every);
        }

        @Override
        public void afterOptimizerStep(Step step) {
            if (step.optSteps() % every != 0) return;
            double max = Double.NEGATIVE_INFINITY;
            for (NDArray a : step.lm().parameters().values()) {
                try (NDArray m = a.max()) { // would otherwise live as long as the model's manager
                    max = Math.max(max, Ops.scalar(m));
                }
            }
            step.log("max_param", max);
        }
    }
}
