#!/usr/bin/env bash
# Runs comm-bench with --check and --output-dir, then requires comm_bench.csv to hold a checked row
# (wrong == 0, t_min <= t_avg <= t_max > 0) for every OP:PLACEMENT given, and no others.
#   comm_bench_csv.sh OUT_DIR "OP:PLACEMENT ..." COMMAND...   (COMMAND: mpirun ... autodist comm-bench ...)
set -euo pipefail
out=$1 want=$2
shift 2
rm -rf "$out"
"$@" --check --output-dir "$out"
csv=$out/comm_bench.csv
[[ -f $csv ]] || { echo "no $csv"; exit 1; }
awk -F, -v want="$want" '
  NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
  {
    key = $col["op"] ":" $col["placement"]; seen[key] = 1
    t = $col["time_us"] + 0; a = $col["time_avg_us"] + 0; m = $col["time_min_us"] + 0
    if ($col["wrong"] != "0") { print "unchecked or wrong row: " $0; bad = 1 }
    if (!(t > 0 && m <= a && a <= t)) { print "times out of order (min <= avg <= max): " $0; bad = 1 }
    if ($col["iters"] < 1) { print "no iterations: " $0; bad = 1 }
  }
  END {
    n = split(want, w, " ")
    for (i = 1; i <= n; ++i) { if (!(w[i] in seen)) { print "missing rows of " w[i]; bad = 1 }; delete seen[w[i]] }
    for (k in seen) { print "unexpected rows of " k; bad = 1 }
    if (bad) exit 1
    print "comm_bench_csv: every expected op and placement checked clean"
  }' "$csv"
