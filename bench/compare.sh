#!/usr/bin/env bash
# Training speed of tinker against a current PyTorch, run alternately on the same machine. For each config and pair:
# PyTorch 2.x (bench/torch_bench.py: the same model as a PyTorch user writes it today) eager and torch.compile'd, each
# in fp32 and under bf16 autocast, and tinker's trainer (`runner bench --train-only`, the normal runner path) in fp32
# and with precision=bf16. Each contestant runs in a process of its own with the same thread and allocator settings.
#   bench/compare.sh [pairs=2] [steps=60] [CONFIG...]   CONFIGs default to bench-char bench-ptb (or $CONFIGS);
#                                                        bench-gpt2s (GPT-2 small's shape) runs only when named: slow
# PyTorch comes from a virtual environment made once, offline where pip's configuration names a local index:
# `python3 -m venv` + `pip install torch numpy`, in target/bench-venv or $BENCH_VENV. THREADS: intra-op threads of
# every contestant (default 2); MODES: PyTorch's modes (default "eager compile"; MODES=eager leaves
# torch.compile out). Raw results: target/bench-compare.jsonl; the table again: bench/compare_report.py FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-2}; steps=${2:-60}; shift $(( $# < 2 ? $# : 2 ))
configs=${*:-${CONFIGS:-bench-char bench-ptb}}
threads=${THREADS:-2}
modes=${MODES:-eager compile}
for mode in $modes; do [[ $mode == eager || $mode == compile ]] || { echo "compare.sh: MODES: expected eager and/or compile, got '$mode'" >&2; exit 2; }; done
venv=${BENCH_VENV:-target/bench-venv}
[[ $pairs =~ ^[1-9][0-9]*$ && $steps =~ ^[0-9]+$ ]] && (( steps >= 2 )) \
  || { echo "compare.sh: expected [pairs >= 1] [steps >= 2] [CONFIG...], got '$pairs' '$steps'" >&2; exit 2; }
if ! "$venv/bin/python" -c 'import sys, torch; sys.exit(int(torch.__version__.split(".")[0]) < 2)' 2>/dev/null; then
  echo "compare.sh: installing PyTorch 2.x into $venv (once) ..." >&2
  "${PYTHON:-python3}" -m venv "$venv" && "$venv/bin/pip" install -q --retries 1 torch numpy >&2 \
    || { echo "compare.sh: could not install torch into $venv: pip needs an index that has torch 2.x" >&2; exit 2; }
fi
for config in $configs; do
  [[ -f configs/$config.txt ]] || { echo "compare.sh: configs/$config.txt: no such config" >&2; exit 2; }
done
"$venv/bin/python" - $configs <<'PY' || exit 2
import sys
sys.path.insert(0, "bench")
from torch_bench import CONFIGS
missing = [c for c in sys.argv[1:] if c not in CONFIGS]
if missing:
    sys.exit(f"compare.sh: bench/torch_bench.py has no model for {', '.join(missing)} (it knows {', '.join(CONFIGS)})")
PY
[[ -f target/runner.jar && -z "$(find pom.xml src/main src/recipes -newer target/runner.jar -print -quit 2>/dev/null)" ]] || mvn -q -B -DskipTests package
# Every contestant gets ./runner's thread and allocator settings (a brief OpenMP spin before sleeping, two arenas).
# TINKER_LAUNCHED=1: the settings are made here (JVM options on the java line), so the jar does not start itself again.
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads GOMP_SPINCOUNT=2000 MALLOC_ARENA_MAX=2 TORCH_CPP_LOG_LEVEL=ERROR TINKER_LAUNCHED=1
unset OMP_WAIT_POLICY
# torch.compile's cache starts empty: pair 1 compiles cold, later pairs may find their graphs there
export TORCHINDUCTOR_CACHE_DIR=$PWD/target/bench-inductor-cache
rm -rf "$TORCHINDUCTOR_CACHE_DIR"
out=target/bench-compare.jsonl; : > "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
echo "$threads threads each; $steps steps, tokens/s = median of the windows after warm-up; tinker: libtorch" \
     "$(ls target/lib | sed -n 's/^pytorch-jni-\([0-9.]*\)-.*/\1/p') through DJL"
pytorch() { # config mode precision pair
  python3 bench/compare_report.py --record "$out" --pair "$4" \
    --line "$("$venv/bin/python" bench/torch_bench.py --config="$1" --steps="$steps" --threads="$threads" --mode="$2" --precision="$3")"
}
tinker() { # config precision pair
  local json=target/bench-$1-$2.json
  java -Xss4m -XX:+UseSerialGC -Xmn32m -Dai.djl.offline=true -jar target/runner.jar bench --config="$1" --steps="$steps" \
    --train-only --set TrainParams.precision="$2" --json="$json" >/dev/null
  python3 bench/compare_report.py --record "$out" --pair "$3" --tinker "$json"
}
for config in $configs; do
  for ((i = 1; i <= pairs; i++)); do
    for precision in fp32 bf16; do
      # who goes first alternates from pair to pair, so a drift in the machine's load favours nobody
      if (( i % 2 )); then for mode in $modes; do pytorch "$config" "$mode" "$precision" "$i"; done; tinker "$config" "$precision" "$i"
      else tinker "$config" "$precision" "$i"; for mode in $(echo $modes | tr ' ' '\n' | tac); do pytorch "$config" "$mode" "$precision" "$i"; done; fi
    done
  done
done
echo
python3 bench/compare_report.py "$out"
echo "raw results: $out"
