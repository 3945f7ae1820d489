#!/usr/bin/env bash
# usage: stall_test.sh [--stop-rank R --after REGEX] [--max-cpu PCT] MAX_S REGEX CMD...
# A job in which one rank stops (SIGSTOP) must end by itself (--comm-timeout), without its peers burning a core:
#   - CMD runs in the background (an mpirun of autodist); with --stop-rank, rank R gets SIGSTOP once CMD's output
#     matches the --after REGEX; otherwise a rank stops itself (AUTODIST_FAULT=RANK:STEP:stop);
#   - once a rank is stopped, the CPU time (utime + stime, /proc/PID/stat) of the lowest running rank over 2 s must
#     stay under PCT % of the wall time (default 30);
#   - CMD must then exit non-zero (not 124: a `timeout` inside CMD saw a hang) within MAX_S seconds of the stop, and
#     its output match REGEX.
# The ranks are found by a marker in their environment; any left over are killed at the end.
set -u
stop_rank=""; after=""; max_cpu=30
while [ $# -gt 0 ]; do
  case $1 in
    --stop-rank) stop_rank=$2; shift 2 ;;
    --after) after=$2; shift 2 ;;
    --max-cpu) max_cpu=$2; shift 2 ;;
    *) break ;;
  esac
done
max_s=$1; re=$2; shift 2
id="stall$$.$RANDOM"
export AUTODIST_STALL_TEST=$id
log=$(mktemp); trap 'rm -f "$log"' EXIT

# pid rank state, one line per autodist rank of this test
ranks() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = autodist ] || continue
    local env; env=$(tr '\0' '\n' <"$p/environ" 2>/dev/null) || continue
    grep -qx "AUTODIST_STALL_TEST=$id" <<<"$env" || continue
    local r; r=$(grep -m1 '^OMPI_COMM_WORLD_RANK=' <<<"$env" | cut -d= -f2)
    local st; st=$(sed 's/.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f1)
    echo "${p#/proc/} ${r:-0} $st"
  done | sort -k2 -n
}
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
cleanup() { ranks | while read -r p _ _; do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done; }
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$log"; cleanup; exit 1; }

"$@" >"$log" 2>&1 &
job=$!
t0=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) - $1" | bc; }

if [ -n "$stop_rank" ]; then
  until grep -Eq -- "$after" "$log"; do
    kill -0 $job 2>/dev/null || fail "the job ended before its output matched /$after/"
    [ "$(echo "$(elapsed "$t0") > 120" | bc)" = 1 ] && fail "no /$after/ in the output after 120 s"
    sleep 0.05
  done
  pid=$(ranks | awk -v r="$stop_rank" '$2 == r {print $1; exit}')
  [ -n "$pid" ] || fail "no process of rank $stop_rank found"
  kill -STOP "$pid"
fi
# Wait for a stopped rank.
until ranks | awk '$3 == "T" {f = 1} END {exit !f}'; do
  kill -0 $job 2>/dev/null || fail "the job ended before any rank stopped"
  [ "$(echo "$(elapsed "$t0") > 120" | bc)" = 1 ] && fail "no rank stopped after 120 s"
  sleep 0.05
done
ts=$(date +%s.%N)
stopped=$(ranks | awk '$3 == "T" {print $2; exit}')
peer=$(ranks | awk '$3 != "T" {print $1; exit}')
[ -n "$peer" ] || fail "no running rank beside the stopped one"
c0=$(cpu_ticks "$peer"); w0=$(date +%s.%N)
sleep 2
c1=$(cpu_ticks "$peer"); w1=$(date +%s.%N)
if [ -n "$c0" ] && [ -n "$c1" ]; then
  pct=$(echo "($c1 - $c0) * 100 / $(getconf CLK_TCK) / ($w1 - $w0)" | bc -l)
  printf 'rank %s stopped; a waiting peer (pid %s) used %.1f%% of a core over %.1f s\n' "$stopped" "$peer" "$pct" \
    "$(echo "$w1 - $w0" | bc)"
  [ "$(echo "$pct < $max_cpu" | bc)" = 1 ] || fail "the waiting peer used ${pct}% of a core (limit ${max_cpu}%)"
else
  fail "the waiting peer ended within 2 s of the stop; use a longer --comm-timeout so its CPU can be measured"
fi
wait $job; rc=$?
took=$(elapsed "$ts")
cleanup
[ $rc -ne 0 ] || fail "expected a failure, got exit 0"
[ $rc -ne 124 ] || fail "timed out (hang)"
[ "$(echo "$took <= $max_s" | bc)" = 1 ] || fail "the job took ${took} s after the stop to end (limit ${max_s} s)"
grep -Eq -- "$re" "$log" || fail "exit $rc but the output does not match /$re/"
printf 'ok: exit %s %.1f s after the stop: %s\n' "$rc" "$took" "$(grep -Em1 -- "$re" "$log")"
