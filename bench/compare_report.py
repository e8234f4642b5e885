"""Records and tables of `bench/compare.sh` (standard library only).

  compare_report.py --record FILE --pair N --line L   appends torch_bench.py's JSON line L with its pair, prints a row
  compare_report.py --record FILE --pair N --tinker F  the same for `runner bench`'s figures file F
  compare_report.py FILE                               the tables: per config, pair and contestant, then per config
                                                       and precision tinker / the fastest PyTorch mode
"""
import argparse, json, statistics, sys


def from_tinker(path):
    d = json.load(open(path))
    return {"contestant": "tinker", "mode": "runner", "precision": d["precision"], "config": d["config"], "steps": d["steps"],
            "tokens_per_sec": d["medianTokensPerSec"], "min": d["minTokensPerSec"], "max": d["maxTokensPerSec"],
            "compile_s": None, "flops_per_token": d["flopsPerToken"], "achieved_gflops": d["achievedGflops"],
            "matmul_peak_gflops": d["matmulPeakGflops"], "mfu": d["mfu"], "peak_rss_mb": d["peakRssMb"],
            "parameters": d["parameters"], "threads": d["threads"], "process": d["process"]}


def name(r):
    return f"{r['contestant']} {'' if r['mode'] == 'runner' else r['mode'] + ' '}{r['precision']}"


def row(r):
    extra = f"  compile {r['compile_s']:.1f} s" if r.get("compile_s") is not None else ""
    return (f"{name(r):<22} {r['tokens_per_sec']:>9,.0f}  ({r['min']:>7,.0f} – {r['max']:>7,.0f})  {100 * r['mfu']:>4.0f}% of "
            f"{r['matmul_peak_gflops']:>6,.0f}  {r['peak_rss_mb']:>7,.0f} MB{extra}")


def table(records):
    out = []
    steps = sorted({r["steps"] for r in records})
    torch_backends = [r for r in records if r["contestant"] == "pytorch"]
    if torch_backends:
        t = torch_backends[0]
        b = t["backend"]
        out.append(f"PyTorch {t['torch']}: BLAS {b['blas']} (MKL {b['mkl']}, available: {b['mkl_available']}), oneDNN {b['onednn']} "
                   f"(available: {b['mkldnn_available']}), CPU capability {b['cpu_capability']}, {b['parallel']} threads; "
                   f"AdamW {', '.join(sorted({r['optimizer'] for r in torch_backends}))}")
    if any(s < 10 for s in steps):
        out.append(f"SMOKE RUN ({', '.join(map(str, steps))} steps): every window is a single step; these figures show that everything runs, not how fast")
    for config in dict.fromkeys(r["config"] for r in records):
        rs = [r for r in records if r["config"] == config]
        params = {r["contestant"]: r["parameters"] for r in rs}
        flops = {r["contestant"]: r["flops_per_token"] for r in rs}
        same = len(set(params.values())) == 1 and len(set(flops.values())) == 1
        out.append(f"\n{config}: " + ", ".join(f"{c} {p:,} parameters" for c, p in params.items())
                   + f", {max(flops.values()) / 1e6:,.1f} MFLOP/token" + ("" if same else "  (!! the models differ: "
                                                                          + str(flops) + ")"))
        out.append(f"  pair  {'contestant':<22} {'tokens/s':>9}  {'(min – max)':^21}  {'MFU of GFLOP/s':<14}  peak RSS")
        for r in rs:
            out.append(f"  {r['pair']:>4}  {row(r)}")
        for precision in dict.fromkeys(r["precision"] for r in rs):
            at = [r for r in rs if r["precision"] == precision]
            tinker = [r for r in at if r["contestant"] == "tinker"]
            modes = {r["mode"] for r in at if r["contestant"] == "pytorch"}
            if not tinker or not modes:
                continue
            mean = lambda mode: statistics.mean(r["tokens_per_sec"] for r in at if r["contestant"] == "pytorch" and r["mode"] == mode)
            best = max(modes, key=mean)
            per_pair = []
            for t in tinker:
                p = [r for r in at if r["contestant"] == "pytorch" and r["mode"] == best and r["pair"] == t["pair"]]
                if p:
                    per_pair.append(f"{t['tokens_per_sec'] / p[0]['tokens_per_sec']:.2f}x (pair {t['pair']})")
            t_mean = statistics.mean(r["tokens_per_sec"] for r in tinker)
            out.append(f"  {precision}: tinker / best PyTorch ({best}, ahead of {', '.join(sorted(modes - {best})) or 'nothing'}) = "
                       f"{t_mean / mean(best):.2f}x over the pairs' means; " + ", ".join(per_pair))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--pair", type=int)
    ap.add_argument("--line", help="torch_bench.py's JSON line")
    ap.add_argument("--tinker", help="runner bench's --json file")
    a = ap.parse_args()
    if a.record:
        r = from_tinker(a.tinker) if a.tinker else json.loads(a.line)
        r["pair"] = a.pair
        with open(a.file, "a") as f:
            f.write(json.dumps(r) + "\n")
        print(f"  {r['config']} pair {a.pair}: {row(r)}", flush=True)
        return
    with open(a.file) as f:
        print(table([json.loads(l) for l in f if l.strip()]))


if __name__ == "__main__":
    sys.exit(main())
