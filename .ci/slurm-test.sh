#!/usr/bin/env bash
# A real SLURM test of `runner --slurm` (issue #7), called by .ci/run after the jar is built.
#
# Installs Debian's slurm-wlm and munge (plus mariadb and slurmdbd, so that `sacct` works), starts munged,
# slurmctld and slurmd as a one-node cluster on localhost, submits the 4-point grid configs/test-grid.txt
# through `runner --slurm`, waits for it and checks the four saved runs and their parameters; then deletes
# one result, re-submits with --skip-done and checks that exactly that point ran again; then runs a 3-model
# `runner search --slurm` (one array job per round).
#
# Exit codes: 0 passed, or SLURM could not be brought up on this machine (then it says so loudly and skips);
# 1 tinker misbehaved on a working cluster. Everything it starts is stopped on exit.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
T0=$(date +%s)
WORK=$(mktemp -d /tmp/tinker-slurm-ci.XXXXXX)
export SLURM_CONF=$WORK/slurm.conf
SAVED=$WORK/saved-models
log() { echo "[slurm-test +$(( $(date +%s) - T0 ))s] $*"; }

skip() {
  echo
  echo "################################################################################"
  echo "##  SLURM TEST SKIPPED: $*"
  echo "##  (SLURM could not be brought up on this machine; the rest of CI is unaffected.)"
  echo "################################################################################"
  dump_logs
  exit 0
}
fail() {
  echo
  echo "################################################################################"
  echo "##  SLURM TEST FAILED: $*"
  echo "################################################################################"
  dump_logs
  exit 1
}
dump_logs() {
  for f in "$WORK"/log/*.log; do [[ -f $f ]] && { echo "--- $f (last 15 lines)"; tail -15 "$f"; }; done
  for f in "$SAVED"/*/slurm/*/task-*.log; do [[ -f $f ]] && { echo "--- $f (last 10 lines)"; tail -10 "$f"; }; done
  return 0
}

PIDS=()
stop() { # pid...: TERM, up to 5 s, then KILL
  local p alive
  for p in "$@"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
  for _ in $(seq 10); do
    alive=0
    for p in "$@"; do [[ -n $p ]] && kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && return 0
    sleep 0.5
  done
  for p in "$@"; do [[ -n $p ]] && kill -9 "$p" 2>/dev/null; done
  return 0
}
cleanup() {
  local pids=() f
  for f in "$WORK"/slurmd.pid "$WORK"/slurmctld.pid "$WORK"/slurmdbd.pid "$WORK"/mysqld.pid; do
    [[ -f $f ]] && pids+=("$(cat "$f")")
  done
  stop "${pids[@]}" "${PIDS[@]}" "${MUNGED_PID:-}"
  return 0
}
trap cleanup EXIT

# --------------------------------------------------------------------------- install
[[ $(id -u) == 0 ]] || skip "not root: cannot install and start SLURM daemons"
command -v apt-get >/dev/null || skip "no apt-get: not a Debian-like machine"
if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$WORK/apt.log" 2>&1 || skip "apt-get update failed (see $WORK/apt.log): $(tail -2 "$WORK/apt.log")"
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >>"$WORK/apt.log" 2>&1 \
    || skip "apt-get install slurm-wlm munge failed: $(tail -3 "$WORK/apt.log")"
fi
# sacct needs the accounting daemon, which needs a MySQL-compatible database. Optional: without it the
# test still runs and reports jobs from SLURM's job-completion file instead.
ACCOUNTING=1
if ! command -v slurmdbd >/dev/null || ! command -v mariadbd >/dev/null; then
  log "installing mariadb-server and slurmdbd (for sacct)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server slurmdbd >>"$WORK/apt.log" 2>&1 \
    || { ACCOUNTING=0; log "WARNING: could not install mariadb-server/slurmdbd: no sacct, job states from the completion file"; }
fi
log "installed: slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm 2>/dev/null)"

# --------------------------------------------------------------------------- munge
mkdir -p "$WORK"/{state,spool,log} /run/munge /var/lib/munge /var/log/munge /etc/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge 2>/dev/null
if [[ ! -s /etc/munge/munge.key ]]; then
  (command -v mungekey >/dev/null && mungekey -c -f -k /etc/munge/munge.key) \
    || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged --force >"$WORK/log/munged.log" 2>&1 || /usr/sbin/munged --force >>"$WORK/log/munged.log" 2>&1
  MUNGED_PID=$(pgrep -n -x munged)
  sleep 1
fi
munge -n | unmunge >/dev/null 2>&1 || skip "munged does not authenticate: $(cat "$WORK/log/munged.log" 2>/dev/null | tail -3)"
log "munge ok"

# --------------------------------------------------------------------------- accounting (optional)
if [[ $ACCOUNTING == 1 ]]; then
  # a private, throw-away database server as root in $WORK (its own socket and port; /etc/mysql is ignored)
  mkdir -p "$WORK/mysql"
  if mariadb-install-db --no-defaults --user=root --datadir="$WORK/mysql" --auth-root-authentication-method=socket >"$WORK/log/mysql-install.log" 2>&1; then
    mariadbd --no-defaults --user=root --datadir="$WORK/mysql" --socket="$WORK/mysqld.sock" --bind-address=127.0.0.1 --port=3307 \
      --pid-file="$WORK/mysqld.pid" >"$WORK/log/mysqld.log" 2>&1 &
    PIDS+=($!)
    MYSQL_STARTED=1
    for _ in $(seq 30); do mariadb-admin --no-defaults --socket="$WORK/mysqld.sock" ping >/dev/null 2>&1 && break; sleep 1; done
    if mariadb --no-defaults --socket="$WORK/mysqld.sock" -e "CREATE USER 'slurm'@'localhost' IDENTIFIED BY 'slurmci';
        CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmci'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" 2>>"$WORK/log/mysqld.log"; then
      cat >"$WORK/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
DebugLevel=info
LogFile=$WORK/log/slurmdbd.log
PidFile=$WORK/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3307
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurmci
EOF
      chmod 600 "$WORK/slurmdbd.conf"
      slurmdbd >>"$WORK/log/slurmdbd.log" 2>&1 || ACCOUNTING=0  # reads slurmdbd.conf beside $SLURM_CONF
      for _ in $(seq 40); do grep -q "slurmdbd version .* started" "$WORK/log/slurmdbd.log" 2>/dev/null && break; sleep 0.5; done
      if ! grep -q "slurmdbd version .* started" "$WORK/log/slurmdbd.log" 2>/dev/null; then
        [[ -f $WORK/slurmdbd.pid ]] && stop "$(cat "$WORK/slurmdbd.pid")"
        ACCOUNTING=0
      fi
    else
      ACCOUNTING=0
    fi
  else
    ACCOUNTING=0
  fi
  [[ $ACCOUNTING == 1 ]] && log "slurmdbd up (sacct available)" || log "WARNING: accounting database did not come up: no sacct (see $WORK/log)"
fi

# --------------------------------------------------------------------------- the cluster
CPUS=$(nproc)
write_conf() {
  {
    echo "ClusterName=tinkerci"
    echo "SlurmctldHost=localhost"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "AuthType=auth/munge"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "ReturnToService=2"
    echo "MpiDefault=none"
    echo "StateSaveLocation=$WORK/state"
    echo "SlurmdSpoolDir=$WORK/spool"
    echo "SlurmctldPidFile=$WORK/slurmctld.pid"
    echo "SlurmdPidFile=$WORK/slurmd.pid"
    echo "SlurmctldLogFile=$WORK/log/slurmctld.log"
    echo "SlurmdLogFile=$WORK/log/slurmd.log"
    echo "JobCompType=jobcomp/filetxt"
    echo "JobCompLoc=$WORK/log/jobcomp.txt"
    echo "MinJobAge=600"
    if [[ $ACCOUNTING == 1 ]]; then
      echo "AccountingStorageType=accounting_storage/slurmdbd"
      echo "AccountingStorageHost=localhost"
      echo "JobAcctGatherType=jobacct_gather/none"
    else
      echo "AccountingStorageType=accounting_storage/none"
    fi
    echo "NodeName=localhost NodeHostname=localhost CPUs=$CPUS RealMemory=1000 State=UNKNOWN"
    echo "PartitionName=ci Nodes=localhost Default=YES MaxTime=INFINITE State=UP"
  } >"$SLURM_CONF"
}
start_cluster() { # → 0 when the node is idle; else prints why
  write_conf
  if [[ $ACCOUNTING == 1 ]]; then
    timeout 20 sacctmgr -i add cluster tinkerci >"$WORK/log/sacctmgr.log" 2>&1 || true
  fi
  slurmctld -c >>"$WORK/log/slurmctld.log" 2>&1 || { echo "slurmctld did not start: $(tail -3 "$WORK/log/slurmctld.log")"; return 1; }
  slurmd -N localhost >>"$WORK/log/slurmd.log" 2>&1 || { echo "slurmd did not start: $(tail -3 "$WORK/log/slurmd.log")"; return 1; }
  local state=""
  for _ in $(seq 30); do
    if [[ -f $WORK/slurmctld.pid ]] && ! kill -0 "$(cat "$WORK/slurmctld.pid")" 2>/dev/null; then
      echo "slurmctld died: $(tail -2 "$WORK/log/slurmctld.log")"; return 1
    fi
    state=$(timeout 5 sinfo -h -n localhost -o %t 2>/dev/null | head -1)
    [[ $state == idle* || $state == mix* ]] && return 0
    sleep 1
  done
  echo "node localhost is not idle after 30 s (state '$state')"
  return 1
}
stop_cluster() {
  local pids=() f
  for f in "$WORK"/slurmd.pid "$WORK"/slurmctld.pid; do [[ -f $f ]] && pids+=("$(cat "$f")"); done
  stop "${pids[@]}"
  rm -f "$WORK"/slurmd.pid "$WORK"/slurmctld.pid
}
if ! why=$(start_cluster); then
  if [[ $ACCOUNTING == 1 ]]; then
    log "WARNING: the cluster did not come up with accounting ($why); trying again without it (no sacct)"
    stop_cluster
    ACCOUNTING=0
    why=$(start_cluster) || skip "$why"
  else
    skip "$why"
  fi
fi
log "one-node cluster up: $(timeout 5 sinfo -h -o '%P %D %t %c' | head -1) cpus"

# --------------------------------------------------------------------------- tinker on it
[[ -f target/runner.jar ]] || fail "target/runner.jar missing: build it first (mvn -B -q -DskipTests package)"
RUNNER=(java -Xss4m -Dai.djl.offline=true -jar "$REPO/target/runner.jar")
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 TORCH_CPP_LOG_LEVEL=ERROR

wait_job() { # job id, timeout in s
  local id=$1 deadline=$(( $(date +%s) + $2 ))
  while [[ -n $(timeout 10 squeue -h -j "$id" 2>/dev/null || echo "no answer") ]]; do
    (( $(date +%s) > deadline )) && { timeout 10 scancel "$id"; fail "array job $id did not finish within $2 s"; }
    sleep 1
  done
}
job_report() { # job id
  if [[ $ACCOUNTING == 1 ]]; then
    for _ in $(seq 20); do  # the controller hands job records to slurmdbd asynchronously: wait for complete ones
      n=$(timeout 10 sacct -n -X -j "$1" -o JobID%14,JobName%20,State 2>/dev/null | grep -c "^ *${1}_[0-9]* *tinker-test-grid *COMPLETED")
      [[ $n -ge $2 ]] && break
      sleep 1
    done
    timeout 10 sacct -j "$1" -X -o JobID,JobName%18,Partition,State,ExitCode,Elapsed,Start,End
  else
    grep "ArrayJobId=$1 " "$WORK/log/jobcomp.txt" | sed -E 's/.*(JobId=[0-9]+).*(JobState=[A-Z_]+).*(ArrayJobId=[0-9]+ ArrayTaskId=[0-9]+).*(ExitCode=[0-9:]+).*/\1 \3 \2 \4/'
  fi
}
completed_tasks() { # job id → number of array tasks that completed with exit 0
  if [[ $ACCOUNTING == 1 ]]; then timeout 10 sacct -n -X -j "$1" -o State,ExitCode | grep -c "COMPLETED *0:0"
  else grep "ArrayJobId=$1 " "$WORK/log/jobcomp.txt" | grep "JobState=COMPLETED" | grep -c "ExitCode=0:0"; fi
}
# run folders relative to test-grid/copy: {run name}/{timestamp}, the run name made of the grid point's values
runs() { find "$SAVED/test-grid/copy" -mindepth 2 -maxdepth 2 -type d -name '20*' -printf '%P\n' 2>/dev/null | sort; }
point_of() { # run folder → "lr seed" from its saved params
  local p=$SAVED/test-grid/copy/$1/final/train_params.json
  [[ -f $p ]] || { echo "unfinished"; return; }
  echo "$(grep -o '"lr": [0-9.eE-]*' "$p" | awk '{print $2}') $(grep -o '"random_seed": [0-9]*' "$p" | awk '{print $2}')"
}

log "submitting the 4-point grid configs/test-grid.txt with --slurm"
out=$("${RUNNER[@]}" --config=test-grid --no-wandb --save --saved-models="$SAVED" --slurm --slurm-args="--cpus-per-task=1 --time=10" 2>&1) \
  || fail "runner --slurm exited non-zero: $out"
echo "$out"
JOB=$(sed -n 's/^submitted array job \([0-9]*\).*/\1/p' <<<"$out")
[[ -n $JOB ]] || fail "no 'submitted array job N' line in the runner's output"
wait_job "$JOB" 240
log "array job $JOB finished"
job_report "$JOB" 4
[[ $(completed_tasks "$JOB") == 4 ]] || fail "expected 4 completed array tasks in job $JOB"
mapfile -t FIRST < <(runs)
[[ ${#FIRST[@]} == 4 ]] || fail "expected 4 saved runs, found ${#FIRST[@]}: ${FIRST[*]}"
got=$(for r in "${FIRST[@]}"; do point_of "$r"; done | sort | tr '\n' ';')
[[ $got == "0.001 0;0.001 1;0.003 0;0.003 1;" ]] || fail "saved runs have params '$got', expected the grid's 4 (lr, seed) pairs"
for i in 1 2 3 4; do
  [[ -s $(ls "$SAVED"/test-grid/slurm/grid-*/task-$i.log | head -1) ]] || fail "no log for task $i beside the saved runs"
done
for r in "${FIRST[@]}"; do
  grep -q "^SLURM array job $JOB, task [1-4] " "$SAVED/test-grid/copy/$r/slurm-task.txt" 2>/dev/null || fail "run $r has no slurm-task.txt naming job $JOB"
  log=$(sed -n 's/^scheduler log (stdout and stderr of the task): //p' "$SAVED/test-grid/copy/$r/slurm-task.txt")
  grep -q "^done: val_loss" "$log" 2>/dev/null || fail "run $r: its task log $log does not show the run finishing"
done
for r in "${FIRST[@]}"; do
  p=$(point_of "$r")
  [[ ${r%%/*} == "lr=${p% *}_random_seed=${p#* }" ]] || fail "run $r is not saved under its grid point's name (params: $p)"
done
"${RUNNER[@]}" grid-status --config=test-grid --saved-models="$SAVED" --check || fail "grid-status --check: not all 4 points done"
# the four tasks are one launch: compare shows both learning rates, each with its two seeds folded
cmp=$("${RUNNER[@]}" compare --config=test-grid --saved-models="$SAVED" --csv) || fail "runner compare failed: $cmp"
echo "$cmp"
[[ $(grep -c '^0.00[13],"0,1",' <<<"$cmp") == 2 ]] || fail "compare should show 2 rows (lr 0.001 and 0.003), each of seeds 0 and 1"
log "4 runs saved with the expected parameters, under their grid points' names, compared as one launch"

# kill one result: grid point 3 (lr 0.003, seed 0)
VICTIM=""
for r in "${FIRST[@]}"; do [[ $(point_of "$r") == "0.003 0" ]] && VICTIM=$r; done
rm -rf "${SAVED:?}/test-grid/copy/$VICTIM"
log "deleted the run of grid point 3 ($VICTIM); re-submitting with --skip-done"
out=$("${RUNNER[@]}" --config=test-grid --no-wandb --save --saved-models="$SAVED" --slurm --skip-done 2>&1) \
  || fail "runner --slurm --skip-done exited non-zero: $out"
echo "$out"
grep -q "(1 of 4 grid points: 3)" <<<"$out" || fail "the re-submission should hold grid point 3 only"
JOB2=$(sed -n 's/^submitted array job \([0-9]*\).*/\1/p' <<<"$out")
[[ -n $JOB2 ]] || fail "no job id in the re-submission's output"
wait_job "$JOB2" 120
log "array job $JOB2 finished"
job_report "$JOB2" 1
[[ $(completed_tasks "$JOB2") == 1 ]] || fail "expected exactly 1 completed task in job $JOB2"
mapfile -t SECOND < <(runs)
[[ ${#SECOND[@]} == 4 ]] || fail "expected 4 saved runs after the re-run, found ${#SECOND[@]}: ${SECOND[*]}"
new=$(comm -13 <(printf '%s\n' "${FIRST[@]}") <(printf '%s\n' "${SECOND[@]}"))
[[ $(wc -w <<<"$new") == 1 && $(point_of "$new") == "0.003 0" ]] || fail "expected one new run, of point 3 (lr 0.003, seed 0); new: '$new'"
for r in "${FIRST[@]}"; do
  [[ $r == "$VICTIM" ]] && continue
  [[ -d $SAVED/test-grid/copy/$r/final ]] || fail "run $r of a done point was touched"
done
"${RUNNER[@]}" grid-status --config=test-grid --saved-models="$SAVED" --check || fail "grid-status --check after the re-run"
# the re-submission is the latest launch; compare completes it with the first launch's runs of the points it skipped
cmp=$("${RUNNER[@]}" compare --config=test-grid --saved-models="$SAVED" --csv) || fail "runner compare after the re-run failed: $cmp"
[[ $(grep -c '^0.00[13],"0,1",' <<<"$cmp") == 2 ]] || fail "compare after the re-run should still show 2 rows of 2 seeds: $cmp"
grep -q "${new#*/}" <<<"$cmp" || fail "compare after the re-run should include the new run $new: $cmp"
# --------------------------------------------------------------------------- runner search --slurm
# 3 models of a 4-model FlexiBERT space: a round of 2 (one array job), then 1 picked by the surrogate (a second job),
# warm-started from its nearest trained model; started again, the finished search submits nothing.
printf '%s\n' "architecture:" "  encoder_layers: [2]" "  hidden_size: [16, 24]" "  num_heads: [2]" "  operation_types: [sa, l]" \
  "  operation_parameters: {sa: [sdp], l: [dct]}" "  number_of_feed-forward_stacks: [1]" "  feed-forward_hidden: [32]" >"$WORK/space.yaml"
printf '%s\n' "[DataParams]" 'dataset_name = "copy"' "debug_crop = 100" "[TrainParams]" "epochs = 1" "val_check_epoch_frac = 1.0" \
  "max_sample_tokens = 10" "[ModelParams]" 'tokenizer_source_name = "char"' "max_seq_len = 340" >"$WORK/search-base.txt"
SEARCH=("${RUNNER[@]}" search --space="$WORK/space.yaml" --base="$WORK/search-base.txt" --budget=3 --init=2 --parallel=2 --slurm
        --slurm-args="--cpus-per-task=1 --time=10" --out="$WORK/search" --saved-models="$SAVED")
log "runner search --slurm: 3 models, rounds as array jobs"
out=$(timeout 400 "${SEARCH[@]}" 2>&1) || fail "runner search --slurm exited non-zero: $out"
echo "$out"
[[ $(grep -c "^submitted array job" <<<"$out") == 2 ]] || fail "expected two array jobs (a round of 2 models, then 1)"
[[ $(wc -l <"$WORK/search/search.jsonl") == 3 ]] || fail "expected 3 lines in $WORK/search/search.jsonl"
sed -n 3p "$WORK/search/search.jsonl" | grep -q '"neighbour_run":"20' || fail "the third model has no warm-start neighbour"
out=$(timeout 120 "${SEARCH[@]}" 2>&1) || fail "runner search --slurm (finished) exited non-zero: $out"
grep -q "submitted array job" <<<"$out" && fail "a finished search submitted another job: $out"
log "search: 3 models trained by 2 array jobs, the third warm-started; a finished search submits nothing"

log "PASSED: 4-point grid on a real one-node SLURM cluster, a --skip-done re-submission ran only the missing point, and runner search --slurm ($(( $(date +%s) - T0 )) s)"
