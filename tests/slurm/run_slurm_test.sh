#!/usr/bin/env bash
# Runs one jobs/slurm/*.sbatch script on a throw-away Slurm cluster on this machine (root needed) and
# checks the result: one node (this host), or NODES=N nodes, each a host of a namespace cluster
# (tests/cluster/cluster.sh: network namespace, own hostname, a bridge to the root namespace).
#
#   tests/slurm/run_slurm_test.sh SBATCH_FILE [arguments of the job script]
#
# Examples (from the repository root):
#   SBATCH_ARGS=--ntasks-per-node=2 tests/slurm/run_slurm_test.sh jobs/slurm/generate.sbatch \
#     --model tests/data/models/qwen3-tiny --tp 2 --prompt-ids 1,2,3 --max-output-length 4
#   CHECK_CMD='test -s $JOB_DIR/comm_bench.csv' tests/slurm/run_slurm_test.sh jobs/slurm/comm_bench.sbatch
#   NODES=2 SBATCH_ARGS="--nodes=2 --ntasks-per-node=2" tests/slurm/run_slurm_test.sh jobs/slurm/generate.sbatch \
#     --model tests/data/models/qwen3-tiny --tp 2 --pp 2 --prompt-ids 1,2,3 --max-output-length 4
#
# What it does: installs slurmctld, slurmd, slurm-client and munge with apt-get when missing;
# starts a private munged (own key and socket) and slurmctld + slurmd for this host, all under a
# fresh temporary folder with a generated slurm.conf (system files and any Slurm/munge already
# running here are not touched); with NODES=N, brings up N namespace hosts h0..hN-1 and runs one
# slurmd per host inside it (slurmctld stays in the root namespace, on the bridge's address; munge is
# shared through its socket file); waits for the nodes to be idle; submits SBATCH_FILE with sbatch
# from the repository root; waits for the job (JOB_TIMEOUT); checks it; stops what it started.
#
# Environment:
#   SBATCH_ARGS   extra sbatch options, word-split (e.g. "--ntasks-per-node=2")
#   CHECK_CMD     shell code eval'd (in the repository root) after the job, with JOB_DIR set to
#                 the job's output folder ($OUT_ROOT/<job id>); non-zero fails the test. The job
#                 exiting 0 and JOB_DIR existing are always checked.
#   AUTODIST, OUT_ROOT, LAUNCHER, ...   passed to the job (see jobs/slurm/lib.sh);
#                 OUT_ROOT defaults to <temp folder>/runs here
#   JOB_TIMEOUT   seconds for the job (default 300)    NODE_TIMEOUT   for the node to come up (120)
#   NODES         1 (default): this host is the node; N > 1: N namespace hosts h0..hN-1 (skipped where
#                 namespaces cannot be made, with the reason)
#   NODE_CPUS     CPUs each node declares (default: nproc, at least 4, so 4 tasks fit on 2 cores)
#   SLURM_TEST_PORT   slurmctld port (default: the first free pair from 16817; slurmd: next one)
#   SLURM_TEST_CONF_EXTRA   slurm.conf lines (newline-separated) replacing/adding settings
#   SLURM_TEST_NO_INSTALL=1   never run apt-get (skip when Slurm is missing)
#   SLURM_TEST_REQUIRE=1      fail (exit 1) instead of skipping (exit 77) when Slurm cannot run
#   SLURM_TEST_TMPDIR   where the temporary folder goes (default /tmp; slurmd runs the job
#                 script from it, so it must not be mounted noexec)
#   KEEP=1        keep the temporary folder (it is always kept when the test fails)
#
# Exit: 0 passed, 1 failed, 2 usage error, 77 skipped: Slurm cannot run here ("skipped: <why>").
set -uo pipefail

t_start=$SECONDS
say() { echo "[slurm-test $((SECONDS - t_start))s] $*"; }
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
case $1 in -h | --help) usage ;; esac

SBATCH_FILE=$(realpath -e "$1" 2>/dev/null) || { echo "error: no such sbatch file: $1" >&2; exit 2; }
shift
REPO=$(cd "$(dirname "$0")/../.." && pwd)
JOB_TIMEOUT=${JOB_TIMEOUT:-300}
NODE_TIMEOUT=${NODE_TIMEOUT:-120}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${SLURM_TEST_PORT:-}
if [ -z "$PORT" ]; then  # first free pair from 16817 up: a killed earlier run may still hold one
  for PORT in $(seq 16817 2 16899); do port_busy "$PORT" || port_busy $((PORT + 1)) || break; done
fi
HOST=$(hostname -s)
NODES=${NODES:-1}
[[ $NODES =~ ^[0-9]+$ ]] && [ "$NODES" -ge 1 ] || { echo "error: NODES must be a positive number, got '$NODES'" >&2; exit 2; }
CLUSTER=$REPO/tests/cluster/cluster.sh CLUSTER_NAME=s$$ CLUSTER_UP=""
SLURMD_PIDS=()
WORK=""
failed=1

# ---------------------------------------------------------------- reporting and cleanup
show_logs() {  # show_logs [LINES]: the daemon logs (their stderr only where the log is empty)
  [ -n "$WORK" ] || return 0
  local f n=${1:-40}
  for f in "$WORK"/log/*.log "$WORK"/log/*.out; do
    [ -s "$f" ] || continue
    case $f in *.out) [ -s "${f%.out}.log" ] && continue ;; esac
    echo "----- $f (last $n lines)"
    tail -n "$n" "$f"
  done
  echo "-----"
}

# Why Slurm could not run: the fatal lines of the daemon logs, else their last real errors.
log_reason() {
  [ -n "$WORK" ] || return 0
  local benign='DNS SRV|state file|backup state save|MailProg' lines
  lines=$(cat "$WORK"/log/*.log 2>/dev/null | grep -E 'fatal|FATAL' | head -n 3)
  [ -n "$lines" ] || lines=$(cat "$WORK"/log/*.log 2>/dev/null | grep -E 'error|Error' | grep -vE "$benign" | tail -n 3)
  [ -n "$lines" ] || lines=$(tail -q -n 2 "$WORK"/log/*.out 2>/dev/null)
  paste -sd'|' - <<<"${lines:-no error in the logs}"
}

skip() {
  echo "skipped: $*"
  show_logs
  if [ "${SLURM_TEST_REQUIRE:-0}" = 1 ]; then exit 1; fi
  exit 77
}

fail() {
  echo "FAILED: $*"
  show_logs 15
  exit 1
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

stop_pid() {  # stop_pid PID NAME: TERM, wait up to 10 s, then KILL
  local pid=$1 name=$2
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do pid_alive "$pid" || return 0; sleep 0.2; done
  echo "warning: $name ($pid) ignored SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null
}

# Job processes of this private cluster: slurmstepd daemons whose environment has our SLURM_CONF
# (unique temporary path), and their descendants (the job script, srun/mpirun, the ranks).
job_pids() {
  local p roots=() all
  for p in $(pgrep -x slurmstepd); do
    tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qxF "SLURM_CONF=$SLURM_CONF" && roots+=("$p")
  done
  [ ${#roots[@]} -gt 0 ] || return 0
  all=$(ps -e -o pid=,ppid= 2>/dev/null)
  awk -v roots="${roots[*]}" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      n = split(roots, r, " "); for (i = 1; i <= n; i++) mine[r[i]] = 1
      do { added = 0
        for (i in pids) { p = pids[i]; if (!(p in mine) && (parent[p] in mine)) { mine[p] = 1; added = 1 } }
      } while (added)
      for (p in mine) print p
    }' <<<"$all"
}

cleanup() {
  local rc=$? left
  set +e
  if [ -n "$WORK" ] && [ -n "${CTLD_PID:-}" ] && pid_alive "$CTLD_PID"; then
    # End the jobs of this private cluster first, so no slurmstepd outlives slurmd.
    if [ -n "$(squeue -h -o %A 2>/dev/null)" ]; then
      squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null
      for _ in $(seq 1 75); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.2; done
      [ -z "$(squeue -h -o %A 2>/dev/null)" ] || echo "warning: jobs still in the queue at shutdown"
    fi
  fi
  if [ -n "$WORK" ]; then
    # A cancelled step's slurmstepd can still be reporting to slurmd: give it time while slurmd is up.
    for _ in $(seq 1 100); do [ -z "$(job_pids)" ] && break; sleep 0.2; done
    left=$(job_pids)
    if [ -n "$left" ]; then
      echo "warning: killing leftover job processes:"; ps -o pid=,args= -p "${left//$'\n'/,}"
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null
    fi
  fi
  for p in "${SLURMD_PIDS[@]}"; do stop_pid "$p" slurmd; done
  # the namespace hosts: whatever still runs inside them (a slurmstepd, a rank) ends with them
  [ -n "$CLUSTER_UP" ] && "$CLUSTER" down --name "$CLUSTER_NAME"
  stop_pid "${CTLD_PID:-}" slurmctld
  if [ -n "$WORK" ] && [ -f "$WORK/run/munged.pid" ]; then stop_pid "$(cat "$WORK/run/munged.pid")" munged; fi
  [ -n "${POLICY_RC_D_ADDED:-}" ] && rm -f /usr/sbin/policy-rc.d
  if [ -n "$WORK" ]; then
    if [ "$failed" = 0 ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"
    else echo "kept $WORK (logs in $WORK/log)"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- 1. install
[ "$(id -u)" = 0 ] || skip "needs root (slurmd runs jobs as root here and apt-get may be needed); uid is $(id -u)"

missing=()
command -v slurmctld >/dev/null || missing+=(slurmctld)
command -v slurmd >/dev/null || missing+=(slurmd)
command -v sbatch >/dev/null || missing+=(slurm-client)
command -v munged >/dev/null || missing+=(munge)
command -v pgrep >/dev/null || missing+=(procps)   # not in the minimal Debian image
t0=$SECONDS
if [ ${#missing[@]} -gt 0 ]; then
  [ "${SLURM_TEST_NO_INSTALL:-0}" = 1 ] && skip "missing ${missing[*]} and SLURM_TEST_NO_INSTALL=1"
  command -v apt-get >/dev/null || skip "missing ${missing[*]} and no apt-get to install them"
  say "installing ${missing[*]}"
  # Keep package scripts from starting the system munge/slurm services (no-op where a
  # policy-rc.d already exists, as in most container images).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && POLICY_RC_D_ADDED=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_install() {
    timeout 900 apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 "${missing[@]}" >"$1" 2>&1
  }
  if ! apt_install /tmp/slurm-test-apt.log; then
    say "apt-get install failed; running apt-get update and retrying"
    timeout 600 apt-get update -q -o DPkg::Lock::Timeout=120 >/tmp/slurm-test-apt-update.log 2>&1 ||
      skip "apt-get update failed: $(tail -n 2 /tmp/slurm-test-apt-update.log | paste -sd' ' -)"
    apt_install /tmp/slurm-test-apt.log ||
      skip "apt-get install ${missing[*]} failed: $(tail -n 2 /tmp/slurm-test-apt.log | paste -sd' ' -)"
  fi
  [ -n "${POLICY_RC_D_ADDED:-}" ] && rm -f /usr/sbin/policy-rc.d && POLICY_RC_D_ADDED=""
  say "installed in $((SECONDS - t0)) s"
fi
t_install=$((SECONDS - t0))

# ---------------------------------------------------------------- 2. config
t0=$SECONDS
WORK=$(mktemp -d "${SLURM_TEST_TMPDIR:-/tmp}/slurm-test.XXXXXX") || skip "cannot create a temporary folder"
chmod 755 "$WORK"   # munged wants its socket folder reachable by all
mkdir -p "$WORK"/{etc,log,run,state,spool,tmp,runs} && mkdir -m 700 "$WORK/munge"
export SLURM_CONF=$WORK/etc/slurm.conf   # used by the daemons, sbatch, squeue, and srun inside the job
export OUT_ROOT=${OUT_ROOT:-$WORK/runs}

CTLD_ADDR=127.0.0.1 NODE_NAMES=$HOST NODE_ADDRS=127.0.0.1
if [ "$NODES" -gt 1 ]; then
  cluster_err=$("$CLUSTER" up "$NODES" --name "$CLUSTER_NAME" --owner $$ 2>&1 >"$WORK/cluster.env")
  case $? in
    0) CLUSTER_UP=1 ;;
    77) skip "NODES=$NODES needs namespace hosts: ${cluster_err#*skipped: }" ;;
    *) fail "tests/cluster/cluster.sh up $NODES: $cluster_err" ;;
  esac
  # shellcheck source=/dev/null
  source "$(cat "$WORK/cluster.env")"
  CTLD_ADDR=$AD_CLUSTER_ROOT_ADDR NODE_NAMES=$AD_CLUSTER_HOSTS NODE_ADDRS=$AD_CLUSTER_ADDRS
fi
NODE_LIST=${NODE_NAMES// /,}

nproc=$(nproc)
NODE_CPUS=${NODE_CPUS:-$((nproc < 4 ? 4 : nproc))}
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
: >"$WORK/etc/plugstack.conf"
cat >"$SLURM_CONF" <<EOF
# test cluster of $NODES node(s) written by $0
ClusterName=autodist-test
SlurmctldHost=$HOST($CTLD_ADDR)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/run/munge.socket
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool/%n
# srun --mpi=pmix makes TmpFS/spmix_appdir_<uid>_<job>.<step>; job ids restart at 1 on every
# run, so a folder left in /tmp by an earlier run would make the step fail to launch
TmpFS=$WORK/tmp
SlurmctldPidFile=$WORK/run/slurmctld.pid
SlurmdPidFile=$WORK/run/slurmd.%n.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.%n.log
SlurmctldDebug=info
MailProg=/bin/true
SlurmdDebug=info
PlugStackConfig=$WORK/etc/plugstack.conf
# no cgroups: containers rarely have a writable cgroup tree
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
MpiDefault=none
# trust the CPUs declared below, not the hardware (NODE_CPUS may exceed nproc)
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
PartitionName=debug Nodes=$NODE_LIST Default=YES MaxTime=INFINITE State=UP
EOF
read -ra node_addrs <<<"$NODE_ADDRS"
i=0
for n in $NODE_NAMES; do
  echo "NodeName=$n NodeAddr=${node_addrs[$i]} CPUs=$NODE_CPUS RealMemory=$mem_mb State=UNKNOWN" >>"$SLURM_CONF"
  i=$((i + 1))
done
# SLURM_TEST_CONF_EXTRA: extra slurm.conf lines; a key given again there replaces the one above
if [ -n "${SLURM_TEST_CONF_EXTRA:-}" ]; then
  printf '%s\n' "$SLURM_TEST_CONF_EXTRA" | while IFS= read -r line; do
    key=${line%%=*}
    [ -n "$key" ] && sed -i "/^${key}=/d" "$SLURM_CONF"
    printf '%s\n' "$line" >>"$SLURM_CONF"
  done
fi

# ---------------------------------------------------------------- 3. munge, slurmctld, slurmd
mungekey --create --keyfile="$WORK/munge/munge.key" >"$WORK/log/mungekey.log" 2>&1 ||
  dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/munge/munge.key"
munged --socket="$WORK/run/munge.socket" --key-file="$WORK/munge/munge.key" \
  --pid-file="$WORK/run/munged.pid" --seed-file="$WORK/munge/munged.seed" \
  --log-file="$WORK/log/munged.log" >"$WORK/log/munged.out" 2>&1 ||
  skip "munged did not start: $(tail -n 2 "$WORK/log/munged.out" "$WORK/log/munged.log" 2>/dev/null | grep -v '^==' | paste -sd' ' -)"
for _ in $(seq 1 50); do
  munge -S "$WORK/run/munge.socket" -n 2>/dev/null | unmunge -S "$WORK/run/munge.socket" >/dev/null 2>&1 && break
  sleep 0.2
done
munge -S "$WORK/run/munge.socket" -n 2>/dev/null | unmunge -S "$WORK/run/munge.socket" >/dev/null 2>&1 ||
  skip "munge credentials do not round-trip: $(tail -n 3 "$WORK/log/munged.log" | paste -sd' ' -)"

slurmctld -D -f "$SLURM_CONF" >"$WORK/log/slurmctld.out" 2>&1 &
CTLD_PID=$!
deadline=$((SECONDS + NODE_TIMEOUT))
until scontrol ping 2>/dev/null | grep -q 'is UP'; do
  pid_alive "$CTLD_PID" || skip "slurmctld exited: $(log_reason)"
  [ $SECONDS -lt $deadline ] || skip "slurmctld not answering after ${NODE_TIMEOUT} s: $(log_reason)"
  sleep 0.5
done
for n in $NODE_NAMES; do
  mkdir -p "$WORK/spool/$n"
  if [ -n "$CLUSTER_UP" ]; then
    # Inside host n's namespaces, with a mount namespace of its own where TmpFS is the host's folder: the
    # pmix plugin makes TmpFS/spmix_appdir_<uid>_<job>.<step> on every node of a step, as on real hosts.
    mkdir -p "$WORK/tmp.$n"
    # (the agent runs its words through a shell, as ssh does: quote once for it)
    inner="mount --bind '$WORK/tmp.$n' '$WORK/tmp' && exec slurmd -D -f '$SLURM_CONF' -N '$n'"
    AD_CLUSTER_NAME=$CLUSTER_NAME "$CLUSTER" exec "$n" "exec unshare --mount --propagation private sh -c $(printf %q "$inner")" \
      >"$WORK/log/slurmd.$n.out" 2>&1 &
  else
    slurmd -D -f "$SLURM_CONF" -N "$n" >"$WORK/log/slurmd.$n.out" 2>&1 &
  fi
  SLURMD_PIDS+=($!)
done
slurmds_alive() { local p; for p in "${SLURMD_PIDS[@]}"; do pid_alive "$p" || return 1; done; }
state=""
until [ "$state" = idle ]; do
  slurmds_alive || skip "slurmd exited: $(log_reason)"
  pid_alive "$CTLD_PID" || skip "slurmctld exited: $(log_reason)"
  if [ $SECONDS -ge $deadline ]; then
    scontrol show node "$NODE_LIST" 2>&1
    skip "node(s) $NODE_LIST not idle after ${NODE_TIMEOUT} s (state '${state}'; $(sinfo -h -R -o '%E' 2>/dev/null)): $(log_reason)"
  fi
  sleep 0.5
  state=$(sinfo -h -N -n "$NODE_LIST" -o %T 2>/dev/null | sort -u | paste -sd, -)  # "idle" once all are
  case $state in
    *drain* | *down* | *fail* | *inval*)
      scontrol show node "$NODE_LIST" 2>&1
      skip "node(s) $NODE_LIST: $state: $(sinfo -h -R -o '%E' 2>/dev/null) $(log_reason)" ;;
  esac
done
t_startup=$((SECONDS - t0))
say "slurm up in $t_startup s: node(s) $NODE_LIST idle, $NODE_CPUS CPUs declared ($nproc real), srun --mpi=list: $(srun --mpi=list 2>&1 | grep -vi 'MPI plugin' | tr -d '\t' | paste -sd' ' -)"

# ---------------------------------------------------------------- 4. the job
t0=$SECONDS
cd "$REPO" || fail "cannot cd to $REPO"
# shellcheck disable=SC2206  # SBATCH_ARGS is a word list
sbatch_cmd=(sbatch --parsable --output="$WORK/slurm-%j.out" ${SBATCH_ARGS:-} "$SBATCH_FILE" "$@")
say "submitting: $(printf '%q ' "${sbatch_cmd[@]}")"
# Not `sbatch --wait`: it polls slurmctld on a 2 s -> 8 s -> 32 s backoff, so it notices the end
# of a short job up to 32 s late. Polling here every 0.5 s also lets a timeout cancel the job.
timeout 60 "${sbatch_cmd[@]}" >"$WORK/sbatch.out" 2>"$WORK/sbatch.err" ||
  fail "sbatch refused the job (exit $?): $(paste -sd' ' - <"$WORK/sbatch.err")"
jobid=$(head -n 1 "$WORK/sbatch.out" | cut -d';' -f1)
[ -n "$jobid" ] || fail "sbatch printed no job id"
deadline=$((SECONDS + JOB_TIMEOUT))
while :; do
  info=$(scontrol -o show job "$jobid" 2>/dev/null)
  jstate=$(grep -oE '(^| )JobState=[^ ]*' <<<"$info" | cut -d= -f2)
  case $jstate in
    PENDING | CONFIGURING | RUNNING | COMPLETING | SUSPENDED | REQUEUED | RESIZING | "") ;;
    *) break ;;
  esac
  slurmds_alive || fail "slurmd died during job $jobid: $(log_reason)"
  pid_alive "$CTLD_PID" || fail "slurmctld died during job $jobid: $(log_reason)"
  if [ $SECONDS -ge $deadline ]; then
    scancel "$jobid" 2>/dev/null
    echo "----- job $jobid output so far"; cat "$WORK/slurm-$jobid.out" 2>/dev/null
    fail "job $jobid still ${jstate:-unknown} after JOB_TIMEOUT=$JOB_TIMEOUT s (cancelled)"
  fi
  sleep 0.5
done
t_job=$((SECONDS - t0))
exitcode=$(grep -oE '(^| )ExitCode=[0-9]+:[0-9]+' <<<"$info" | cut -d= -f2)  # status:signal
rc=${exitcode%%:*}
[ "${exitcode#*:}" = 0 ] || rc=$((128 + ${exitcode#*:}))
echo "----- job $jobid: $(grep -oE '(^| )(JobState|ExitCode|RunTime|NodeList|NumTasks|Reason)=[^ ]*' <<<"$info" | paste -sd' ' -)"
echo "----- job output ($WORK/slurm-$jobid.out)"
cat "$WORK/slurm-$jobid.out" 2>/dev/null
echo "-----"
if [ "$jstate" != COMPLETED ] || [ "$rc" != 0 ]; then
  fail "job $jobid ended $jstate with exit code ${exitcode:-?}"
fi

# ---------------------------------------------------------------- 5. checks
export JOB_DIR=$OUT_ROOT/$jobid
if [ ! -d "$JOB_DIR" ]; then
  # Slurm 22.05 can report COMPLETED 0:0 for a batch step that never started (e.g. a failing
  # proctrack/task plugin): then there is no output file either, and slurmd's log says why.
  [ -e "$WORK/slurm-$jobid.out" ] || fail "job $jobid: the batch script never ran (no output file): $(log_reason)"
  fail "job $jobid exited 0 but wrote no job folder $JOB_DIR"
fi
echo "job folder $JOB_DIR: $(find "$JOB_DIR" -mindepth 1 -maxdepth 1 -printf '%f ')"
if [ -n "${CHECK_CMD:-}" ]; then
  (eval "$CHECK_CMD") || fail "CHECK_CMD failed: $CHECK_CMD"
  echo "check passed: $CHECK_CMD"
fi
failed=0
say "PASSED $(basename "$SBATCH_FILE"): install ${t_install} s, slurm startup ${t_startup} s, job ${t_job} s (total $((SECONDS - t_start)) s)"
