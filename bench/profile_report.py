#!/usr/bin/env python3
"""Where a training step's time goes, per op, from Chrome traces of libtorch's profiler, side by side.

    python3 bench/profile_report.py [--steps N] [--top K] NAME=TRACE [NAME=TRACE ...]

TRACEs come from `runner bench --profile=TRACE --profile-steps=N` (tinker) and `bench/torch_bench.py --profile=TRACE
--profile-steps=N` (PyTorch); both record the same aten ops through libtorch's profiler. For each trace: the wall time
of a step on the thread that ran it, the share of it spent inside ops and outside them (the host's own work between
ops: Java and JNI for tinker, the Python interpreter for PyTorch), and each op's self time (its time less that of the
ops it called) per step, grouped by what the op does and then the top ops one by one. Times include the profiler's
own cost per op (a few microseconds), which weighs most on small ops; compare shares, and the speeds of runs without
a profiler.
"""
import argparse
import json
import re
import sys
from collections import defaultdict

GROUPS = [  # (group, pattern on the op name); the first match wins
    ("matmul", r"aten::(addmm|mm|bmm|matmul|linear|baddbmm|addbmm|_mkldnn|mkldnn_)|aten::_addmm|onednn|mkl"),
    ("attention", r"scaled_dot_product|flash_attention|_efficient_attention|_safe_softmax"),
    ("cast / copy", r"aten::(to|_to_copy|copy_|clone|contiguous|_copy_from|empty_like|zeros_like)$"),
    ("optimizer", r"_fused_adamw|_foreach|adam"),
    ("loss", r"cross_entropy|log_softmax|nll_loss|_log_softmax"),
    ("norm", r"layer_norm|rms_norm|native_layer_norm"),
    ("views / shapes", r"aten::(view|reshape|_reshape_alias|as_strided|slice|select|t|transpose|permute|expand|"
                       r"unsqueeze|squeeze|split|chunk|unbind|narrow|split_with_sizes|unsafe_split|detach|alias|"
                       r"_unsafe_view|numpy_T|resolve_conj|resolve_neg|lift_fresh|result_type|stride|size)$"),
    ("allocation", r"aten::(empty|empty_strided|resize_|zero_|zeros|fill_|ones|full|new_empty|new_zeros)"),
    ("autograd bookkeeping", r"^autograd::|AccumulateGrad|Backward\d*$|^torch::autograd"),
]


def group_of(name):
    for g, pat in GROUPS:
        if re.search(pat, name):
            return g
    return "elementwise / other"


def load(path):
    with open(path) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    # DJL's trace has no categories; torch.profiler's marks aten ops "cpu_op" (and adds annotations and flow arrows)
    return [e for e in events if e.get("ph") == "X" and e.get("cat") in (None, "cpu_op") and "dur" in e]


def analyse(path):
    by_thread = defaultdict(list)
    for e in load(path):
        by_thread[(e.get("pid"), e.get("tid"))].append((float(e["ts"]), float(e["dur"]), e["name"]))
    if not by_thread:
        sys.exit(f"profile_report.py: {path}: no op events (expected a Chrome trace of libtorch's profiler)")
    # the thread that ran the step holds most of the ops (the autograd engine runs CPU backward on the caller's thread)
    events = max(by_thread.values(), key=len)
    events.sort(key=lambda t: (t[0], -t[1]))
    self_us, calls = defaultdict(float), defaultdict(int)
    stack = []  # [end, name, child time]
    in_ops = 0.0

    def pop():
        end, name, start, child = stack.pop()
        self_us[name] += (end - start) - child
        if stack:
            stack[-1][3] += end - start

    for ts, dur, name in events:
        while stack and ts >= stack[-1][0] - 1e-3:
            pop()
        if not stack:
            in_ops += dur
        stack.append([ts + dur, name, ts, 0.0])
        calls[name] += 1
    while stack:
        pop()
    span = max(ts + dur for ts, dur, _ in events) - events[0][0]
    return {"span": span, "in_ops": in_ops, "self": self_us, "calls": calls}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("traces", nargs="+", metavar="NAME=TRACE")
    ap.add_argument("--steps", type=int, default=10, help="steps each trace covers (default 10, as --profile-steps)")
    ap.add_argument("--top", type=int, default=25, help="ops to list one by one (default 25)")
    a = ap.parse_args()
    names, results = [], []
    for t in a.traces:
        name, _, path = t.partition("=") if "=" in t else (t, "", t)
        names.append(name)
        results.append(analyse(path))
    ms = lambda us: us / 1000 / a.steps
    w = max(28, *(len(n) + 2 for n in names))
    print(f"per step, {a.steps} profiled steps each (ms; % of the step's wall time)")
    print(f"{'':36}" + "".join(f"{n:>{w}}" for n in names))

    def row(label, values):
        print(f"{label:36}" + "".join(f"{v:>{w}}" for v in values))

    row("wall time of a step", [f"{ms(r['span']):.1f}" for r in results])
    row("  inside ops", [f"{ms(r['in_ops']):.1f} ({100 * r['in_ops'] / r['span']:.0f}%)" for r in results])
    row("  outside ops (host work)", [f"{ms(r['span'] - r['in_ops']):.1f} ({100 * (1 - r['in_ops'] / r['span']):.0f}%)"
                                      for r in results])
    row("  ops called", [f"{sum(r['calls'].values()) / a.steps:,.0f}" for r in results])
    print("\nself time by kind of op")
    groups = defaultdict(lambda: [0.0] * len(results))
    for i, r in enumerate(results):
        for op, us in r["self"].items():
            groups[group_of(op)][i] += us
    for g, v in sorted(groups.items(), key=lambda kv: -max(kv[1])):
        row("  " + g, [f"{ms(x):.1f} ({100 * x / r['span']:.0f}%)" for x, r in zip(v, results)])
    print(f"\ntop {a.top} ops by self time (ms per step, calls per step)")
    ops = set().union(*(r["self"] for r in results))
    for op in sorted(ops, key=lambda o: -max(r["self"].get(o, 0) for r in results))[:a.top]:
        row("  " + (op if len(op) <= 34 else op[:31] + "..."),
            [f"{ms(r['self'].get(op, 0)):.2f} x{r['calls'].get(op, 0) / a.steps:.0f}" for r in results])


if __name__ == "__main__":
    main()
