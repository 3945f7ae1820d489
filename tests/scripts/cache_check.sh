#!/usr/bin/env bash
# Shard cache checks (issue 9). usage: cache_check.sh AUTODIST MODEL_DIR CASE [TP PP [extra verify args]]
#   identical   TP PP  uncached logits == first cached run (writes) == second cached run (reads, 0 checkpoint bytes)
#   corrupt            truncated and byte-flipped cache files are rebuilt with a warning; logits unchanged
#   concurrent  TP PP  two first runs at once against one cache dir: both pass, the cache verifies
#   fingerprint        touching a checkpoint file changes the fingerprint (a new entry, read from the checkpoint)
#   unwritable         a cache dir that cannot be created: warning, the run goes on
#   truncated_mapped   the cache file truncated under a running generate (its weights are the mapped file): the run
#                      ends with status 135 and a message naming the file, not a bare "Bus error"
set -euo pipefail
bin=$1; model=$2; case=$3; tp=${4:-1}; pp=${5:-1}; shift $(( $# < 5 ? $# : 5 )); extra=("$@")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
n=$((tp * pp))
fail() { echo "FAIL: $*"; exit 1; }
run() {  # run NAME [args]: verify against the fixture, logits dumped to $work/NAME.st, log in $work/NAME.log
  local name=$1; shift
  local launch=()
  [ $n -gt 1 ] && launch=(mpirun -np $n --oversubscribe)
  timeout 120 "${launch[@]}" "$bin" verify --model "$model" --tp $tp --pp $pp --dump-logits "$work/$name.st" "${extra[@]}" "$@" \
    >"$work/$name.log" 2>&1 || { cat "$work/$name.log"; fail "run $name"; }
}
count() { grep -c "$1" "$work/$2.log" || true; }

case $case in
identical)
  run plain
  run first --cache-dir "$work/cache"
  run second --cache-dir "$work/cache"
  [ "$(count 'read [1-9][0-9]* bytes from the checkpoint, 0 bytes from the shard cache' first)" = $n ] ||
    { cat "$work/first.log"; fail "first cached run should read the checkpoint on every rank"; }
  [ "$(count 'read 0 bytes from the checkpoint, [1-9][0-9]* bytes from the shard cache' second)" = $n ] ||
    { cat "$work/second.log"; fail "second run should read 0 checkpoint bytes on all $n ranks"; }
  cmp "$work/plain.st" "$work/first.st" || fail "logits differ: uncached vs cache-writing run"
  cmp "$work/plain.st" "$work/second.st" || fail "logits differ: uncached vs cached run"
  grep "bytes from the" "$work/second.log"
  echo "tp=$tp pp=$pp: logits bit-identical over 3 runs; cached run read 0 checkpoint bytes on $n ranks"
  ;;
corrupt)
  run plain --cache-dir "$work/cache"
  f=$(find "$work/cache" -name rank0.safetensors)
  size=$(stat -c %s "$f")
  truncate -s $((size - 100)) "$f"
  run truncated --cache-dir "$work/cache"
  grep -q "warn: shard cache: .*rank0.safetensors has $((size - 100)) bytes.*rebuilding" "$work/truncated.log" ||
    { cat "$work/truncated.log"; fail "no rebuild warning for a truncated file"; }
  cmp "$work/plain.st" "$work/truncated.st" || fail "logits differ after rebuilding a truncated file"
  [ "$(stat -c %s "$f")" = "$size" ] || fail "rebuilt file has the wrong size"
  # Flip one byte in the middle of the data.
  off=$((size / 2))
  b=$(od -An -tu1 -j $off -N1 "$f" | tr -d ' ')
  printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$f" bs=1 seek=$off conv=notrunc status=none
  "$bin" cache verify --cache-dir "$work/cache" >"$work/verify_bad.txt" && fail "cache verify passed a flipped byte"
  grep -q checksum "$work/verify_bad.txt" || fail "cache verify did not name the checksum"
  run flipped --cache-dir "$work/cache"
  grep -q "warn: shard cache: .*rank0.safetensors fails its checksum.*rebuilding" "$work/flipped.log" ||
    { cat "$work/flipped.log"; fail "no rebuild warning for a flipped byte"; }
  cmp "$work/plain.st" "$work/flipped.st" || fail "logits differ after rebuilding a flipped file"
  "$bin" cache verify --cache-dir "$work/cache" || fail "cache does not verify after the rebuild"
  echo "truncated and flipped files were rebuilt; logits identical; cache verifies"
  ;;
concurrent)
  run plain
  run a --cache-dir "$work/cache" & pa=$!
  run b --cache-dir "$work/cache" & pb=$!
  wait $pa || fail "first concurrent run"
  wait $pb || fail "second concurrent run"
  cmp "$work/plain.st" "$work/a.st" && cmp "$work/plain.st" "$work/b.st" || fail "logits differ"
  "$bin" cache verify --cache-dir "$work/cache" | tee "$work/verify.txt"
  [ "$(grep -c ' ok$' "$work/verify.txt")" = $n ] || fail "expected $n good rank files"
  ! find "$work/cache" -name '*.tmp.*' | grep -q . || fail "temporary files left behind"
  run c --cache-dir "$work/cache"
  [ "$(count 'read 0 bytes from the checkpoint' c)" = $n ] || fail "third run did not use the cache"
  echo "two concurrent first runs passed and left a valid cache of $n files"
  ;;
fingerprint)
  cp -r "$model" "$work/model"
  model=$work/model
  run one --cache-dir "$work/cache"
  touch -d '2001-01-01' "$work/model/model.safetensors"
  run two --cache-dir "$work/cache"
  grep -q "bytes from the checkpoint, 0 bytes from the shard cache" "$work/two.log" ||
    fail "a touched checkpoint must not be served from the old cache entry"
  [ "$(ls "$work/cache" | wc -l)" = 2 ] || { ls "$work/cache"; fail "expected two fingerprints"; }
  sed -i 's/"rms_norm_eps"/"rms_norm_eps" /' "$work/model/config.json"
  run three --cache-dir "$work/cache"
  [ "$(ls "$work/cache" | wc -l)" = 3 ] || { ls "$work/cache"; fail "a config change must change the fingerprint"; }
  "$bin" cache clear --cache-dir "$work/cache"
  [ -z "$(ls "$work/cache")" ] || fail "cache clear left files"
  echo "fingerprints: $(ls "$work/cache" | wc -l) after clear; touched file and edited config each made a new one"
  ;;
unwritable)
  run plain --cache-dir /proc/autodist-cache
  grep -q "warn: shard cache not written (the run goes on without it): cannot create /proc/autodist-cache" \
    "$work/plain.log" || { cat "$work/plain.log"; fail "no warning for an unwritable cache dir"; }
  echo "unwritable cache dir: warning, run passed"
  ;;
truncated_mapped)
  run first --cache-dir "$work/cache"
  # The run stops itself in its 3rd forward pass (AUTODIST_FAULT, SIGSTOP), the file is truncated, the run continues.
  AUTODIST_FAULT=0:3:stop "$bin" generate --model "$model" --prompt-ids 1,2,3 --max-output-length 16 \
    --cache-dir "$work/cache" >"$work/gen.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do grep -q "AUTODIST_FAULT: stopping" "$work/gen.log" && break; sleep 0.1; done
  grep -q "0 bytes from the checkpoint" "$work/gen.log" || { kill -9 $pid; cat "$work/gen.log"; fail "generate did not load from the cache"; }
  sleep 0.2  # the message is written just before SIGSTOP
  f=$(ls "$work"/cache/*/*/rank0.safetensors)
  truncate -s 0 "$f"
  kill -CONT $pid
  rc=0; timeout 60 tail --pid=$pid -f /dev/null || true; wait $pid || rc=$?
  [ $rc = 135 ] || { tail -5 "$work/gen.log"; fail "expected exit status 135 after the truncation, got $rc"; }
  grep -q "error: $f was truncated or became unreadable while its weights were in use (SIGBUS at offset [0-9]*); ending" \
    "$work/gen.log" || { tail -5 "$work/gen.log"; fail "no message naming the truncated file"; }
  echo "truncated while mapped: status $rc, message names $f"
  ;;
*) fail "unknown case $case" ;;
esac
