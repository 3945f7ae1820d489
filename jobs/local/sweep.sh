#!/usr/bin/env bash
# A sweep on one workstation, then its report.
#   usage: jobs/local/sweep.sh CONFIG.yaml [RANKS] [OUTPUT_DIR]
# Example: jobs/local/sweep.sh configs/sweeps/test_fixtures.yaml 4 runs/fixtures
set -euo pipefail
config=${1:?sweep config (configs/sweeps/*.yaml)}; ranks=${2:-4}
out=${3:-runs/$(basename "$config" .yaml)-$(date +%Y%m%d-%H%M%S)}
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${AUTODIST:-$here/build/autodist}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# One BLAS thread per rank; ranks beyond the cores yield instead of spinning while they wait.
extra=()
[ "$ranks" -gt "$(nproc)" ] && extra=(--oversubscribe -x OMPI_MCA_mpi_yield_when_idle=1)
mpirun -np "$ranks" "${extra[@]}" -x OPENBLAS_NUM_THREADS=1 "$bin" sweep --config "$config" --output-dir "$out"
make -s -C "$here" report DIR="$(cd "$out" && pwd)"
