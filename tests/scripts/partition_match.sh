#!/usr/bin/env bash
# `autodist inspect` shows the pipeline split that `generate` uses (same policy, same --dtype): the partition lines
# of both must be equal, or both runs must refuse the split with the same message.
# usage: partition_match.sh AUTODIST MODEL PP [partition/dtype args]
set -uo pipefail
bin=$1; model=$2; pp=$3; shift 3
ins=$("$bin" inspect --model "$model" --pp "$pp" "$@" 2>&1); irc=$?
gen=$(timeout 60 mpirun -np "$pp" --oversubscribe "$bin" generate --model "$model" --pp "$pp" "$@" --prompt-ids 1,2 \
      --max-output-length 2 2>&1); grc=$?
line() { grep -E "partition .* over [0-9]+ stages|error: partition" | head -1 | sed -E 's/^\[[0-9]+\/[0-9]+\] (info|error): //; s/^error: //'; }
a=$(line <<<"$ins"); b=$(line <<<"$gen")
echo "inspect  (exit $irc): $a"
echo "generate (exit $grc): $b"
[ -n "$a" ] || { echo "inspect printed no partition line:"; echo "$ins"; exit 1; }
[ "$a" = "$b" ] || { echo "MISMATCH"; exit 1; }
if [ $irc -ne 0 ] || [ $grc -ne 0 ]; then [ $irc -ne 0 ] && [ $grc -ne 0 ] || { echo "only one of them failed"; exit 1; }; fi
echo "ok: inspect and generate agree"
