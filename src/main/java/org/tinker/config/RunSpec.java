package org.tinker.config;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * One training run of a grid: its three params records and where it sits in the grid.
 *
 * @param configName the config file's name without .txt (e.g. {@code test-nlp-big})
 * @param index 1-based position in the whole expansion
 * @param total number of runs in the expansion
 * @param varying the grid axes and this run's value on each, e.g. {@code mp.dim=256}
 * @param ablation name of the ablation applied, or null for the base run
 */
public record RunSpec(String configName, int index, int total, DataParams dp, TrainParams tp, ModelParams mp,
                      LinkedHashMap<String, Object> varying, String ablation) {

    /** {@code dim=256 lr=0.001} (short keys), or {@code (single run)}. */
    public String describe() {
        String axes = varying.entrySet().stream()
                .map(e -> shortKey(e.getKey()) + "=" + PyLiteral.show(e.getValue()))
                .collect(Collectors.joining(" "));
        if (ablation != null) axes = (axes.isEmpty() ? "" : axes + " ") + "ablation=" + ablation;
        return axes.isEmpty() ? "(single run)" : axes;
    }

    /** A parameter's key without its section: {@code tp.lr} → {@code lr}. */
    public static String shortKey(String key) {
        return key.substring(key.indexOf('.') + 1);
    }

    /** {@code run 3/8: dim=256 lr=0.001}. */
    public String header() {
        return "run " + index + "/" + total + " [" + configName + "]: " + describe();
    }

    public Map<String, Object> flat() {
        return Params.flatten(dp, tp, mp);
    }
}
