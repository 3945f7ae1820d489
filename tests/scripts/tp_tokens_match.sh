#!/usr/bin/env bash
# A synthetic model (config.json of shapes no fixture has, e.g. 6 heads for tp 3) generates the same tokens at
# tensor-parallel size TP as on one rank: greedy and sampled, three prompts of different lengths batched together.
# usage: tp_tokens_match.sh AUTODIST CONFIG_JSON TP [PP]
set -euo pipefail
bin=$1; cfg=$2; tp=$3; pp=${4:-1}
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$bin" synth --config "$cfg" --out "$dir/model" --dtype f32 --seed 3 > /dev/null
printf '1,2,3\n5,6,7,8,9,10,11,12,13,14,15,16,17\n42\n' > "$dir/prompts.txt"
gen() { "$@" | grep '^\[' ; }
for s in "--temperature 0" "--temperature 0.9 --top-k 20 --seed 5"; do
  common=(generate --model "$dir/model" --prompts-file "$dir/prompts.txt" --batch-size 3 --max-output-length 20
          --min-output-length 20 --log-level warn $s)
  one=$(gen "$bin" "${common[@]}")
  par=$(gen timeout 120 mpirun -np $((tp * pp)) --oversubscribe "$bin" "${common[@]}" --tp "$tp" --pp "$pp")
  if [ "$one" != "$par" ]; then echo "MISMATCH ($s)"; echo "one rank:"; echo "$one"; echo "tp $tp pp $pp:"; echo "$par"; exit 1; fi
  echo "ok ($s): tp $tp x pp $pp equals one rank"; echo "$par" | head -1
done
