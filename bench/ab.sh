#!/usr/bin/env bash
# Side-by-side: this checkout's runner.jar against another build of tinker (e.g. main before a change), alternating
# `runner bench` runs on the same machine, so that a change is judged against noise of the same hour.
#   bench/ab.sh OTHER_JAR [pairs=2] [steps=60] [configs="bench-char bench-ptb"]
# SET="TrainParams.precision=bf16 ...": parameter overrides for both sides (runner bench --set).
# Build the other jar from a second worktree:  git worktree add /tmp/base main && (cd /tmp/base && mvn -q -DskipTests package)
set -euo pipefail
cd "$(dirname "$0")/.."
other=${1:?usage: bench/ab.sh OTHER_JAR [pairs] [steps] [configs]}; pairs=${2:-2}; steps=${3:-60}; configs=${4:-bench-char bench-ptb}
[[ -f $other ]] || { echo "ab.sh: no jar at $other" >&2; exit 2; }
[[ -f target/runner.jar && -z "$(find pom.xml src/main src/recipes -newer target/runner.jar -print -quit 2>/dev/null)" ]] || mvn -q -B -DskipTests package
# ./runner's process settings for both (TINKER_LAUNCHED=1: made here, the jar does not restart itself)
export GOMP_SPINCOUNT=2000 MALLOC_ARENA_MAX=2 TORCH_CPP_LOG_LEVEL=ERROR TINKER_LAUNCHED=1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
bench() { # jar config label
  local sets=(); for s in ${SET:-}; do sets+=(--set "$s"); done
  java -Xss4m -XX:+UseSerialGC -Xmn32m -Dai.djl.offline=true -jar "$1" bench --config="$2" --steps="$steps" "${sets[@]}" \
    --json="target/ab-$3.json" >/dev/null
  python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(f\"{d['medianTokensPerSec']:.0f} {d['cachedTokensPerSec']:.0f} {d['secondsToFirstStep']:.2f} {d['peakRssMb']:.0f}\")" "target/ab-$3.json"
}
for config in $configs; do
  for ((i = 1; i <= pairs; i++)); do
    # alternate which goes first, so a drift in the machine's load does not favour one side
    if (( i % 2 )); then a=$(bench target/runner.jar "$config" this); b=$(bench "$other" "$config" other)
    else b=$(bench "$other" "$config" other); a=$(bench target/runner.jar "$config" this); fi
    read -r ta da fa ra <<< "$a"; read -r tb db fb rb <<< "$b"
    python3 -c "import sys;ta,da,fa,ra,tb,db,fb,rb=map(float,sys.argv[2:10]);print(f'{sys.argv[1]:<11} pair {sys.argv[10]}: training {ta:>7,.0f} vs {tb:>7,.0f} tokens/s ({ta/tb:.3f}x) | cached decoding {da:>6,.0f} vs {db:>6,.0f} tokens/s ({da/db:.3f}x) | first step {fa:.2f} vs {fb:.2f} s | peak RSS {ra:,.0f} vs {rb:,.0f} MB')" \
      "$config" "$ta" "$da" "$fa" "$ra" "$tb" "$db" "$fb" "$rb" "$i"
  done
done
