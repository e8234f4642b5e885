package org.tinker.model.gpt2;

import ai.djl.ndarray.types.DataType;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tinker.config.ConfigError;

/**
 * What a weights file may hold, from {@code config.json}: every tensor's name and shape, and the dtypes allowed.
 * Readers check each tensor against it before allocating anything, so a small hostile file cannot make them
 * allocate more than the model config.json describes (issue 19, item 1).
 *
 * @param where  the config the expectations come from (for messages)
 * @param shapes tensor name → shape (names without the optional {@code transformer.} prefix)
 */
public record ExpectedTensors(String where, Map<String, long[]> shapes) {

    /** Prefixes a name may carry (GPT2LMHeadModel vs GPT2Model files). */
    private static final String PREFIX = "transformer.";

    /** A GPT-2 checkpoint of this config: the GPT2LMHeadModel tensors, with the causal-mask buffers and lm_head. */
    public static ExpectedTensors gpt2(Gpt2Config cfg, String where) {
        long d = cfg.mp().dim(), ff = (long) cfg.mp().dim_ff_factor() * d, v = cfg.vocabSize(), pos = cfg.mp().max_seq_len();
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("wte.weight", new long[] {v, d});
        s.put("wpe.weight", new long[] {pos, d});
        for (int i = 0; i < cfg.mp().n_layers(); i++) {
            String h = "h." + i + ".";
            s.put(h + "ln_1.weight", new long[] {d});
            s.put(h + "ln_1.bias", new long[] {d});
            s.put(h + "attn.c_attn.weight", new long[] {d, 3 * d});
            s.put(h + "attn.c_attn.bias", new long[] {3 * d});
            s.put(h + "attn.c_proj.weight", new long[] {d, d});
            s.put(h + "attn.c_proj.bias", new long[] {d});
            s.put(h + "ln_2.weight", new long[] {d});
            s.put(h + "ln_2.bias", new long[] {d});
            s.put(h + "mlp.c_fc.weight", new long[] {d, ff});
            s.put(h + "mlp.c_fc.bias", new long[] {ff});
            s.put(h + "mlp.c_proj.weight", new long[] {ff, d});
            s.put(h + "mlp.c_proj.bias", new long[] {d});
            s.put(h + "attn.bias", new long[] {1, 1, pos, pos});
            s.put(h + "attn.masked_bias", new long[] {});
        }
        s.put("ln_f.weight", new long[] {d});
        s.put("ln_f.bias", new long[] {d});
        s.put("lm_head.weight", new long[] {v, d});
        return new ExpectedTensors(where, s);
    }

    /** The shape config.json gives a tensor of this name, or null when it has none. */
    public long[] shape(String name) {
        long[] s = shapes.get(name);
        if (s == null && name.startsWith(PREFIX)) s = shapes.get(name.substring(PREFIX.length()));
        return s;
    }

    /** Elements of all the tensors config.json describes: the most a file's storages may hold together. */
    public long totalElements() {
        long n = 0;
        for (long[] s : shapes.values()) n += numel(s);
        return n;
    }

    /** The most elements any one tensor may have. */
    public long maxElements() {
        long n = 0;
        for (long[] s : shapes.values()) n = Math.max(n, numel(s));
        return n;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    /**
     * Refuses (one line naming {@code file}) a tensor config.json does not describe, of another shape, or of a dtype
     * weights do not come in (floats; the causal mask {@code attn.bias} may also be uint8 or bool).
     */
    public void check(Object file, String name, long[] shape, DataType dtype) {
        long[] want = shape(name);
        if (want == null)
            throw new ConfigError(file + ": unexpected tensor " + name + " (" + where + " describes no such tensor; refused before reading it)");
        if (!Arrays.equals(want, shape))
            throw new ConfigError(file + ": tensor " + name + " has shape " + Arrays.toString(shape) + ", expected " + Arrays.toString(want)
                    + " from " + where + " (refused before reading it)");
        boolean ok = dtype.isFloating() || (name.endsWith("attn.bias") && (dtype == DataType.UINT8 || dtype == DataType.BOOLEAN));
        if (!ok) throw new ConfigError(file + ": tensor " + name + " has dtype " + dtype + ", expected a floating-point type (refused before reading it)");
    }
}
