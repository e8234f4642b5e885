package org.tinker.model;

import org.tinker.config.ModelCheck;
import org.tinker.config.ModelParams.Architecture;
import org.tinker.config.ModelParams;
import org.tinker.model.flexi.FlexiSpec;
import org.tinker.model.hierarchical.HierarchicalSpec;

/** The config checks of the hierarchical and flexi settings, run when a config is read (see {@link ModelCheck}). */
public final class BodyChecks implements ModelCheck {
    public BodyChecks() {} // for ServiceLoader

    @Override
    public Problem problem(ModelParams mp) {
        try {
            switch (mp.layer_architecture()) {
                case FLEXI -> FlexiSpec.of(mp);
                case HIERARCHICAL -> HierarchicalSpec.of(mp);
                default -> { }
            }
            return null;
        } catch (IllegalArgumentException e) {
            return new Problem(mp.layer_architecture() == Architecture.FLEXI ? "model_dict" : "hierarchies", e.getMessage());
        }
    }
}
