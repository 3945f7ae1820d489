#!/usr/bin/env bash
# compare_imb.sh --report on two made-up rounds of Allreduce 1 MiB: IMB 100 / 300 us, comm-bench's call 115 / 345,
# its bare call 90 / 900. The median (of two: their mean) and the best round must give the ratios worked out here.
#   compare_imb_report.sh SCRIPT WORK_DIR
set -euo pipefail
script=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir"
round() {  # N IMB_TMAX COMM_TMAX RAW_TMAX
  local d=$dir/round$1
  mkdir -p "$d/all_reduce_1048576"
  printf '# Benchmarking Allreduce\n# #processes = 2\n       #bytes #repetitions  t_min[usec]  t_max[usec]  t_avg[usec]\n      1048576          400  %s  %s  %s\n' \
    "$2" "$2" "$2" >"$d/imb.txt"
  printf 'backend,ranks,op,placement,size_bytes,time_us,time_avg_us,raw_time_us,raw_time_avg_us\n' \
    >"$d/all_reduce_1048576/comm_bench.csv"
  printf 'mpi,2,all_reduce,out-of-place,1048576,%s,%s,%s,%s\nmpi,2,all_reduce,in-place,1048576,1,1,1,1\n' \
    "$3" "$3" "$4" "$4" >>"$d/all_reduce_1048576/comm_bench.csv"
}
round 1 100 115 900
round 2 300 345 90
out=$("$script" --report "$dir" --stat median)
echo "$out"
# median: IMB 200, comm 230 (1.150), raw 495 (2.475)
grep -Eq '^Allreduce +all_reduce +1048576 +200\.00 +230\.00 +1\.150 +495\.00 +2\.475' <<<"$out" ||
  { echo "FAIL: median row"; exit 1; }
grep -q "communicator 0 of 1, bare MPI call 0 of 1" <<<"$out" || { echo "FAIL: median count"; exit 1; }
out=$("$script" --report "$dir" --stat best)
echo "$out"
# best: IMB 100 (round 1), comm 115 (round 1), raw 90 (round 2)
grep -Eq '^Allreduce +all_reduce +1048576 +100\.00 +115\.00 +1\.150 +90\.00 +0\.900' <<<"$out" ||
  { echo "FAIL: best row"; exit 1; }
grep -q "communicator 0 of 1, bare MPI call 1 of 1" <<<"$out" || { echo "FAIL: best count"; exit 1; }
if "$script" --report "$dir" --stat mean 2>/dev/null; then echo "FAIL: --stat mean accepted"; exit 1; fi
echo "compare_imb --report: ok"
