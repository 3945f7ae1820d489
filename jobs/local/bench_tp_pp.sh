#!/usr/bin/env bash
# Bench table for (tp, pp) in (1,1), (2,1), (1,2) on a synthetic qwen3-0.6b.
#   usage: jobs/local/bench_tp_pp.sh [MODEL_DIR] [PROMPT_LEN] [OUTPUT_LEN]
set -euo pipefail
root=$(dirname "$0")/../..
bin=${AUTODIST:-$root/build/autodist}
model=${1:-$root/build/models/qwen3-0.6b}; plen=${2:-128}; olen=${3:-16}
[ -f "$model/config.json" ] || "$bin" synth --preset qwen3-0.6b --out "$model" --dtype bf16
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for cfg in "1 1" "2 1" "1 2"; do
  set -- $cfg
  mpirun -np $(($1 * $2)) --oversubscribe -x OPENBLAS_NUM_THREADS=$(( $1 * $2 == 1 ? $(nproc) : 1 )) "$bin" bench \
    --model "$model" --tp "$1" --pp "$2" --prompt-len "$plen" --output-len "$olen" --log-level warn
done
