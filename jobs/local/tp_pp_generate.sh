#!/usr/bin/env bash
# Tensor x pipeline parallel generation on one workstation.
#   usage: jobs/local/tp_pp_generate.sh MODEL_DIR [TP] [PP] [extra autodist args]
# Example: jobs/local/tp_pp_generate.sh build/models/tiny 2 2 --batch-size 4 --micro-batches 2
set -euo pipefail
model=${1:?model directory}; tp=${2:-2}; pp=${3:-1}; shift $(( $# < 3 ? $# : 3 ))
bin=${AUTODIST:-$(dirname "$0")/../../build/autodist}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# One BLAS thread per rank so ranks do not fight over cores.
exec mpirun -np $((tp * pp)) --oversubscribe -x OPENBLAS_NUM_THREADS=1 "$bin" generate --model "$model" \
  --tp "$tp" --pp "$pp" --prompt-ids 9707,11,1879,0 --max-output-length 32 "$@"
