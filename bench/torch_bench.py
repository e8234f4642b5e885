"""PyTorch 2.x reference of tinker's benchmark models, for `bench/compare.sh`.

The function of tinker's torch-transformer block with norm_first=True, written as a PyTorch user writes it today:
token + learned position embeddings -> L pre-norm blocks (one fused qkv Linear split in three,
F.scaled_dot_product_attention with is_causal=True, GELU MLP) -> final LayerNorm -> head (untied, or tied to the
token embedding where the config ties it). GPT-2's init, as tinker's: N(0, 0.02), the residual projections
N(0, 0.02/sqrt(2L)), zero biases. Training as tinker's defaults and the config say: cross-entropy over every target
token, the global gradient norm clipped to 0.5, AdamW (0.9, 0.999, eps 1e-8, no weight decay; fused=True where this
torch has the fused CPU kernel, else foreach), lr warmed up linearly from lr/warm, then cosine to 1e-7 over 500
steps. Random token ids: the speed of these ops does not depend on the values.

--mode eager|compile (torch.compile of the model; the first step, which compiles, is reported as compile_s and is
never in a timed window), --precision fp32|bf16 (torch.autocast("cpu", dtype=torch.bfloat16) around forward and loss).
Prints one JSON line: steady-state tokens/s timed as tinker's `runner bench` times it (the same warm-up and windows),
MFU by tinker's FLOP formula against the matmul peak of the same precision measured here as tinker measures it,
peak RSS, and what torch computes with (MKL, oneDNN, CPU capability).
"""
import argparse, json, math, re, time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    # configs/NAME.txt as tinker builds it: vocab (tinker's tokenizer on that data), layers, heads, width, feed-forward,
    # context T, batch, peak lr, warm-up steps, GELU approximation ("none" = gelu, "tanh" = gelu_new), tied head
    "bench-char": dict(vocab=69, layers=4, heads=4, dim=256, ff=1024, T=256, batch=16, lr=1e-3, warm=10, gelu="none", tied=False),
    "bench-ptb": dict(vocab=10002, layers=2, heads=4, dim=128, ff=512, T=64, batch=32, lr=1e-3, warm=10, gelu="none", tied=False),
    "bench-gpt2s": dict(vocab=50257, layers=12, heads=12, dim=768, ff=3072, T=256, batch=8, lr=6e-4, warm=10, gelu="tanh", tied=True),
}
# tinker's defaults that the configs keep: clipping, cosine schedule, its floor, Adam's betas and eps
CLIP, COSINE_STEPS, MIN_LR, BETAS, EPS = 0.5, 500, 1e-7, (0.9, 0.999), 1e-8


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head = c["heads"]
        self.c_attn = nn.Linear(c["dim"], 3 * c["dim"])
        self.c_proj = nn.Linear(c["dim"], c["dim"])

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # [B, T, C] -> [B, n_head, T, head_dim]
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))  # heads side by side again: [B, T, C]


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc, self.c_proj = nn.Linear(c["dim"], c["ff"]), nn.Linear(c["ff"], c["dim"])
        self.approximate = c["gelu"]

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate=self.approximate))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(c["dim"]), CausalSelfAttention(c)
        self.ln_2, self.mlp = nn.LayerNorm(c["dim"]), MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(c["vocab"], c["dim"]), nn.Embedding(c["T"], c["dim"])
        self.h = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.ln_f = nn.LayerNorm(c["dim"])
        self.lm_head = nn.Linear(c["dim"], c["vocab"], bias=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # the residual projections, scaled down by depth as GPT-2's
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * c["layers"]))
        if c["tied"]:
            self.lm_head.weight = self.wte.weight

    @staticmethod
    def _init_weights(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe.weight[: idx.shape[1]]
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def flops_per_token(c):
    """tinker's Benchmark.flopsPerToken: 6 per matmul weight (head counted, embeddings not) + 12*L*T*D for attention."""
    d, ff = c["dim"], c["ff"]
    return 6.0 * (c["layers"] * (4 * d * d + 2 * d * ff) + c["vocab"] * d) + 12.0 * c["layers"] * c["T"] * d


def steady_rates(step_end, tokens, steps):
    """tinker's windows: drop the first 10% (at least 3 steps; a smoke run of under 4 keeps its last), then at least 5."""
    warm = min(max(3, steps // 10), steps - 1)
    windows = max(5, min(20, (steps - warm) // 10))
    per = max(1, (steps - warm) // windows)
    return sorted(per * tokens / (step_end[warm + (w + 1) * per] - step_end[warm + w * per])
                  for w in range(windows) if warm + (w + 1) * per <= steps)


def matmul_peak_gflops(bf16):
    """As tinker measures it: fp32, best of 3 rounds over 512..2048 squares; bf16, best of 3 rounds of 8 chained 2048^2."""
    best = 0.0
    if bf16:
        n = 2048
        a, b = torch.randn(n, n).bfloat16(), (torch.randn(n, n) / math.sqrt(n)).bfloat16()  # keeps a.b^k finite
        for reps in (2, 8, 8, 8):  # the first is the warm-up
            t0 = time.perf_counter()
            c = a
            for _ in range(reps):
                c = c @ b
            c.sum().item()
            if reps == 8:
                best = max(best, 2.0 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9)
        return best
    sizes = (512, 1024, 2048)
    mats = [(torch.randn(n, n), torch.randn(n, n)) for n in sizes]
    for a, b in mats:
        a @ b  # warm-up
    for _ in range(3):  # rounds interleave the sizes, so one slow moment spoils one timing
        for n, (a, b) in zip(sizes, mats):
            reps = 3 if n >= 2048 else 10
            t0 = time.perf_counter()
            for _ in range(reps):
                a @ b
            best = max(best, 2.0 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9)
    return best


def backend():
    """What this torch computes with: its BLAS, MKL and oneDNN versions, the CPU kernels it picked."""
    text = torch.__config__.show() + torch.__config__.parallel_info()
    line = lambda pattern: next((m.group(1) for m in [re.search(pattern, text)] if m), None)
    return {"blas": line(r"BLAS_INFO=([^,]+)"), "mkl": line(r"Math Kernel Library Version ([\d.]+)"),
            "onednn": line(r"MKL-DNN (v[\d.]+)"), "cpu_capability": line(r"CPU capability usage: (\S+)"),
            "mkl_available": torch.backends.mkl.is_available(), "mkldnn_available": torch.backends.mkldnn.is_available(),
            "parallel": line(r"ATen parallel backend: (\S+)")}


def peak_rss_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:"))


def adamw(params, lr):
    """AdamW with the fused CPU kernel where this torch has it, else foreach; says which."""
    kw = dict(lr=lr, betas=BETAS, eps=EPS, weight_decay=0.0)
    try:
        return torch.optim.AdamW(params, fused=True, **kw), "fused"
    except (RuntimeError, ValueError, TypeError) as e:
        return torch.optim.AdamW(params, foreach=True, **kw), f"foreach (fused refused: {e})"


def lr_factor(step, c):
    """tinker's LrSchedule (Cosine) as a factor of the peak lr for optimizer step `step` (0-based)."""
    if step < c["warm"]:
        return (step + 1) / c["warm"]
    t = min(step - c["warm"], COSINE_STEPS)
    return (MIN_LR + (c["lr"] - MIN_LR) * 0.5 * (1 + math.cos(math.pi * t / COSINE_STEPS))) / c["lr"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, choices=sorted(CONFIGS))
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", choices=("eager", "compile"), default="eager")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--profile", metavar="TRACE", help="after the timed steps, record torch's ops over --profile-steps more "
                    "into this Chrome trace (bench/profile_report.py sums it per op, beside tinker's)")
    ap.add_argument("--profile-steps", type=int, default=10)
    a = ap.parse_args()
    if a.steps < 2:
        ap.error("--steps: expected at least 2 (a warm-up step and a timed one)")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    c = CONFIGS[a.config]
    model = GPT(c)
    opt, optimizer = adamw(model.parameters(), c["lr"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, c))
    forward = torch.compile(model) if a.mode == "compile" else model
    bf16 = a.precision == "bf16"
    gen = torch.Generator().manual_seed(0)
    tokens = c["batch"] * c["T"]
    t_start = time.perf_counter()
    step_end = [t_start]  # step_end[i]: the end of optimizer step i
    profiler = None
    for step in range(a.steps + (a.profile_steps if a.profile else 0)):
        if step == a.steps:  # the profiled steps come after the timed ones: its overhead stays out of the figures
            profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True)
            profiler.__enter__()
        ids = torch.randint(0, c["vocab"], (c["batch"], c["T"] + 1), generator=gen)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = forward(ids[:, :-1], ids[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # the loss is read every step, as tinker's trainer logs it
        if step < a.steps:
            step_end.append(time.perf_counter())
    if profiler is not None:
        profiler.__exit__(None, None, None)
        profiler.export_chrome_trace(a.profile)
    rates = steady_rates(step_end, tokens, a.steps)
    median = rates[len(rates) // 2]
    peak = matmul_peak_gflops(bf16)
    flops = flops_per_token(c)
    print(json.dumps({
        "contestant": "pytorch", "mode": a.mode, "precision": a.precision, "config": a.config, "steps": a.steps,
        "tokens_per_sec": median, "min": rates[0], "max": rates[-1], "first_step_s": step_end[1] - step_end[0],
        "compile_s": step_end[1] - step_end[0] if a.mode == "compile" else None,
        "flops_per_token": flops, "achieved_gflops": median * flops / 1e9, "matmul_peak_gflops": peak,
        "mfu": median * flops / 1e9 / peak, "peak_rss_mb": peak_rss_mb(), "parameters": sum(p.numel() for p in model.parameters()),
        "optimizer": optimizer, "threads": torch.get_num_threads(), "torch": torch.__version__, "backend": backend()}))


if __name__ == "__main__":
    main()
