package org.tinker.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Fused libtorch kernels that DJL 0.35.1 does not expose, and short op sequences run in one call: causal
 * scaled-dot-product attention (the flash-attention CPU kernel: no [B,H,T,T] scores in memory, the upper triangle
 * skipped), the LM head with its cross-entropy in vocabulary blocks ({@link #lmHeadLoss}), the multi-tensor fused
 * AdamW and global-norm gradient clipping ({@code _foreach_norm} / {@code _foreach_mul_}), gradients as fresh tensors
 * ({@link #grads}), Muon's Newton–Schulz
 * iteration ({@link #newtonSchulz}), bfloat16 linear layers for
 * mixed precision ({@link Ops#autocast}), and a whole KV-cache decoding step (the model's {@code FastDecoder} binds it).
 *
 * <p>Route: libtorch compiles TorchScript source when it loads a module, so we write a tiny TorchScript archive
 * (a zip holding {@code code/__torch__.py}, a one-object pickle and a version file) from the source below, load it
 * once through DJL's module loader and call its methods. No Python and no file outside the jar is involved; the
 * archive is written to a temporary file at first use. The ops then run inside libtorch's interpreter and join the
 * autograd graph like any other op, so gradients flow through {@link #attention} exactly as through the explicit path.
 *
 * <p>If the module cannot be loaded (a user-supplied libtorch without these ops), {@link #available()} is false and
 * callers keep their explicit implementations.
 */
public final class Kernels {
    private Kernels() {}

    /** The TorchScript source (serialized-code dialect: every method takes {@code self}, types are annotated). */
    static final String SOURCE = """
            class Kernels(Module):
              __parameters__ = []
              __buffers__ = []
              training : bool
              def forward(self: __torch__.Kernels, x: Tensor) -> Tensor:
                return x
              def causal_attention(self: __torch__.Kernels, q: Tensor, k: Tensor, v: Tensor, dropout_p: float) -> Tensor:
                return torch.scaled_dot_product_attention(q, k, v, None, dropout_p, True)
              def masked_attention(self: __torch__.Kernels, q: Tensor, k: Tensor, v: Tensor, mask: Tensor, dropout_p: float) -> Tensor:
                return torch.scaled_dot_product_attention(q, k, v, mask, dropout_p, False)
              def causal_attention_bf16(self: __torch__.Kernels, q: Tensor, k: Tensor, v: Tensor, dropout_p: float) -> Tensor:
                out = torch.scaled_dot_product_attention(torch.to(q, 15), torch.to(k, 15), torch.to(v, 15), None, dropout_p, True)
                return torch.to(out, q.dtype)
              def linear_bf16(self: __torch__.Kernels, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
                return torch.to(torch.linear(torch.to(x, 15), torch.to(w, 15), torch.to(b, 15)), x.dtype)
              def linear_bf16_nobias(self: __torch__.Kernels, x: Tensor, w: Tensor) -> Tensor:
                return torch.to(torch.linear(torch.to(x, 15), torch.to(w, 15)), x.dtype)
              def matmul_bf16(self: __torch__.Kernels, a: Tensor, b: Tensor) -> Tensor:
                return torch.to(torch.matmul(torch.to(a, 15), torch.to(b, 15)), a.dtype)
              def bf16_matmuls(self: __torch__.Kernels, a: Tensor, b: Tensor, reps: int) -> Tensor:
                a16 = torch.to(a, 15)
                b16 = torch.to(b, 15)
                c = torch.matmul(a16, b16)
                for i in range(reps - 1):
                  c = torch.matmul(c, b16)
                return torch.to(torch.sum(c), a.dtype)
              def newton_schulz(self: __torch__.Kernels, x: Tensor, steps: int, a: float, b: float, c: float, bf16: bool) -> Tensor:
                y = x
                if bf16:
                  y = torch.to(x, 15)
                for i in range(steps):
                  g = torch.matmul(y, torch.t(y))
                  y = torch.addmm(y, torch.addmm(g, g, g, beta=b, alpha=c), y, beta=a)
                return torch.to(y, x.dtype)
              def rms(self: __torch__.Kernels, x: Tensor, eps: float) -> Tensor:
                return torch.div(x, torch.sqrt(torch.add(torch.mean(torch.mul(x, x), [-1], True), eps)))
              def norm(self: __torch__.Kernels, x: Tensor, w: Tensor, b: Tensor, rms: bool, eps: float) -> Tensor:
                if rms:
                  return torch.mul(self.rms(x, eps), w)
                return torch.layer_norm(x, [torch.size(x, -1)], w, b, eps)
              def activate(self: __torch__.Kernels, h: Tensor, act: int) -> Tensor:
                if act == 0:
                  return torch.relu(h)
                if act == 1:
                  return torch.gelu(h)
                if act == 2:
                  return torch.gelu(h, approximate="tanh")
                if act == 5:
                  return torch.square(torch.relu(h))
                parts = torch.chunk(h, 2, -1)
                if act == 3:
                  return torch.mul(torch.silu(parts[0]), parts[1])
                return torch.mul(torch.gelu(parts[0]), parts[1])
              def mlp(self: __torch__.Kernels, x: Tensor, fw: Tensor, fb: Tensor, pw: Tensor, pb: Tensor, act: int) -> Tensor:
                return torch.linear(self.activate(torch.linear(x, fw, fb), act), pw, pb)
              def bf16_or_none(self: __torch__.Kernels, b: List[Tensor]) -> Optional[Tensor]:
                if len(b) == 0:
                  return None
                return torch.to(b[0], 15)
              def mlp_bf16(self: __torch__.Kernels, x: Tensor, fw: Tensor, fb: List[Tensor], pw: Tensor, pb: List[Tensor], act: int, dropout_p: float) -> Tensor:
                h = self.activate(torch.linear(torch.to(x, 15), torch.to(fw, 15), self.bf16_or_none(fb)), act)
                if dropout_p > 0.:  # not dropout(h, 0, False): autodiff would still multiply by a mask of ones, forward and back
                  h = torch.dropout(h, dropout_p, True)
                return torch.to(torch.linear(h, torch.to(pw, 15), self.bf16_or_none(pb)), x.dtype)
              def attention_bf16(self: __torch__.Kernels, x: Tensor, w: Tensor, b: List[Tensor], pw: Tensor, pb: List[Tensor], n_heads: int, qk_norm: bool, eps: float, rope: List[Tensor], dropout_p: float) -> Tensor:
                B = torch.size(x, 0)
                T = torch.size(x, 1)
                D = torch.size(x, 2)
                # [B,T,3D] -> [B,T,3,H,hd] -> 3 x [B,H,T,hd]
                qkv = torch.unbind(torch.permute(torch.reshape(torch.linear(torch.to(x, 15), torch.to(w, 15), self.bf16_or_none(b)), [B, T, 3, n_heads, D // n_heads]), [2, 0, 3, 1, 4]))
                q = qkv[0]
                k = qkv[1]
                if qk_norm or len(rope) == 2:
                  q = torch.to(q, x.dtype)
                  k = torch.to(k, x.dtype)
                  if qk_norm:
                    q = self.rms(q, eps)
                    k = self.rms(k, eps)
                  if len(rope) == 2:
                    q = self.rope(q, rope[0], rope[1])
                    k = self.rope(k, rope[0], rope[1])
                  q = torch.to(q, 15)
                  k = torch.to(k, 15)
                z = torch.scaled_dot_product_attention(q, k, qkv[2], None, dropout_p, True)
                z = torch.reshape(torch.transpose(z, 1, 2), [B, T, D])
                return torch.to(torch.linear(z, torch.to(pw, 15), self.bf16_or_none(pb)), x.dtype)
              def rope(self: __torch__.Kernels, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
                halves = torch.chunk(x, 2, -1)
                rotated = torch.cat([torch.neg(halves[1]), halves[0]], -1)
                return torch.add(torch.mul(x, cos), torch.mul(rotated, sin))
              def decode(self: __torch__.Kernels, ids: Tensor, wte: Tensor, positions: Tensor, weights: List[Tensor], keys: List[Tensor], values: List[Tensor], mask: Tensor, cos: Tensor, sin: Tensor, pos: int, n_heads: int, norm_first: bool, rms: bool, rotary: bool, add_positions: bool, causal: bool, act: int, eps: float, final_norm: bool, lnf_w: Tensor, lnf_b: Tensor, head: Tensor) -> Tensor:
                B = torch.size(ids, 0)
                T = torch.size(ids, 1)
                D = torch.size(wte, 1)
                x = torch.embedding(wte, ids)
                if add_positions:
                  x = torch.add(x, torch.narrow(positions, 0, pos, T))
                if rotary:
                  cos = torch.narrow(cos, 0, pos, T)
                  sin = torch.narrow(sin, 0, pos, T)
                # a single new token under a causal mask sees every cached position: no mask at all
                attn_mask: Optional[Tensor] = None
                if not causal:
                  attn_mask = mask
                elif T > 1:
                  attn_mask = torch.triu(torch.full([T, pos + T], float("-inf"), dtype=x.dtype, device=x.device), pos + 1)
                hd = D // n_heads
                for l in range(len(keys)):
                  i = 12 * l
                  a = x
                  if norm_first:
                    a = self.norm(x, weights[i], weights[i + 1], rms, eps)
                  # [B,T,3D] -> [B,T,3,H,hd] -> 3 x [B,H,T,hd]
                  qkv = torch.unbind(torch.permute(torch.reshape(torch.linear(a, weights[i + 2], weights[i + 3]), [B, T, 3, n_heads, hd]), [2, 0, 3, 1, 4]))
                  q = qkv[0]
                  k = qkv[1]
                  if rotary:
                    q = self.rope(q, cos, sin)
                    k = self.rope(k, cos, sin)
                  torch.copy_(torch.narrow(keys[l], 2, pos, T), k)
                  torch.copy_(torch.narrow(values[l], 2, pos, T), qkv[2])
                  K = torch.narrow(keys[l], 2, 0, pos + T)
                  V = torch.narrow(values[l], 2, 0, pos + T)
                  z = torch.reshape(torch.transpose(torch.scaled_dot_product_attention(q, K, V, attn_mask, 0.0, False), 1, 2), [B, T, D])
                  o = torch.linear(z, weights[i + 4], weights[i + 5])
                  if norm_first:
                    x = torch.add(x, o)
                    x = torch.add(x, self.mlp(self.norm(x, weights[i + 6], weights[i + 7], rms, eps), weights[i + 8], weights[i + 9], weights[i + 10], weights[i + 11], act))
                  else:
                    x = self.norm(torch.add(x, o), weights[i], weights[i + 1], rms, eps)
                    x = self.norm(torch.add(x, self.mlp(x, weights[i + 8], weights[i + 9], weights[i + 10], weights[i + 11], act)), weights[i + 6], weights[i + 7], rms, eps)
                if final_norm:
                  x = self.norm(x, lnf_w, lnf_b, rms, eps)
                return torch.linear(x, head)
              def clip_grad_norm(self: __torch__.Kernels, grads: List[Tensor], max_norm: float) -> Tensor:
                norms = torch._foreach_norm(grads, 2.)
                total = torch.linalg_vector_norm(torch.stack(norms), 2.)
                coef = torch.clamp(torch.mul(torch.reciprocal(torch.add(total, 1e-6)), max_norm), None, 1.)
                torch._foreach_mul_(grads, coef)
                return total
              def lm_head_loss(self: __torch__.Kernels, h: Tensor, w: Tensor, y: Tensor, mask: Tensor, block: int, need_grad: bool, bf16: bool, grad_scale: float) -> List[Tensor]:
                n = torch.size(h, 0)
                V = torch.size(w, 0)
                hm = h
                wm = w
                if bf16:
                  hm = torch.to(h, 15)
                  wm = torch.to(w, 15)
                m = torch.full([n], float("-inf"), dtype=h.dtype, device=h.device)
                s = torch.zeros([n], dtype=h.dtype, device=h.device)
                target = torch.zeros([n], dtype=h.dtype, device=h.device)
                kept: List[Tensor] = []
                maxes: List[Tensor] = []
                for start in range(0, V, block):
                  nb = min(block, V - start)
                  lb = torch.to(torch.matmul(hm, torch.t(torch.narrow(wm, 0, start, nb))), h.dtype)
                  hit = torch.logical_and(torch.ge(y, start), torch.lt(y, start + nb))
                  picked = torch.squeeze(torch.gather(lb, 1, torch.unsqueeze(torch.clamp(torch.sub(y, start), 0, nb - 1), 1)), 1)
                  target = torch.where(hit, picked, target)
                  m2 = torch.maximum(m, torch.amax(lb, [1]))
                  e = torch.exp_(torch.sub_(lb, torch.unsqueeze(m2, 1)))
                  s = torch.add(torch.mul(s, torch.exp(torch.sub(m, m2))), torch.sum(e, [1]))
                  m = m2
                  if need_grad:
                    kept.append(e)
                    maxes.append(m2)
                lse = torch.add(m, torch.log(s))
                loss = torch.sum(torch.mul(torch.sub(lse, target), mask))
                correct = torch.sum(torch.mul(torch.ge(target, m), mask))
                if not need_grad:
                  return [loss, correct]
                grad_h = torch.zeros_like(h)
                grad_w = torch.empty_like(w)
                rows = torch.mul(torch.unsqueeze(mask, 1), grad_scale)
                i = 0
                for start in range(0, V, block):
                  nb = min(block, V - start)
                  wb = torch.narrow(wm, 0, start, nb)
                  g = torch.mul_(kept[i], torch.unsqueeze(torch.exp(torch.sub(maxes[i], lse)), 1))
                  i = i + 1
                  hit = torch.unsqueeze(torch.to(torch.logical_and(torch.ge(y, start), torch.lt(y, start + nb)), h.dtype), 1)
                  g = torch.scatter_add_(g, 1, torch.unsqueeze(torch.clamp(torch.sub(y, start), 0, nb - 1), 1), torch.neg(hit))
                  g = torch.mul_(g, rows)
                  if bf16:
                    g16 = torch.to(g, 15)
                    grad_h = torch.add_(grad_h, torch.matmul(g16, wb))
                    torch.copy_(torch.narrow(grad_w, 0, start, nb), torch.matmul(torch.t(g16), hm))
                  else:
                    grad_h = torch.addmm_(grad_h, g, wb)
                    torch.copy_(torch.narrow(grad_w, 0, start, nb), torch.matmul(torch.t(g), h))
                return [loss, correct, grad_h, grad_w]
              def grads(self: __torch__.Kernels, objective: Tensor, params: List[Tensor]) -> List[Tensor]:
                gs = torch.autograd.grad([objective], params, None, None, False, True)
                out = annotate(List[Tensor], [])
                for i in range(torch.len(params)):
                  g = gs[i]
                  if torch.__is__(g, None):
                    _0 = torch.append(out, torch.zeros_like(params[i]))
                  else:
                    _1 = torch.append(out, unchecked_cast(Tensor, g))
                return out
              def adamw(self: __torch__.Kernels, params: List[Tensor], grads: List[Tensor], exp_avgs: List[Tensor], exp_avg_sqs: List[Tensor], step: Tensor, lr: float, beta1: float, beta2: float, weight_decay: float, eps: float) -> Tensor:
                steps: List[Tensor] = []
                for i in range(len(params)):
                  steps.append(step)
                torch._fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, annotate(List[Tensor], []), steps, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay, eps=eps, amsgrad=False, maximize=False)
                return step
            """;

    private static volatile boolean off = "off".equals(System.getProperty("tinker.kernels"));
    private static volatile boolean loaded;
    private static PtSymbolBlock module;
    private static Method runMethod;
    private static Object lib;
    private static Constructor<IValue> ivalueOf;

    /**
     * Whether the fused kernels loaded (once per process; false means: use the explicit ops). {@code -Dtinker.kernels=off}
     * turns them off, to compare against the explicit path.
     */
    public static boolean available() {
        if (off) return false;
        if (!loaded) load();
        return module != null;
    }

    /** Turns the fused kernels on or off for this process (the tests compare both paths). */
    public static void setEnabled(boolean enabled) {
        off = !enabled;
    }

    private static synchronized void load() {
        if (loaded) return;
        try {
            Path archive = Files.createTempFile("tinker-kernels", ".pt");
            archive.toFile().deleteOnExit();
            Files.write(archive, archive());
            PtNDManager base = (PtNDManager) NDManager.newBaseManager("PyTorch");
            module = JniUtils.loadModule(base, archive, false, new String[0], new String[0], false);
            // IValueUtils.runMethod always runs with autograd off; attention needs it on, so call the native method the
            // same way with is_train = the caller's grad mode.
            Class<?> libClass = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
            Field f = libClass.getDeclaredField("LIB");
            f.setAccessible(true);
            lib = f.get(null);
            runMethod = libClass.getDeclaredMethod("moduleRunMethod", long.class, String.class, long[].class, boolean.class, boolean.class);
            runMethod.setAccessible(true);
            ivalueOf = IValue.class.getDeclaredConstructor(long.class);
            ivalueOf.setAccessible(true);
            Files.deleteIfExists(archive);
        } catch (Exception | LinkageError e) {
            module = null;
            System.err.println("tinker: fused kernels unavailable (" + e.getMessage() + "); using the explicit ops");
        }
        loaded = true;
    }

    /**
     * Softmax attention {@code softmax(q·kᵀ/√hd + mask)·v} over {@code [B,H,T,hd]} inputs. With {@code mask} null the
     * kernel applies the causal mask itself (Tq = Tk); otherwise {@code mask} is an additive {@code [.., Tq, Tk]} mask.
     * Dropout on the pattern with probability {@code dropoutP}. The result lands in {@code q}'s manager.
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask, double dropoutP) {
        boolean grad = JniUtils.isGradMode();
        if (mask == null)
            return runTensor("causal_attention" + (Ops.autocastBf16(q) ? "_bf16" : ""), q, grad, IValue.from(Ops.pt(q)), IValue.from(Ops.pt(k)), IValue.from(Ops.pt(v)),
                    IValue.from(dropoutP));
        // An additive mask stays float32 even under autocast: SDPA wants the mask in the query's dtype, and ALiBi's
        // penalties (up to slope·T) would lose their fractional part in bfloat16.
        return runTensor("masked_attention", q, grad, IValue.from(Ops.pt(q)), IValue.from(Ops.pt(k)), IValue.from(Ops.pt(v)),
                IValue.from(Ops.pt(mask)), IValue.from(dropoutP));
    }

    /**
     * {@code x @ wᵀ + b} computed in bfloat16 (inputs cast on the way in, the result cast back to x's dtype), the
     * autocast treatment of a linear layer. Differentiable: the gradients reach x, w and b in their own dtype.
     */
    public static NDArray linearBf16(NDArray x, NDArray w, NDArray b) {
        boolean grad = JniUtils.isGradMode();
        if (b == null) return runTensor("linear_bf16_nobias", x, grad, IValue.from(Ops.pt(x)), IValue.from(Ops.pt(w)));
        return runTensor("linear_bf16", x, grad, IValue.from(Ops.pt(x)), IValue.from(Ops.pt(w)), IValue.from(Ops.pt(b)));
    }

    /**
     * The activations of {@code act} codes in the kernels ({@code mlp}, {@code mlp_bf16} and the decoding step), by
     * their config spelling.
     */
    public static final List<String> ACTIVATIONS = List.of("relu", "gelu", "gelu_new", "swiglu", "geglu", "relu2");

    /** The activation {@code activation} (one of {@link #ACTIVATIONS}) of {@code h}, as one kernel call. Differentiable. */
    public static NDArray activation(NDArray h, String activation) {
        return runTensor("activate", h, JniUtils.isGradMode(), IValue.from(Ops.pt(h)), IValue.from((long) code(activation)));
    }

    private static int code(String activation) {
        int act = ACTIVATIONS.indexOf(activation);
        if (act < 0) throw new IllegalArgumentException("activation " + activation + ": expected one of " + ACTIVATIONS);
        return act;
    }

    /**
     * The MLP {@code c_proj(drop(act(c_fc(x))))} in bfloat16, the autocast treatment of the whole sub-layer: x and the
     * weights cast on the way in, the {@code [.., ff]} hidden layer kept in bfloat16 from one matmul to the next (as under
     * torch.autocast, where the activation runs on c_fc's bfloat16 output), the result cast back to x's dtype. Two
     * separate {@link #linearBf16} calls would return the hidden layer in float32 and cast it back, forward and backward.
     * {@code activation}: one of {@link #ACTIVATIONS}; biases may be null; dropout on the hidden layer when
     * {@code dropoutP > 0}. Differentiable.
     */
    public static NDArray mlpBf16(NDArray x, NDArray fcW, NDArray fcB, NDArray projW, NDArray projB, String activation, double dropoutP) {
        return runTensor("mlp_bf16", x, JniUtils.isGradMode(), IValue.from(Ops.pt(x)), IValue.from(Ops.pt(fcW)), optional(fcB),
                IValue.from(Ops.pt(projW)), optional(projB), IValue.from((long) code(activation)), IValue.from(dropoutP));
    }

    /**
     * Causal self-attention {@code c_proj(attn(q, k, v))} from the fused {@code [3D, D]} projection {@code w} in
     * bfloat16, in one call: q, k, v, the attention output and its merged heads stay bfloat16 between the matmuls. With
     * {@code qkNorm} (RMS over each head, no weights) or rotary tables ({@code ropeCos, ropeSin [T,hd]}, null for none),
     * q and k take those steps in x's dtype, as the explicit path does. {@code x [B,T,D]}, the result {@code [B,T,D]}
     * in x's dtype; biases may be null; dropout on the pattern when {@code dropoutP > 0}. Differentiable.
     */
    public static NDArray attentionBf16(NDArray x, NDArray w, NDArray b, NDArray projW, NDArray projB, int nHeads, boolean qkNorm,
                                        double eps, NDArray ropeCos, NDArray ropeSin, double dropoutP) {
        IValue rope = ropeCos == null ? IValue.listFrom(new PtNDArray[0]) : IValue.listFrom(Ops.pt(ropeCos), Ops.pt(ropeSin));
        return runTensor("attention_bf16", x, JniUtils.isGradMode(), IValue.from(Ops.pt(x)), IValue.from(Ops.pt(w)), optional(b),
                IValue.from(Ops.pt(projW)), optional(projB), IValue.from((long) nHeads), IValue.from(qkNorm), IValue.from(eps), rope,
                IValue.from(dropoutP));
    }

    /** An optional tensor argument: a list of none or one. */
    private static IValue optional(NDArray a) {
        return a == null ? IValue.listFrom(new PtNDArray[0]) : IValue.listFrom(Ops.pt(a));
    }

    /**
     * {@code a·b} (torch.matmul, batched and broadcasting) computed in bfloat16 with float32 accumulation, the result
     * cast back to a's dtype: the bfloat16 mode of the engine TinT construction. Not differentiable here (no grad mode).
     */
    public static NDArray matmulBf16(NDArray a, NDArray b) {
        return runTensor("matmul_bf16", a, false, IValue.from(Ops.pt(a)), IValue.from(Ops.pt(b)));
    }

    /**
     * {@code steps} quintic Newton–Schulz steps {@code x ← a·x + (b·G + c·G²)·x}, {@code G = x·xᵀ}, on a normalised
     * {@code [r,c]} matrix (r ≤ c), as two fused multiply-adds a step (torch.addmm); in bfloat16 (the result cast back
     * to x's dtype) when {@code bf16}. Not differentiable (no grad mode): an optimizer's update.
     */
    public static NDArray newtonSchulz(NDArray x, int steps, double a, double b, double c, boolean bf16) {
        return runTensor("newton_schulz", x, false, IValue.from(Ops.pt(x)), IValue.from((long) steps), IValue.from(a),
                IValue.from(b), IValue.from(c), IValue.from(bf16));
    }

    /**
     * {@code reps} chained bfloat16 products {@code a·b·b·…} (cast once; chained so the TorchScript optimiser cannot
     * drop repeats), for measuring the bfloat16 matmul peak. Returns the sum of the result.
     */
    public static NDArray bf16Matmuls(NDArray a, NDArray b, int reps) {
        return runTensor("bf16_matmuls", a, false, IValue.from(Ops.pt(a)), IValue.from(Ops.pt(b)), IValue.from((long) reps));
    }

    /**
     * Scales {@code grads} in place so their global L2 norm is at most {@code maxNorm} (torch's clip_grad_norm_ with
     * the same 1e-6), in two fused multi-tensor kernels. Returns the norm before clipping.
     */
    public static double clipGradNorm(List<NDArray> grads, double maxNorm) {
        IValue list = IValue.listFrom(grads.stream().map(Ops::pt).toArray(PtNDArray[]::new));
        NDArray total = runTensor("clip_grad_norm", grads.get(0), false, list, IValue.from(maxNorm));
        try (total) {
            return total.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
        }
    }

    /**
     * One AdamW step for all {@code params} in one multi-tensor kernel (torch's {@code _fused_adamw_}, the update of
     * torch.optim.AdamW(fused=True)), in place on params and moments. {@code step} is a scalar float tensor holding
     * the step number t ≥ 1 (bias corrections 1 − β^t).
     */
    public static void adamw(List<NDArray> params, List<NDArray> grads, List<NDArray> expAvgs, List<NDArray> expAvgSqs,
                             NDArray step, double lr, double beta1, double beta2, double weightDecay, double eps) {
        IValue[] in = {list(params), list(grads), list(expAvgs), list(expAvgSqs), IValue.from(Ops.pt(step)),
                IValue.from(lr), IValue.from(beta1), IValue.from(beta2), IValue.from(weightDecay), IValue.from(eps)};
        runTensor("adamw", step, false, in).close();
    }

    /**
     * The gradients of the scalar {@code objective} with respect to {@code params}, as new tensors in {@code into}
     * ({@code torch.autograd.grad}; zeros for a parameter the objective does not depend on): unlike a backward into the
     * parameters' {@code .grad}, nothing stays allocated once the caller closes them. The graph is freed on the way,
     * each saved tensor as the backward passes it.
     */
    public static List<NDArray> grads(NDArray objective, List<NDArray> params, NDManager into) {
        return runList("grads", into, true, IValue.from(Ops.pt(objective)), list(params));
    }

    /**
     * The language-model head and its cross-entropy in one pass over vocabulary blocks, without the {@code [N,V]}
     * logits tensor: for each block of {@code block} rows of {@code w}, the logits block is computed and folded into a
     * running log-sum-exp (flash-attention style: each block's exponentials are taken against the running maximum).
     * When a gradient is needed those exponentials are kept, and a second sweep rescales each block into its share of
     * dCE/dlogits = mask·(softmax − onehot) (one multiply, no second exp) and multiplies it straight into the
     * gradients of {@code h} and {@code w}. On a 10k vocabulary this replaces the log-softmax, gather, argmax and
     * their backward passes over an 80 MB array (and the logits' own gradient array) with per-block work.
     *
     * @param h    {@code [N,D]} final hidden states
     * @param w    {@code [V,D]} the head (the tied embedding or lm_head)
     * @param y    {@code [N]} int64 targets
     * @param mask {@code [N]} weight of each row's loss (1/0)
     * @param bf16 the matmuls in bfloat16 (log-sum-exp, softmax and the gradients' accumulation stay in h's dtype)
     * @param gradScale the gradients are those of {@code gradScale × Σ mask·CE} (1/tokens for a mean loss: scaled
     *                  on the way, not by another pass over the [V,D] gradient)
     * @return {@code [Σ mask·CE, Σ mask·(argmax = y)]}, then when {@code needGrad} {@code d/dh} and {@code d/dw} of
     *         {@code gradScale} times the first; all land in {@code h}'s manager. A row counts as correct when its target's logit is the row's
     *         maximum (with exact ties, torch's argmax would pick the lower id; ties do not occur in float training).
     */
    public static List<NDArray> lmHeadLoss(NDArray h, NDArray w, NDArray y, NDArray mask, int block, boolean needGrad, boolean bf16,
                                           double gradScale) {
        // h and w detached, and the kernel run in grad mode when the caller records: nothing in it is recorded (no input
        // requires a gradient), and its results are ordinary tensors that autograd may save (the caller's surrogate
        // multiplies by them); run outside grad mode they would be inference tensors, which it may not
        NDArray hd = h.stopGradient(), wd = w.stopGradient();
        IValue[] in = {IValue.from(Ops.pt(hd)), IValue.from(Ops.pt(wd)), IValue.from(Ops.pt(y)), IValue.from(Ops.pt(mask)),
                IValue.from((long) block), IValue.from(needGrad), IValue.from(bf16), IValue.from(gradScale)};
        try {
            return runList("lm_head_loss", h, JniUtils.isGradMode(), in);
        } finally {
            hd.close();
            wd.close();
        }
    }

    /**
     * Runs the TorchScript {@code decode} method (one incremental-decoding step of every layer; its argument layout is
     * documented at the method) and returns its logits in {@code into}.
     */
    public static NDArray decode(IValue[] args, NDManager into) {
        try (IValue result = run("decode", false, args)) {
            return result.toTensor((PtNDManager) into);
        }
    }

    /** A TorchScript list of tensors. */
    public static IValue list(List<NDArray> xs) {
        return IValue.listFrom(xs.stream().map(Ops::pt).toArray(PtNDArray[]::new));
    }

    private static NDArray runTensor(String method, NDArray owner, boolean grad, IValue... in) {
        try (IValue result = run(method, grad, in)) {
            return result.toTensor((PtNDManager) owner.getManager());
        } finally {
            for (IValue v : in) v.close();
        }
    }

    private static List<NDArray> runList(String method, NDArray owner, boolean grad, IValue... in) {
        return runList(method, owner.getManager(), grad, in);
    }

    private static List<NDArray> runList(String method, NDManager into, boolean grad, IValue... in) {
        try (IValue result = run(method, grad, in)) {
            return List.of(result.toTensorArray((PtNDManager) into));
        } finally {
            for (IValue v : in) v.close();
        }
    }

    private static IValue run(String method, boolean grad, IValue... in) {
        if (!available()) throw new IllegalStateException("fused kernels unavailable");
        long[] handles = new long[in.length];
        for (int i = 0; i < in.length; i++) handles[i] = in[i].getHandle();
        try {
            long out = (Long) runMethod.invoke(lib, module.getHandle(), method, handles, grad, false);
            return ivalueOf.newInstance(out);
        } catch (ReflectiveOperationException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            if (cause instanceof RuntimeException re) throw re;
            throw new IllegalStateException(cause);
        }
    }

    /** The TorchScript archive: a stored (uncompressed) zip, as torch.jit.save writes it. */
    public static byte[] archive() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            // The file-format version decides which operator schemas the importer assumes: below 10 it upgrades the
            // source to old signatures (gelu without approximate=, ...), so say 10, as torch 2.x writes it.
            stored(zip, "kernels/version", "10\n".getBytes(StandardCharsets.US_ASCII));
            stored(zip, "kernels/code/__torch__.py", SOURCE.getBytes(StandardCharsets.UTF_8));
            stored(zip, "kernels/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // pickle of ()
            stored(zip, "kernels/data.pkl", modulePickle());
        }
        return bytes.toByteArray();
    }

    /** Pickle (protocol 2) of one {@code __torch__.Kernels} object whose state is {"training": False}. */
    private static byte[] modulePickle() throws IOException {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(new byte[] {(byte) 0x80, 2});
        p.write("c__torch__\nKernels\n".getBytes(StandardCharsets.US_ASCII)); // GLOBAL
        p.write(new byte[] {')', (byte) 0x81, '}', '('});                    // EMPTY_TUPLE NEWOBJ EMPTY_DICT MARK
        byte[] key = "training".getBytes(StandardCharsets.US_ASCII);
        p.write('X');                                                        // BINUNICODE, 4-byte little-endian length
        p.write(new byte[] {(byte) key.length, 0, 0, 0});
        p.write(key);
        p.write(new byte[] {(byte) 0x89, 'u', 'b', '.'});                     // NEWFALSE SETITEMS BUILD STOP
        return p.toByteArray();
    }

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        e.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        e.setTime(315532800000L + 86400000L); // fixed timestamp: the archive is byte-identical on every run
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }
}
