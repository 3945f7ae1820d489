#!/usr/bin/env bash
# Benchmark (not a test): do ranks on an oversubscribed machine starve each other? Times `autodist generate` at
# tp 2 x pp 2 (4 ranks) on this machine's cores: on one host, and on a 2-host namespace cluster (2 ranks a host),
# each with our wait loop alone and with Open MPI's mpi_yield_when_idle=1 as well; tp 2 (2 ranks) for reference.
#   tests/cluster/bench_oversubscribed.sh [AUTODIST] [MODEL] [OUT_CSV]
# Prints TTFT, decode ms/step and the CPU seconds of all ranks (user + sys; one host only: on the cluster the ranks
# are not mpirun's waited-for descendants) per run (median of REPS=3 by ms/step).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/build/autodist} model=${2:-$repo/tests/data/models/qwen3-tiny} out=${3:-$repo/runs/cluster/oversubscribed.csv}
mkdir -p "$(dirname "$out")"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
prompt=$(seq -s, 1 64)
gen=(generate --model "$model" --prompt-ids "$prompt" --max-output-length 64)
one() {  # one LABEL NP YIELD PAR...: prints "label,np,yield,ttft_ms,ms_per_step,cpu_s"
  local label=$1 np=$2 yield=$3; shift 3
  local log; log=$(mktemp)
  local t0; t0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
  TIMEFORMAT='%U %S'
  local cpu; cpu=$( { time OMPI_MCA_mpi_yield_when_idle=$yield timeout 300 mpirun -np "$np" --oversubscribe \
      ${MPIRUN_ARGS:-} "$bin" "${gen[@]}" "$@" >"$log" 2>&1; } 2>&1 | awk '{print $1 + $2}')
  awk -v l="$label" -v np="$np" -v y="$yield" -v cpu="$cpu" '/^timing:/ {
      for (i = 1; i <= NF; i++) { if ($i == "(TTFT)") ttft = $(i + 1); if ($i == "ms/step,") step = $(i - 1) }
      printf "%s,%d,%d,%s,%s,%s\n", l, np, y, ttft, step, ENVIRON["NO_CPU"] ? "" : cpu }' "$log"
  grep -q '^timing:' "$log" || { echo "$label: failed: $(tail -n 3 "$log")" >&2; }
  rm -f "$log"
}
median_of() {  # median_of LABEL NP YIELD PAR...: REPS runs, the median by ms/step
  local i rows=""
  for i in $(seq 1 "${REPS:-3}"); do rows+=$(one "$@")$'\n'; done
  sort -t, -k5 -g <<<"${rows%$'\n'}" | sed -n "$(( (${REPS:-3} + 1) / 2 ))p"
}
export -f one median_of
export bin prompt
echo "config,ranks,yield_when_idle,ttft_ms,decode_ms_per_step,cpu_s" >"$out"
{
  median_of "1 host tp2" 2 0 --tp 2
  median_of "1 host tp2xpp2" 4 0 --tp 2 --pp 2
  median_of "1 host tp2xpp2" 4 1 --tp 2 --pp 2
  # shellcheck disable=SC2016
  "$here/with_cluster.sh" 2 --slots 2 -- env NO_CPU=1 bash -c "$(declare -p gen); $(declare -f one median_of)"'
    median_of "2 hosts tp2xpp2" 4 0 --tp 2 --pp 2
    median_of "2 hosts tp2xpp2" 4 1 --tp 2 --pp 2' 2>/dev/null
} | tee -a "$out" | awk -F, 'BEGIN { printf "%-18s %5s %5s %9s %13s %7s\n", "config", "ranks", "yield", "TTFT ms", "ms/step", "CPU s" }
  { printf "%-18s %5s %5s %9s %13s %7s\n", $1, $2, $3, $4, $5, $6 }'
echo "cores: $(nproc); wrote $out"
