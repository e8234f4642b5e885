#!/usr/bin/env bash
# Side-by-side training speed: PyTorch eager (Debian's python3-torch on OpenBLAS), tinker's trainer
# (`runner bench`, the normal runner path; fp32, then precision=bf16) and a bare DJL loop, run alternately on the
# same machine.
#   bench/compare.sh [pairs=2] [steps=60]
# Needs: apt-get install python3-torch libopenblas0-pthread   (Debian's torch otherwise uses the slow reference BLAS)
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-2}; steps=${2:-60}
py3=${PYTHON:-/usr/bin/python3}   # Debian's python, where python3-torch lives
"$py3" -c "import torch" 2>/dev/null || { echo "compare.sh: python3-torch missing: apt-get install python3-torch libopenblas0-pthread" >&2; exit 2; }
obl=/usr/lib/x86_64-linux-gnu/openblas-pthread
[[ -f $obl/libblas.so.3 ]] || { echo "compare.sh: OpenBLAS missing: apt-get install libopenblas0-pthread" >&2; exit 2; }
[[ -f target/runner.jar && -z "$(find pom.xml src/main -newer target/runner.jar -print -quit)" ]] || mvn -q -B -DskipTests package
mkdir -p target/bench-bare && javac -d target/bench-bare -cp "target/runner.jar:target/lib/*" bench/BareLoop.java
# Every contestant gets ./runner's thread and allocator settings (a brief OpenMP spin before sleeping, two arenas).
# TINKER_LAUNCHED=1: the settings are made here (JVM options on the java lines), so the jar does not start itself again.
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 GOMP_SPINCOUNT=2000 MALLOC_ARENA_MAX=2 TORCH_CPP_LOG_LEVEL=ERROR TINKER_LAUNCHED=1
unset OMP_WAIT_POLICY
out=target/bench-compare.jsonl; : > "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
for config in bench-char bench-ptb; do
  for ((i = 1; i <= pairs; i++)); do
    py=$(LD_LIBRARY_PATH=$obl "$py3" bench/torch_bench.py --config=$config --steps=$steps --threads=2)
    java -XX:+UseSerialGC -Xmn32m -Dai.djl.offline=true -jar target/runner.jar bench --config=$config --steps=$steps --json=target/bench-$config.json >/dev/null
    java -XX:+UseSerialGC -Xmn32m -Dai.djl.offline=true -jar target/runner.jar bench --config=$config --steps=$steps --set TrainParams.precision=bf16 --json=target/bench-$config-bf16.json >/dev/null
    summary() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(json.dumps({'impl':sys.argv[2],'config':'$config','median_tokens_per_sec':d['medianTokensPerSec'],'min':d['minTokensPerSec'],'max':d['maxTokensPerSec'],'mfu':d['mfu'],'matmul_peak_gflops':d['matmulPeakGflops'],'precision':d['precision']}))" "$@"; }
    tk=$(summary target/bench-$config.json tinker)
    tk16=$(summary target/bench-$config-bf16.json tinker-bf16)
    bare=$(java -Dai.djl.offline=true -cp "target/bench-bare:target/runner.jar:target/lib/*" BareLoop $config $steps)
    printf '%s\n%s\n%s\n%s\n' "$py" "$tk" "$tk16" "$bare" >> "$out"
    python3 - "$py" "$tk" "$bare" "$tk16" "$i" <<'PY'
import json, sys
py, tk, bare, tk16 = (json.loads(a) for a in sys.argv[1:5])
print(f"{tk['config']:<11} pair {sys.argv[5]}: pytorch {py['median_tokens_per_sec']:>8,.0f} tok/s (blas {','.join(b.rsplit('/',1)[-1] for b in py['blas'] if 'openblas' in b or 'libblas' in b) or '?'})"
      f" | tinker {tk['median_tokens_per_sec']:>8,.0f} tok/s (MFU {100*tk['mfu']:.0f}% of {tk['matmul_peak_gflops']:.0f} GFLOP/s)"
      f" | bare DJL {bare['median_tokens_per_sec']:>8,.0f} tok/s"
      f" | tinker/pytorch {tk['median_tokens_per_sec']/py['median_tokens_per_sec']:.2f}x, tinker/bare {tk['median_tokens_per_sec']/bare['median_tokens_per_sec']:.2f}x"
      f" | tinker bf16 {tk16['median_tokens_per_sec']:>8,.0f} tok/s ({tk16['median_tokens_per_sec']/py['median_tokens_per_sec']:.2f}x pytorch fp32; MFU {100*tk16['mfu']:.0f}% of the bf16 peak {tk16['matmul_peak_gflops']:.0f} GFLOP/s)")
PY
  done
done
echo "raw results: $out"
