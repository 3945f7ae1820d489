#!/usr/bin/env bash
# Benchmark (not a test): how the namespace cluster's links carry data, unshaped and shaped with tc tbf.
#   tests/cluster/measure_links.sh [AUTODIST] [OUT_CSV]   (defaults: build/autodist, runs/cluster/links.csv)
# For each rate (RATES, default "off 1gbit 100mbit"): 2 hosts, 1 rank each, `autodist comm-bench` at SIZE (default
# 16M) between them: broadcast (one way: h0 sends SIZE to h1) and sendrecv (both ranks send and receive SIZE at once:
# each direction carries SIZE). Prints a table: rate, op, time, bandwidth per direction (size / time) against the rate
# asked for; writes the CSV.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-$repo/build/autodist}
out=${2:-$repo/runs/cluster/links.csv}
size=${SIZE:-16M}
mkdir -p "$(dirname "$out")"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
echo "rate,op,size_bytes,iters,time_us,gbit_s_per_direction,rate_gbit_s,fraction" >"$out"
printf '%-8s %-10s %10s %6s %12s %14s %8s\n' rate op size iters time_us "Gbit/s/dir" "of rate"
for rate in ${RATES:-off 1gbit 100mbit}; do
  tmp=$(mktemp -d)
  rargs=(); [ "$rate" = off ] || rargs=(--rate "$rate")
  # shellcheck disable=SC2016  # expanded by the inner shell, under with_cluster.sh
  "$here/with_cluster.sh" 2 --slots 1 "${rargs[@]}" -- bash -c 'timeout 300 mpirun -np 2 $MPIRUN_ARGS "$0" comm-bench \
      -o broadcast,sendrecv -b "$1" -e "$1" --output-dir "$2" >"$2/log" 2>&1' "$bin" "$size" "$tmp" 2>/dev/null
  rc=$?
  if [ $rc != 0 ]; then echo "$rate: failed (exit $rc): $(tail -n 3 "$tmp/log" 2>/dev/null)"; rm -rf "$tmp"; [ $rc = 77 ] && exit 77; continue; fi
  rows=$(awk -F, -v rate="$rate" 'NR > 1 && !seen[$3]++ {  # the first placement of each op
      r = tolower(rate); n = r + 0; u = substr(r, length(n "") + 1)
      gbit = (u ~ /^g/) ? n : (u ~ /^m/) ? n / 1000 : (u ~ /^k/) ? n / 1e6 : 0
      bw = $5 * 8 / $12 / 1000    # bytes per us -> Gbit/s
      frac = (gbit > 0) ? sprintf("%.2f", bw / gbit) : "-"
      printf "%s,%s,%d,%d,%.1f,%.4f,%s,%s\n", rate, $3, $5, $10, $12, bw, (gbit > 0) ? gbit : "", frac }' "$tmp/comm_bench.csv")
  echo "$rows" >>"$out"
  while IFS=, read -r r op sz it t bw _ frac; do
    printf '%-8s %-10s %10s %6s %12s %14s %8s\n' "$r" "$op" "$sz" "$it" "$t" "$bw" "$frac"
  done <<<"$rows"
  rm -rf "$tmp"
done
echo "wrote $out"
