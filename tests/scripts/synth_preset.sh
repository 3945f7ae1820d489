#!/usr/bin/env bash
# A synth preset with real shapes writes a checkpoint the engine loads and runs, and inspect counts its parameters.
# usage: synth_preset.sh AUTODIST PRESET "parameters N M" [generate args]
set -euo pipefail
bin=$1; preset=$2; want=$3; shift 3
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$bin" synth --preset "$preset" --out "$dir/m" --dtype bf16 --seed 2
"$bin" inspect --model "$dir/m" | tee "$dir/inspect.txt"
grep -q "$want" "$dir/inspect.txt" || { echo "inspect does not say '$want'"; exit 1; }
"$bin" generate --model "$dir/m" --dtype bf16 --prompt-ids 11,12,13 --max-output-length 4 --min-output-length 4 "$@" \
  | tee "$dir/gen.txt"
grep -q "3 tokens) -> 4 tokens" "$dir/gen.txt"
echo "ok: $preset"
