#!/usr/bin/env bash
# Prompts of different lengths decoded together give exactly the tokens each gives alone.
# usage: batch_vs_single.sh AUTODIST MODEL_DIR [extra args for the batched run, e.g. mpirun prefix via env LAUNCH]
set -euo pipefail
bin=$1; model=$2; shift 2
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
printf '1,2,3\n5,6,7,8,9,10,11\n12\n100,200,300,400,500,600,700,800,900,1000,11,12,13\n' > "$dir/prompts.txt"
gen() { ${LAUNCH_SINGLE:-} "$bin" generate --model "$model" --max-output-length 12 --min-output-length 12 "$@" | grep '^\[' | sed 's/^\[[0-9]*\] //'; }
single=""
while read -r p; do single+="$(gen --prompt-ids "$p")"$'\n'; done < "$dir/prompts.txt"
batched="$(${LAUNCH:-} "$bin" generate --model "$model" --max-output-length 12 --min-output-length 12 --prompts-file "$dir/prompts.txt" --batch-size 4 "$@" | grep '^\[' | sed 's/^\[[0-9]*\] //')"$'\n'
if [ "$single" != "$batched" ]; then echo "MISMATCH"; echo "single:"; echo "$single"; echo "batched:"; echo "$batched"; exit 1; fi
echo "ok: batch of 4 equals single runs"; echo "$batched"
