#!/usr/bin/env bash
# Output files and the shard cache under hostile conditions (issue 18). usage: output_check.sh AUTODIST CASE
#   concurrent   4 generate runs at once into one --output-dir: trace.h5 holds all 4 runs, results.jsonl all lines whole
#   disk_full    results.jsonl on a full disk (/dev/full): exit non-zero, "No space left on device", the path named
#   corrupt      garbage or a truncated trace.h5 fails the run before it generates (no results line), naming the file
#   lock_timeout a held output lock makes the run give up after AUTODIST_LOCK_TIMEOUT_S, naming the lock and holder
#   trace_temp   stale temporaries of a killed trace write are removed by the next append; a live one's are kept
#   cache_temp   stale temporaries in the shard cache are counted by cache list/verify and removed by the next run
#   same_name    two models with the same directory name, sizes and mtimes but other weights get separate cache
#                entries; a cache file whose manifest names another model is rebuilt, never used
set -euo pipefail
bin=$1; case=$2
here=$(cd "$(dirname "$0")" && pwd)
py=$here/../sweep/py.sh
work=$(mktemp -d); holder=""
trap '[ -n "$holder" ] && kill $holder 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
synth() { "$bin" synth --preset tiny --out "$1" --seed "$2" >/dev/null; }
# gen MODEL LOG [args]: one sampled generate (the tokens depend on every weight), output in LOG.
gen() {
  local model=$1 log=$2; shift 2
  timeout 120 "$bin" generate --model "$model" --prompt-ids 100,2000,30000,5,77 --max-output-length 12 \
    --temperature 1 --seed 7 --log-level info "$@" >"$log" 2>&1
}
tokens() { sed -nE 's/^\[0\] prompt .*: ([0-9,]+)$/\1/p' "$1"; }
dead_pid() { sh -c 'exit 0' & local p=$!; wait $p; echo $p; }
host=$(hostname | sed 's/[^A-Za-z0-9_-]/_/g')
# runs TRACE: how many /runs groups the trace holds, each with one metrics row (the project's format, via h5py).
runs() {
  "$py" - "$1" <<'EOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.attrs["format"] in ("autodist-trace", b"autodist-trace")
runs = f["runs"]
for g in runs.values():
    assert g["metrics"].shape == (1,), g.name
print(len(runs))
EOF
}

case $case in
concurrent)
  synth "$work/m" 1
  n=4 per=3
  for i in $(seq 1 $n); do
    for j in $(seq 1 $per); do echo "$i,$j,7"; done >"$work/p$i.txt"
  done
  pids=()
  for i in $(seq 1 $n); do
    timeout 120 "$bin" generate --model "$work/m" --prompts-file "$work/p$i.txt" --max-output-length 4 \
      --output-dir "$work/d" >"$work/g$i.log" 2>&1 & pids+=($!)
  done
  for i in $(seq 1 $n); do wait ${pids[$((i - 1))]} || { cat "$work/g$i.log"; fail "run $i"; }; done
  got=$(runs "$work/d/trace.h5")
  [ "$got" = $n ] || fail "trace.h5 holds $got runs, expected $n (concurrent appends lost records)"
  "$py" - "$work/d/results.jsonl" $n $per <<'EOF' || fail "results.jsonl is not $n x $per whole lines"
import sys, json
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "no newline at the end"
rows = [json.loads(l) for l in lines[:-1]]
n, per = int(sys.argv[2]), int(sys.argv[3])
assert len(rows) == n * per, len(rows)
seen = sorted((r["prompt_ids"][0], r["prompt_ids"][1]) for r in rows)
assert seen == [(i, j) for i in range(1, n + 1) for j in range(1, per + 1)], seen
EOF
  ! ls -A "$work/d" | grep -q '\.tmp\.' || { ls -A "$work/d"; fail "temporary files left behind"; }
  echo "$n concurrent runs: trace.h5 holds $got runs, results.jsonl $((n * per)) whole lines"
  ;;
disk_full)
  synth "$work/m" 1
  mkdir "$work/d"
  ln -s /dev/full "$work/d/results.jsonl"
  rc=0; gen "$work/m" "$work/g.log" --output-dir "$work/d" || rc=$?
  [ $rc != 0 ] || { cat "$work/g.log"; fail "a results.jsonl on a full disk must fail the run"; }
  [ $rc -lt 124 ] || { cat "$work/g.log"; fail "exit $rc (crash or hang)"; }
  grep -q "cannot write $work/d/results.jsonl: No space left on device" "$work/g.log" ||
    { cat "$work/g.log"; fail "the message must name results.jsonl and say: No space left on device"; }
  echo "full disk: exit $rc, $(grep -o 'cannot write.*' "$work/g.log")"
  ;;
corrupt)
  synth "$work/m" 1
  mkdir "$work/d" "$work/e"
  head -c 5000 /dev/urandom >"$work/d/trace.h5"
  rc=0; gen "$work/m" "$work/g.log" --output-dir "$work/d" || rc=$?
  [ $rc = 1 ] || { cat "$work/g.log"; fail "garbage trace.h5: exit $rc, expected 1"; }
  grep -q "cannot append to the existing $work/d/trace.h5: .*not an autodist trace" "$work/g.log" ||
    { cat "$work/g.log"; fail "the message must name the trace"; }
  [ ! -e "$work/d/results.jsonl" ] || fail "the run generated (results.jsonl written) before refusing the trace"
  ! grep -q "prompt (" "$work/g.log" || fail "the run generated before refusing the trace"
  # A real trace cut short: HDF5 itself notices.
  gen "$work/m" "$work/ok.log" --output-dir "$work/e" || { cat "$work/ok.log"; fail "first run"; }
  truncate -s $(($(stat -c %s "$work/e/trace.h5") / 2)) "$work/e/trace.h5"
  rc=0; gen "$work/m" "$work/t.log" --output-dir "$work/e" || rc=$?
  [ $rc = 1 ] || { cat "$work/t.log"; fail "truncated trace.h5: exit $rc, expected 1"; }
  grep -q "cannot append to the existing $work/e/trace.h5" "$work/t.log" || { cat "$work/t.log"; fail "no message"; }
  [ "$(wc -l <"$work/e/results.jsonl")" = 1 ] || fail "the run generated before refusing the truncated trace"
  echo "corrupt traces refused before generating: $(grep -o 'error: .*' "$work/t.log" | head -1)"
  ;;
lock_timeout)
  synth "$work/m" 1
  mkdir "$work/d"
  flock "$work/d/.autodist.lock" sleep 60 & holder=$!
  sleep 0.5
  rc=0; AUTODIST_LOCK_TIMEOUT_S=1 gen "$work/m" "$work/g.log" --output-dir "$work/d" || rc=$?
  [ $rc = 1 ] || { cat "$work/g.log"; fail "a held lock: exit $rc, expected 1"; }
  grep -q "gave up after 1 s waiting for the lock $work/d/.autodist.lock, held by" "$work/g.log" ||
    { cat "$work/g.log"; fail "the message must name the lock and its holder"; }
  kill $holder; wait $holder 2>/dev/null || true; holder=""
  gen "$work/m" "$work/ok.log" --output-dir "$work/d" || { cat "$work/ok.log"; fail "run after the lock was freed"; }
  echo "held lock: $(grep -o 'gave up.*' "$work/g.log")"
  ;;
trace_temp)
  synth "$work/m" 1
  gen "$work/m" "$work/a.log" --output-dir "$work/d" || { cat "$work/a.log"; fail "first run"; }
  dead=$(dead_pid)
  head -c 3000000 /dev/zero >"$work/d/.tmp.$host.$dead.0badf00d.trace.h5"  # this version's name
  head -c 3000000 /dev/zero >"$work/d/trace.h5.tmp.$dead"                  # older versions' name
  sleep 300 & live=$!
  head -c 1000 /dev/zero >"$work/d/.tmp.$host.$live.0badf00d.trace.h5"     # a writer that is still running
  gen "$work/m" "$work/b.log" --output-dir "$work/d" || { kill $live; cat "$work/b.log"; fail "second run"; }
  kill $live
  left=$(ls -A "$work/d" | grep '\.tmp\.' || true)
  [ "$left" = ".tmp.$host.$live.0badf00d.trace.h5" ] || fail "expected only the live writer's temporary, found: $left"
  [ "$(runs "$work/d/trace.h5")" = 2 ] || fail "trace.h5 should hold 2 runs"
  grep -q "removed $work/d/trace.h5.tmp.$dead (3.0 MB), left by an interrupted write" "$work/b.log" ||
    { cat "$work/b.log"; fail "the sweep should say what it removed"; }
  echo "stale trace temporaries removed, the live writer's kept"
  ;;
cache_temp)
  synth "$work/m" 1
  gen "$work/m" "$work/a.log" --cache-dir "$work/c" || { cat "$work/a.log"; fail "first run"; }
  entry=$(dirname "$(find "$work/c" -name rank0.json)")
  dead=$(dead_pid)
  head -c 5000000 /dev/zero >"$entry/.tmp.$host.$dead.0badf00d.rank0.safetensors"
  head -c 2000000 /dev/zero >"$entry/rank0.safetensors.tmp.$dead.0badf00d"
  "$bin" cache list --cache-dir "$work/c" >"$work/list.txt"
  grep -q "^# 2 temporary files (7.0 MB), 2 stale" "$work/list.txt" || { cat "$work/list.txt"; fail "cache list"; }
  grep -q "^# temporary file $entry/rank0.safetensors.tmp.$dead.0badf00d (2.0 MB, stale" "$work/list.txt" ||
    { cat "$work/list.txt"; fail "cache list should name each temporary"; }
  "$bin" cache verify --cache-dir "$work/c" >"$work/verify.txt" || { cat "$work/verify.txt"; fail "cache verify"; }
  grep -q "^# 2 temporary files (7.0 MB), 2 stale" "$work/verify.txt" || { cat "$work/verify.txt"; fail "verify"; }
  gen "$work/m" "$work/b.log" --cache-dir "$work/c" || { cat "$work/b.log"; fail "second run"; }
  grep -q "read 0 bytes from the checkpoint" "$work/b.log" || { cat "$work/b.log"; fail "second run missed the cache"; }
  ! find "$work/c" -name '*.tmp.*' | grep -q . || { find "$work/c"; fail "the next run left the stale temporaries"; }
  "$bin" cache list --cache-dir "$work/c" | grep -q "^# 0 temporary files (0.0 MB), 0 stale" || fail "list after"
  echo "cache list and verify counted 2 stale temporaries (7.0 MB); the next run removed them"
  ;;
same_name)
  synth "$work/a/model" 1
  synth "$work/b/model" 2
  cp "$work/a/model/config.json" "$work/b/model/config.json"  # the same config (synth notes its seed there)
  for f in "$work/a/model"/*; do touch -r "$f" "$work/b/model/$(basename "$f")"; done
  gen "$work/b/model" "$work/b_plain.log" || { cat "$work/b_plain.log"; fail "b uncached"; }
  gen "$work/a/model" "$work/a_cache.log" --cache-dir "$work/c" || { cat "$work/a_cache.log"; fail "a cached"; }
  [ "$(tokens "$work/a_cache.log")" != "$(tokens "$work/b_plain.log")" ] || fail "the two models should differ"
  gen "$work/b/model" "$work/b_cache.log" --cache-dir "$work/c" || { cat "$work/b_cache.log"; fail "b cached"; }
  grep -q "read [1-9][0-9]* bytes from the checkpoint, 0 bytes from the shard cache" "$work/b_cache.log" ||
    { cat "$work/b_cache.log"; fail "model b was served from model a's cache entry"; }
  [ "$(tokens "$work/b_cache.log")" = "$(tokens "$work/b_plain.log")" ] || fail "model b's tokens changed with the cache"
  [ "$(ls "$work/c" | wc -l)" = 2 ] || { ls "$work/c"; fail "expected one cache entry per model"; }
  ma=$(find "$work/c" -name rank0.json | xargs grep -l "\"$work/a/model\"")
  grep -q '"fingerprint": "model-' "$ma" || { cat "$ma"; fail "the manifest should hold the fingerprint"; }
  # A cache file that is not this model's (as after a fingerprint collision): its manifest says so, it is rebuilt.
  mb=$(find "$work/c" -name rank0.json | xargs grep -l "\"$work/b/model\"")
  cp "$(dirname "$ma")/rank0.safetensors" "$(dirname "$mb")/rank0.safetensors"
  cp "$ma" "$mb"
  gen "$work/b/model" "$work/b_swap.log" --cache-dir "$work/c" || { cat "$work/b_swap.log"; fail "b swapped"; }
  grep -q "warn: shard cache: manifest $mb was written for model $work/a/model .*rebuilding" "$work/b_swap.log" ||
    { cat "$work/b_swap.log"; fail "no rebuild warning for another model's cache file"; }
  [ "$(tokens "$work/b_swap.log")" = "$(tokens "$work/b_plain.log")" ] || fail "model b ran on model a's weights"
  gen "$work/b/model" "$work/b_again.log" --cache-dir "$work/c" || fail "b again"
  grep -q "read 0 bytes from the checkpoint" "$work/b_again.log" || { cat "$work/b_again.log"; fail "not cached"; }
  [ "$(tokens "$work/b_again.log")" = "$(tokens "$work/b_plain.log")" ] || fail "model b's cached tokens differ"
  echo "same name, sizes and mtimes: separate entries, the same tokens with and without the cache"
  ;;
*) fail "unknown case $case" ;;
esac
