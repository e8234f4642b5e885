"""PyTorch eager reference of tinker's benchmark models, for `bench/compare.sh`.

The same function as tinker's torch-transformer block with norm_first=True and activation="gelu":
token + learned position embeddings -> L pre-norm blocks (fused qkv, causal softmax attention, GELU MLP)
-> final LayerNorm -> untied head; AdamW (weight decay 0), the same batch shape, random token ids.
Prints one JSON line with the median tokens/s of the timed windows.
"""
import argparse, json, math, os, time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    # name: vocab, layers, heads, dim, ff, T, batch
    "bench-char": dict(vocab=69, layers=4, heads=4, dim=256, ff=1024, T=256, batch=16),
    "bench-ptb": dict(vocab=10003, layers=2, heads=4, dim=128, ff=512, T=64, batch=32),
}


class Block(nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
        self.h = h
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, ff), nn.Linear(ff, d)

    def forward(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).view(b, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        att = (q * (1.0 / math.sqrt(d // self.h))) @ k.transpose(-2, -1) + mask[:t, :t]
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class LM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(c["vocab"], c["dim"]), nn.Embedding(c["T"], c["dim"])
        self.h = nn.ModuleList(Block(c["dim"], c["heads"], c["ff"]) for _ in range(c["layers"]))
        self.ln_f, self.head = nn.LayerNorm(c["dim"]), nn.Linear(c["dim"], c["vocab"], bias=False)
        self.register_buffer("mask", torch.full((c["T"], c["T"]), float("-inf")).triu(1))

    def forward(self, ids):
        x = self.wte(ids) + self.wpe.weight[: ids.shape[1]]
        for blk in self.h:
            x = blk(x, self.mask)
        return self.head(self.ln_f(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, choices=sorted(CONFIGS))
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    c = CONFIGS[a.config]
    model = LM(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    ids = torch.randint(0, c["vocab"], (c["batch"], c["T"] + 1))
    ends, tokens = [], c["batch"] * c["T"]
    for step in range(a.steps):
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, c["vocab"]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        ends.append(time.perf_counter())
    warm = max(3, a.steps // 10)
    per = max(1, (a.steps - 1 - warm) // 5)
    rates = sorted(per * tokens / (ends[warm + (w + 1) * per] - ends[warm + w * per]) for w in range(5))
    blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower()})
    print(json.dumps({"impl": "pytorch-eager", "torch": torch.__version__, "config": a.config, "threads": torch.get_num_threads(),
                      "blas": blas, "median_tokens_per_sec": rates[2], "min": rates[0], "max": rates[-1]}))


if __name__ == "__main__":
    main()
