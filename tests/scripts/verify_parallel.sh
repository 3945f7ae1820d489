#!/usr/bin/env bash
# A tp x pp run against HF (fixture tolerance) and against the single-rank logits (atol 1e-4).
# usage: verify_parallel.sh AUTODIST MODEL_DIR SINGLE_DUMP TP PP [extra verify args]
# MPIRUN_ARGS: extra mpirun options (word-split), e.g. a namespace cluster's (tests/cluster/with_cluster.sh).
set -euo pipefail
bin=$1; model=$2; single=$3; tp=$4; pp=$5; shift 5
n=$((tp * pp))
# shellcheck disable=SC2086  # MPIRUN_ARGS is a word list
run() { timeout 120 mpirun -np $n --oversubscribe ${MPIRUN_ARGS:-} "$bin" verify --model "$model" --tp $tp --pp $pp "$@"; }
if [ -z "${ONLY_SINGLE:-}" ]; then  # ONLY_SINGLE=1: skip the HF run (single rank is within 3e-6 of HF)
  out1=$(run "$@" 2>&1) || { echo "$out1"; exit 1; }
  echo "$out1" | tail -1
fi
out2=$(run --reference "$single" --atol 1e-4 "$@" 2>&1) || { echo "vs single rank:"; echo "$out2"; exit 1; }
echo "vs single rank: $(echo "$out2" | tail -1)"
echo "$out2" | grep -E "^prompt" | sed 's/^/  /'
