#!/usr/bin/env bash
# Verifies one model against its reference at every (tp, pp) the model allows.
#   usage: jobs/local/verify_all.sh MODEL_DIR
set -uo pipefail
model=${1:?model directory}
bin=${AUTODIST:-$(dirname "$0")/../../build/autodist}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for cfg in "1 1" "2 1" "4 1" "1 2" "1 3" "2 2" "1 4"; do
  set -- $cfg
  printf 'tp %s pp %s: ' "$1" "$2"
  mpirun -np $(($1 * $2)) --oversubscribe -x OPENBLAS_NUM_THREADS=1 "$bin" verify --model "$model" --tp "$1" --pp "$2" \
    --log-level warn 2>&1 | tail -1
done
