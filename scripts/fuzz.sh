#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang + ASan + UBSan) and runs each for SECONDS (default 60) on a copy
# of its seed corpus; exits non-zero on any finding (crash, sanitizer report, leak, timeout, out-of-memory), naming
# the reproducer. `make fuzz-ci` runs 60 s a target, `make fuzz` 600 s (FUZZ_SECONDS overrides).
#   usage: scripts/fuzz.sh [SECONDS] [TARGET...]        (FUZZ_BUILD: build dir, default build-fuzz)
# Reproduce a finding: build-fuzz/fuzz_X build-fuzz/runs/fuzz_X/artifacts/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
ALL=(fuzz_safetensors fuzz_safetensors_index fuzz_config fuzz_tokenizer fuzz_sweep_yaml fuzz_trace)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
B=${FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (make deps installs clang and libclang-rt-dev)"; exit 2; }
if [ ! -f "$B/build.ninja" ]; then
  cmake -S tests/fuzz -B "$B" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang
fi
cmake --build "$B" -j "$JOBS" --target "${TARGETS[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:handle_abort=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
summary=()
for t in "${TARGETS[@]}"; do
  run="$B/runs/$t"
  rm -rf "$run/artifacts"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp -r tests/fuzz/corpus/"$t"/. "$run/corpus/"  # the grown corpus stays in $run between runs; git stays clean
  # Inputs that once crashed a target replay first (tests/fuzz/regressions/<target>/).
  if compgen -G "tests/fuzz/regressions/$t/*" >/dev/null; then
    if ! "$B/$t" -runs=1 tests/fuzz/regressions/"$t"/* >"$run/regressions.log" 2>&1; then
      echo "fuzz: $t: a regression input fails again:"; tail -n 40 "$run/regressions.log"
      failed+=("$t"); continue
    fi
  fi
  echo "fuzz: $t for ${SECONDS_EACH} s"
  rc=0
  "$B/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict=tests/fuzz/dict/"$t".dict -artifact_prefix="$run/artifacts/" "$run/corpus" >"$run/fuzz.log" 2>&1 || rc=$?
  stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$run/fuzz.log" | tail -n 1 || true)
  summary+=("$(printf '%-24s %s' "$t" "${stats:-no final stats (rc $rc)}")")
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t FOUND A PROBLEM (rc $rc); the log's end ($run/fuzz.log):"
    grep -n -m 1 -E 'ERROR: |runtime error|SUMMARY|deadly signal|leak' "$run/fuzz.log" || true
    tail -n 60 "$run/fuzz.log"
    ls -1 "$run"/artifacts/ | sed "s|^|fuzz: reproducer: $B/$t $run/artifacts/|"
    failed+=("$t")
  fi
done
echo "fuzz: final stats (executions, coverage, exec/s):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets, ${SECONDS_EACH} s each: no finding"
