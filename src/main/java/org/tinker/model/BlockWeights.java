package org.tinker.model;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * The tensors of block {@code i}, looked up once by their nanoGPT/HF names in the LM's parameter map.
 * Both block implementations read the same record, which is what makes them interchangeable.
 * With individual head parameters {@code attnW/attnB} are null and {@code q/k/v} hold one [hd,D] weight
 * (and [hd] bias) per head; otherwise the reverse.
 */
record BlockWeights(
        NDArray ln1W, NDArray ln1B,
        NDArray attnW, NDArray attnB,            // c_attn: [3D, D], [3D]; rows are q | k | v, heads contiguous
        NDArray[] qW, NDArray[] qB, NDArray[] kW, NDArray[] kB, NDArray[] vW, NDArray[] vB,
        NDArray attnProjW, NDArray attnProjB,    // [D, D], [D]
        NDArray ln2W, NDArray ln2B,
        NDArray fcW, NDArray fcB,                // [ff, D], [ff]
        NDArray mlpProjW, NDArray mlpProjB) {    // [D, ff], [D]

    static String prefix(int layer) {
        return "transformer.h." + layer + ".";
    }

    static BlockWeights of(Map<String, NDArray> p, int layer, int nHeads, boolean individualHeads) {
        String h = prefix(layer);
        NDArray[][] qkv = new NDArray[6][];
        if (individualHeads) {
            String[] names = {"q.weight", "q.bias", "k.weight", "k.bias", "v.weight", "v.bias"};
            for (int j = 0; j < 6; j++) {
                qkv[j] = new NDArray[nHeads];
                for (int head = 0; head < nHeads; head++)
                    qkv[j][head] = p.get(h + "attn.heads." + head + "." + names[j]);
            }
        }
        return new BlockWeights(
                p.get(h + "ln_1.weight"), p.get(h + "ln_1.bias"),
                p.get(h + "attn.c_attn.weight"), p.get(h + "attn.c_attn.bias"),
                qkv[0], qkv[1], qkv[2], qkv[3], qkv[4], qkv[5],
                p.get(h + "attn.c_proj.weight"), p.get(h + "attn.c_proj.bias"),
                p.get(h + "ln_2.weight"), p.get(h + "ln_2.bias"),
                p.get(h + "mlp.c_fc.weight"), p.get(h + "mlp.c_fc.bias"),
                p.get(h + "mlp.c_proj.weight"), p.get(h + "mlp.c_proj.bias"));
    }
}
