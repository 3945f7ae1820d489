#!/usr/bin/env bash
# The `make run` demo: one prompt, generated greedily in five layouts (1 rank, tensor parallel, pipeline, SP+PP with
# a pairwise and a ring KV sync) into ONE trace; checks that every layout produced the same tokens; renders the report.
# usage: scripts/demo.sh [AUTODIST [OUT_DIR [REPORT_DIR]]]   (defaults: build/autodist build/demo notebooks_out/demo)
#   OUT_DIR gets the model, results.jsonl, trace.h5 and one log per run; it is emptied first (only if it is empty or
#   was made by this script). MPIRUN overrides the launcher (default: mpirun --oversubscribe).
# Exit status: 0 ok; 1 a run failed or the layouts disagree; 77 python3 with h5py is missing (no report).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$repo/build/autodist}; out=${2:-$repo/build/demo}; report=${3:-$repo/notebooks_out/demo}
read -r -a mpirun <<<"${MPIRUN:-mpirun --oversubscribe}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  # harmless when not root
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}           # 2 ranks on 2 cores: one BLAS thread each
tok=$repo/data/tokenizers/qwen3
prompt="Explain tensor parallelism in one sentence."
new_tokens=16 chunk=4

die() { echo "demo: error: $*" >&2; exit 1; }
[ -x "$bin" ] || die "$bin is not an executable (build it: make build)"
[ -f "$tok/tokenizer.json" ] || die "$tok/tokenizer.json is missing (run: make deps)"
command -v "${mpirun[0]}" >/dev/null || die "${mpirun[0]} not found (run: make deps)"
# Start clean so reruns do not accumulate runs in trace.h5, but never wipe a folder this script did not make.
[ ! -e "$out" ] || [ -d "$out" ] || die "$out exists and is not a folder"
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -f "$out/.autodist-demo" ]; then
  die "$out is not empty and was not made by this script; pick another OUT_DIR"
fi
rm -rf "$out"; mkdir -p "$out/logs"; touch "$out/.autodist-demo"
out=$(cd "$out" && pwd)
jsonl=$out/results.jsonl

# run LOGNAME CMD...: runs CMD (2 min at most) with its output in logs/LOGNAME.log; on failure shows the log's tail.
run() {
  local log=$out/logs/$1.log; shift
  local rc=0; timeout 120 "$@" >"$log" 2>&1 || rc=$?
  [ $rc = 0 ] && return
  [ $rc = 124 ] && echo "demo: error: timed out after 120 s: $*" >&2 || echo "demo: error: exit status $rc: $*" >&2
  echo "---- last lines of $log:" >&2; tail -n 25 "$log" >&2; exit 1
}
# field JSON KEY: a number or the [..] list of a key of one results.jsonl line (compact JSON, as generate writes it).
field() { sed -nE "s/.*\"$2\":\[?([-0-9.eE+,]*)\]?[,}].*/\1/p" <<<"$1"; }

echo "== 1. synth: a tiny Qwen3-shaped model (2 layers, hidden 64) with random weights and the real Qwen3 vocabulary"
run synth "$bin" synth --preset tiny --out "$out/models/tiny" --seed 1
sed 's/^/   /' "$out/logs/synth.log"

gen=(generate --model "$out/models/tiny" --tokenizer "$tok" --prompt "$prompt" --temperature 0
     --max-output-length "$new_tokens" --output-dir "$out" --log-level info)
names=() lines=()
# layout NAME LOG NP "WHAT IS SHOWN" FLAGS...: one generate on NP ranks; keeps its line of results.jsonl.
layout() {
  local name=$1 log=$2 np=$3 what=$4; shift 4
  echo "-- $name: $what"
  local t0=$SECONDS
  if [ "$np" = 1 ]; then run "$log" "$bin" "${gen[@]}" "$@"
  else run "$log" "${mpirun[@]}" -np "$np" "$bin" "${gen[@]}" "$@"; fi
  local n; n=$(wc -l <"$jsonl")
  [ "$n" = $((${#names[@]} + 1)) ] || die "$name: expected line $((${#names[@]} + 1)) in $jsonl, found $n lines"
  names+=("$name"); lines+=("$(tail -n 1 "$jsonl")")
  # From rank 0's log: the layers per stage and the weights it holds; the SP+PP phase table when there is one.
  log=$out/logs/$log.log
  local split mb
  split=$(sed -nE 's/.*\[0\/[0-9]+\] info: partition .* over ([0-9]+) stages.*: (.*)/\1 stage(s), layers \2/p' "$log")
  mb=$(sed -nE 's/.*\[0\/[0-9]+\] info: stage 0 .*: ([0-9.]+ MB) of weights.*/\1/p' "$log")
  echo "   $split; rank 0 holds $mb of weights (f32)"
  grep '^| [0-9r]' "$log" | sed 's/^/   /' || true
  echo "   ok in $((SECONDS - t0)) s; log: $log"
}

echo
echo "== 2. generate: \"$prompt\" -> $new_tokens tokens, greedy (temperature 0), every run appended to one trace.h5"
layout "1 rank" 1rank 1 "the reference: one process holds every layer"
layout "tp 2" tp2 2 "tensor parallel over 2 ranks: each layer's heads and MLP split in two, all_reduce per layer" \
  --tp 2
layout "pp 2" pp2 2 "pipeline over 2 stages: layer 0 on rank 0, layer 1 on rank 1, activations sent between them" --pp 2
plen=$(field "${lines[0]}" prompt_ids | tr ',' '\n' | wc -l)
sp="SP+PP prefill: the $plen prompt tokens in $(( (plen + chunk - 1) / chunk )) chunks of $chunk through the 2 stages"
layout "sp+pp pairwise" sp_pairwise 2 "$sp, then a KV-cache sync (pairwise) and decode on every rank" \
  --pp 2 --sp-chunk-size "$chunk" --kv-sync pairwise
layout "sp+pp ring" sp_ring 2 "the same with a ring KV-cache sync" --pp 2 --sp-chunk-size "$chunk" --kv-sync ring

echo
echo "== 3. results (from $jsonl)"
ref=$(field "${lines[0]}" output_ids); bad=""
printf '   %-15s %9s %7s  %s\n' layout "TTFT ms" "tok/s" "output text (JSON-escaped)"
for i in "${!names[@]}"; do
  l=${lines[$i]}; ids=$(field "$l" output_ids)
  [ -n "$ids" ] || die "${names[$i]}: no output_ids in its line of $jsonl"
  ttft=$(field "$l" ttft_ms); pre=$(field "$l" prefill_ms); dec=$(field "$l" decode_ms)
  n=$(tr ',' '\n' <<<"$ids" | wc -l)
  read -r ttft tps < <(awk -v t="$ttft" -v n="$n" -v a="$pre" -v b="$dec" \
    'BEGIN { print (t == "" ? "-" : sprintf("%.2f", t)), ((a + b) > 0 ? sprintf("%.1f", 1000 * n / (a + b)) : "-") }')
  text=$(grep -oE '"output_text":"([^"\\]|\\.)*"' <<<"$l" | sed -E 's/^"output_text"://')
  mark=""; if [ "$ids" != "$ref" ]; then mark="  <-- DIFFERS"; bad+="${bad:+, }${names[$i]}"; fi
  printf '   %-15s %9s %7s  %.60s%s\n' "${names[$i]}" "$ttft" "$tps" "$text" "$mark"
done
echo "   token ids: $ref"
echo "   (rank 0's numbers from results.jsonl; tok/s = output tokens / (prefill + decode); the report takes the worst rank)"
if [ -n "$bad" ]; then
  echo "demo: error: greedy decoding must give the same tokens in every layout; differs from '1 rank': $bad" >&2
  for i in "${!names[@]}"; do echo "   ${names[$i]}: $(field "${lines[$i]}" output_ids)" >&2; done
  exit 1
fi
echo "   every layout produced the same ${n} tokens (greedy), as the single rank did"

echo
echo "== 4. report: per-rank timeline, TTFT and throughput per layout, SP+PP prefill (experiments/report.py)"
if ! "$repo/tests/sweep/py.sh" -c "import h5py" >/dev/null 2>&1; then
  echo "demo: skipped the report: python3 with h5py not found (apt-get install python3-h5py python3-matplotlib)"
  exit 77
fi
run report "$repo/tests/sweep/py.sh" "$repo/experiments/report.py" --trace "$out" --out "$report" --name demo
[ -s "$report/index.html" ] || die "the report did not write $report/index.html (log: $out/logs/report.log)"
echo "   trace: $out/trace.h5 (${#names[@]} runs); figures and the runs table in:"
echo "$(cd "$report" && pwd)/index.html"
