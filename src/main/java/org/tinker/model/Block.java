package org.tinker.model;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * One transformer layer, {@code [B,T,D] → [B,T,D]}, in the shape of torch's {@code nn.TransformerEncoderLayer}
 * with a causal mask:
 * <pre>
 *   post-norm (norm_first=false):  x = ln_1(x + drop(attn(x)));      x = ln_2(x + drop(mlp(x)))
 *   pre-norm  (norm_first=true):   x = x + drop(attn(ln_1(x)));      x = x + drop(mlp(ln_2(x)))
 *   mlp(x) = c_proj(drop(act(c_fc(x))))       and the attention pattern gets dropout too, as in torch's MHA
 * </pre>
 * Two implementations compute the same function on the same parameters: {@link TorchTransformerBlock}
 * (fused, fast) and {@link CustomTransformerBlock} (explicit, with hook points).
 */
interface Block {

    NDArray forward(NDArray x, Pass pass);

    /**
     * Per-forward-pass state shared by every block.
     *
     * @param mask     additive causal mask {@code [T,T]} (0 on and below the diagonal, -inf above), in the step scope;
     *                 with ALiBi {@code [H,T,T]}, the mask plus each head's linear distance penalty
     * @param dropout  dropout probability (applied only when {@code training})
     * @param attns    when non-null, each block appends its {@code [B,H,T,T]} attention pattern
     * @param ropeCos  rotary positions: {@code [T,hd]} cos of the query positions, or null (no rotary)
     * @param ropeSin  likewise sin
     * @param causalOnly {@code mask} is exactly the square causal mask (no ALiBi, queries = keys), so a fused attention
     *                 kernel may apply causality itself instead of reading the mask
     */
    record Pass(NDArray mask, double dropout, boolean training, Hooks hooks, Object attnRequests,
                List<NDArray> attns, NDArray ropeCos, NDArray ropeSin, boolean causalOnly) {

        /** Rotates q or k {@code [B,H,T,hd]} by its positions when the model uses rotary positions. */
        NDArray rope(NDArray qk) {
            return ropeCos == null ? qk : Ops.rope(qk, ropeCos, ropeSin);
        }

        boolean hooked() {
            return hooks != null && !hooks.isEmpty();
        }

        /** Runs the hooks at {@code name} (if any) on {@code value}. */
        NDArray hook(String name, int layer, NDArray value) {
            if (!hooked() || !hooks.has(name)) return value;
            return hooks.run(name, value, new HookContext(layer, attnRequests, training));
        }

        NDArray drop(NDArray x) {
            return Ops.dropout(x, dropout, training);
        }
    }
}
