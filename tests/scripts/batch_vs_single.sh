#!/usr/bin/env bash
# Prompts of different lengths decoded together give exactly the tokens each gives alone on one rank.
# usage: [LAUNCH="mpirun -np 2"] [PAR="--pp 2 --micro-batches 2"] batch_vs_single.sh AUTODIST MODEL_DIR [sampling args]
set -euo pipefail
bin=$1; model=$2; shift 2
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
printf '1,2,3\n5,6,7,8,9,10,11\n12\n100,200,300,400,500,600,700,800,900,1000,11,12,13\n' > "$dir/prompts.txt"
gen() { "$@" | grep '^\[' | sed 's/^\[[0-9]*\] //'; }
common=(generate --model "$model" --max-output-length 12 --min-output-length 12 "$@")
single=""
while read -r p; do single+="$(gen "$bin" "${common[@]}" --prompt-ids "$p")"$'\n'; done < "$dir/prompts.txt"
batched="$(gen ${LAUNCH:-} "$bin" "${common[@]}" --prompts-file "$dir/prompts.txt" --batch-size 4 ${PAR:-})"$'\n'
if [ "$single" != "$batched" ]; then echo "MISMATCH"; echo "single:"; echo "$single"; echo "batched:"; echo "$batched"; exit 1; fi
echo "ok: batch of 4 (${LAUNCH:-1 rank} ${PAR:-}) equals single-rank single-prompt runs"; echo "$batched"
