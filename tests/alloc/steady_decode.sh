#!/usr/bin/env bash
# A steady decode step performs no heap allocation: the same generate run with 16 and with 80 output tokens
# (eos ignored), every allocation of every rank counted by an LD_PRELOAD counter; per rank the longer run may make
# at most one allocation more per extra decode step (64), which a per-step allocation anywhere (runtime, backend,
# communicator, MPI itself) exceeds at once.
# usage: steady_decode.sh AUTODIST COUNTER_SO MODEL NP [generate args]
set -euo pipefail
bin=$1; so=$2; model=$3; np=$4; shift 4
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
count() {
  local n=$1; shift
  rm -f "$dir"/ac.*
  # only the autodist processes are counted (not timeout or mpirun)
  local launch=(env ALLOC_COUNTER_OUT="$dir/ac" LD_PRELOAD="$so")
  if [ "$np" -gt 1 ]; then launch=(mpirun -np "$np" --oversubscribe -x ALLOC_COUNTER_OUT="$dir/ac" -x LD_PRELOAD="$so"); fi
  timeout 120 "${launch[@]}" "$bin" generate --model "$model" --max-output-length "$n" --min-output-length "$n" \
    --log-level warn "$@" > "$dir/out.$n"
  for r in $(seq 0 $((np - 1))); do
    f="$dir/ac.rank$r"; [ "$np" -eq 1 ] && f=$(ls "$dir"/ac.pid* | head -1)
    [ -f "$f" ] || { echo "no count from rank $r"; exit 1; }
    awk '{print $2}' "$f"
  done
}
mapfile -t short < <(count 16 "$@")
mapfile -t long < <(count 80 "$@")
grep -q "80 tokens (length)" "$dir/out.80" || { echo "the 80-token run did not produce 80 tokens:"; cat "$dir/out.80"; exit 1; }
fail=0
for r in $(seq 0 $((np - 1))); do
  d=$((long[r] - short[r]))
  echo "rank $r: ${short[r]} allocations with 16 tokens, ${long[r]} with 80: +$d over 64 extra steps"
  [ "$d" -le 64 ] || fail=1
done
[ "$fail" -eq 0 ] || { echo "FAILED: a decode step allocates"; exit 1; }
echo "ok: no allocation per decode step"
