#!/usr/bin/env bash
# comm-bench next to Intel MPI Benchmarks (IMB-MPI1) on the same ranks and sizes, in paired,
# interleaved rounds (IMB first in odd rounds, comm-bench first in even ones), so that whatever else
# the machine does distorts both sides alike. Prints, per matching operation and size, the median
# over rounds of t_max and t_avg on both sides and their ratio (comm-bench / IMB), for two things
# comm-bench times: the communicator's call (what the engine uses; its own algorithms where they beat
# Open MPI's, src/dist/mpi_small.h and docs/comm-bench.md) and, with --baseline, the bare MPI call
# (MPI_Allreduce, ...: the same call IMB times, so its ratio measures the harness alone).
#
#   scripts/compare_imb.sh IMB_SRC [--np N] [--rounds R] [--sizes 8,64K,1M,16M] [--bin AUTODIST]
#                          [--out DIR] [--mpirun "mpirun --oversubscribe"] [--stat median|best]
#   scripts/compare_imb.sh --report DIR [--np N] [--stat median|best]   (the table of DIR's rounds, nothing run)
#
# --stat best: each side's least disturbed round (the least t_max, and its t_avg) instead of the median. On the
# 2-core VM Open MPI's own MPI_Allreduce of 1 MiB ran at 140-180 us or at 450-1100 us from one launch, or one size,
# to the next, in IMB (160-800 us) and in comm-bench alike, with the same binding and without ASLR: a state of the
# machine, not of either harness, that a median of five rounds samples by luck.
#
# IMB_SRC is a source tree of https://github.com/intel/mpi-benchmarks that you fetch yourself (we
# ship none of its code); it is copied into DIR and built there with mpicc/mpicxx (IMB's own flags).
# Sizes follow IMB: for Allgather, Gather, Scatter and Reduce_scatter_block IMB's size is one rank's
# block, so comm-bench runs at N x size (its size column is the larger buffer, as nccl-tests).
# comm-bench runs with its defaults (automatic iterations, MPI thread level single, as IMB); the
# out-of-place columns are compared (IMB uses separate buffers), broadcast's one buffer as it is.
# IMB runs with -iter 1000,400: up to 400 MB per sample instead of 40, so that its 16 MiB rows
# average 25 repetitions rather than 2.
# Both sides run with GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4096 (override with MALLOC_ENV=...): IMB mallocs
# its buffers, and a heap-placed 64 KiB buffer made Open MPI's shared-memory copies run in one of two modes, ~12 us
# or ~50 us (IMB Gather/Allgather at 64 KiB), where fresh mmapped buffers, like comm-bench's page-aligned ones, ran
# at 13-15 us in every run measured.
# Writes DIR/compare_imb.csv. Exit 0 unless a run fails: this is a measurement, not a test.
set -euo pipefail
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 2; }
[[ $# -ge 1 && ( $1 != -* || $1 == --report ) ]] || usage
REPORT=""
if [[ $1 == --report ]]; then
  [[ $# -ge 2 && -d $2 ]] || { echo "compare_imb: --report needs the folder of an earlier run"; exit 2; }
  REPORT=$(realpath "$2"); shift 2
else
  IMB_SRC=$(cd "$1" && pwd); shift
fi
NP=2 ROUNDS=5 SIZES=8,64K,1M,16M BIN=build/autodist OUT=build/compare_imb MPIRUN=${MPIRUN:-mpirun --oversubscribe}
STAT=median
while [[ $# -gt 0 ]]; do
  case $1 in
    --np) NP=$2 ;; --rounds) ROUNDS=$2 ;; --sizes) SIZES=$2 ;; --bin) BIN=$2 ;; --out) OUT=$2 ;;
    --mpirun) MPIRUN=$2 ;; --stat) STAT=$2 ;; *) usage ;;
  esac
  shift 2
done
[[ $STAT == median || $STAT == best ]] || { echo "compare_imb: --stat is median or best, got '$STAT'"; exit 2; }
if [[ -n $REPORT ]]; then
  OUT=$REPORT
  ROUNDS=$(find "$OUT" -maxdepth 1 -name 'round*' -type d | wc -l)
  (( ROUNDS > 0 )) || { echo "compare_imb: no round folders in $OUT"; exit 2; }
fi
if [[ -z $REPORT ]]; then  # the runs (not with --report)
[[ -x $BIN ]] || { echo "compare_imb: $BIN is not an executable autodist (build it, or pass --bin)"; exit 2; }
[[ -f $IMB_SRC/src_cpp/Makefile ]] || { echo "compare_imb: $IMB_SRC is not an IMB source tree (no src_cpp/Makefile)"; exit 2; }
BIN=$(realpath "$BIN")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
MALLOC_ENV=${MALLOC_ENV-GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4096}
[[ -z $MALLOC_ENV ]] || export "${MALLOC_ENV?}"
mkdir -p "$OUT" && OUT=$(realpath "$OUT") && rm -rf "$OUT"/round*

# Build IMB-MPI1 once (OMPI_SKIP_MPICXX: Open MPI's C++ bindings do not compile under IMB's -Werror).
IMB=$OUT/imb/IMB-MPI1
if [[ ! -x $IMB ]]; then
  rm -rf "$OUT/imb" && cp -r "$IMB_SRC" "$OUT/imb"
  echo "# building IMB-MPI1 in $OUT/imb (log: $OUT/imb_build.log)"
  make -C "$OUT/imb" IMB-MPI1 CC=mpicc CXX=mpicxx CPPFLAGS=-DOMPI_SKIP_MPICXX=1 >"$OUT/imb_build.log" 2>&1 ||
    { tail -20 "$OUT/imb_build.log"; echo "compare_imb: the IMB build failed"; exit 1; }
fi

bytes() { local s=$1 m=1; case $s in *K) m=1024 ;; *M) m=1048576 ;; *G) m=1073741824 ;; esac; echo $(( ${s%[KMG]} * m )); }
LENS=() MAXB=1
for s in ${SIZES//,/ }; do b=$(bytes "$s"); LENS+=("$b"); (( b > MAXB )) && MAXB=$b; done
MSGLOG=0; while (( (1 << MSGLOG) < MAXB * NP )); do MSGLOG=$((MSGLOG + 1)); done

# One process per (operation, size) on both sides: Open MPI's small-message latency rises about 3x
# for the rest of a process once large messages have gone through (measured: IMB Sendrecv 8 B 0.35 us
# first, 0.9-1.0 us for the 8 B rows of every benchmark after it), so a run's later rows would
# depend on what ran before them.
IMB_OPS=(Sendrecv Bcast Reduce Allreduce Allgather Reduce_scatter_block Gather Scatter)
OUR_OPS=(sendrecv broadcast reduce all_reduce all_gather reduce_scatter gather scatter)
BLOCK=(0 0 0 0 1 1 1 1)  # IMB's size is one rank's block
run_imb() {  # $1: round folder
  local b k
  for b in "${LENS[@]}"; do
    echo "$b" >"$1/len$b"
    for k in "${!IMB_OPS[@]}"; do
      $MPIRUN -np "$NP" "$IMB" -npmin "$NP" -msglog "$MSGLOG" -msglen "$1/len$b" -iter 1000,400 "${IMB_OPS[k]}" \
        >>"$1/imb.txt" 2>&1 ||
        { tail -20 "$1/imb.txt"; echo "compare_imb: IMB-MPI1 failed"; exit 1; }
    done
  done
  $MPIRUN -np "$NP" "$IMB" -npmin "$NP" Barrier >>"$1/imb.txt" 2>&1 || { tail -20 "$1/imb.txt"; exit 1; }
}
run_ours() {  # $1: round folder
  local b k s
  for b in "${LENS[@]}"; do
    for k in "${!OUR_OPS[@]}"; do
      s=$(( BLOCK[k] ? b * NP : b ))
      $MPIRUN -np "$NP" "$BIN" comm-bench --baseline --op "${OUR_OPS[k]}" -b "$s" -e "$s" --output-dir "$1/${OUR_OPS[k]}_$b" \
        >>"$1/ours.txt" 2>&1 || { tail -20 "$1/ours.txt"; echo "compare_imb: comm-bench failed"; exit 1; }
    done
  done
  $MPIRUN -np "$NP" "$BIN" comm-bench --baseline --op barrier --output-dir "$1/barrier" >>"$1/ours.txt" 2>&1 ||
    { tail -20 "$1/ours.txt"; exit 1; }
}

echo "# $ROUNDS paired rounds, $NP ranks, sizes ${LENS[*]} bytes; IMB: $IMB; comm-bench: $BIN"
for r in $(seq 1 "$ROUNDS"); do
  d=$OUT/round$r && mkdir -p "$d"
  if (( r % 2 )); then run_imb "$d"; run_ours "$d"; else run_ours "$d"; run_imb "$d"; fi
  echo "#   round $r done"
done

fi

python3 - "$OUT" "$NP" "$ROUNDS" "$STAT" <<'EOF'
import csv, glob, re, statistics, sys
out, n, rounds, stat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# IMB benchmark -> (comm-bench op, IMB's size is one rank's block)
OPS = {"Sendrecv": ("sendrecv", False), "Bcast": ("broadcast", False), "Reduce": ("reduce", False),
       "Allreduce": ("all_reduce", False), "Allgather": ("all_gather", True),
       "Reduce_scatter_block": ("reduce_scatter", True), "Gather": ("gather", True),
       "Scatter": ("scatter", True), "Barrier": ("barrier", False)}
imb, ours, raw = {}, {}, {}  # (IMB name, IMB bytes) -> [(t_max, t_avg) per round]
for r in range(1, rounds + 1):
    bench = None
    for line in open(f"{out}/round{r}/imb.txt"):
        m = re.match(r"# Benchmarking (\S+)", line)
        if m:
            bench = m.group(1)
            continue
        f = line.split()
        if bench not in OPS or not f or not re.fullmatch(r"[0-9.]+", f[0]):
            continue
        size, tmax, tavg = (0, float(f[2]), float(f[3])) if bench == "Barrier" else (int(f[0]), float(f[3]), float(f[4]))
        imb.setdefault((bench, size), []).append((tmax, tavg))
    for path in glob.glob(f"{out}/round{r}/*/comm_bench.csv"):
        for row in csv.DictReader(open(path)):
            for bench, (op, block) in OPS.items():
                if op != row["op"] or (row["placement"] == "in-place" and op != "broadcast"):
                    continue
                size = int(row["size_bytes"]) // (n if block else 1)
                ours.setdefault((bench, size), []).append((float(row["time_us"]), float(row["time_avg_us"])))
                raw.setdefault((bench, size), []).append((float(row["raw_time_us"]), float(row["raw_time_avg_us"])))
print(f"\n# {'median' if stat == 'median' else 'least t_max (and its t_avg)'} over {rounds} rounds; ratio = comm-bench / IMB; sizes are IMB's (per-rank block for "
      "Allgather, Gather, Scatter, Reduce_scatter_block); 'comm' is the communicator's call, 'raw' the bare MPI call "
      "timed by comm-bench (--baseline)")
def med(v, i):
    if stat == "best":
        return min(v)[i]  # the round of the least t_max
    return statistics.median(x[i] for x in v)
ratio = lambda b, a: b / a if a > 0 else float("nan")
hdr = ["IMB op", "comm-bench op", "bytes", "IMB t_max", "comm", "ratio", "raw", "ratio", "IMB t_avg", "comm", "ratio",
       "raw", "ratio"]
fmt_h = "{:<21} {:<15} {:>9}" + " {:>10} {:>10} {:>6} {:>10} {:>6}" * 2
fmt_r = "{:<21} {:<15} {:>9}" + " {:>10.2f} {:>10.2f} {:>6.3f} {:>10.2f} {:>6.3f}" * 2
print(fmt_h.format(*hdr))
rows, within = [], {"comm": 0, "raw": 0}
for (bench, size), v in sorted(imb.items(), key=lambda kv: (list(OPS).index(kv[0][0]), kv[0][1])):
    w, z = ours.get((bench, size)), raw.get((bench, size))
    if not w:
        continue
    row = [bench, OPS[bench][0], size]
    for i in (0, 1):
        a, b, c = med(v, i), med(w, i), med(z, i)
        row += [a, b, ratio(b, a), c, ratio(c, a)]
    within["comm"] += abs(row[5] - 1) <= 0.1 and abs(row[10] - 1) <= 0.1
    within["raw"] += abs(row[7] - 1) <= 0.1 and abs(row[12] - 1) <= 0.1
    rows.append(row)
    print(fmt_r.format(*row))
with open(f"{out}/compare_imb.csv", "w", newline="") as f:
    csv.writer(f).writerows([["imb_op", "op", "bytes", "imb_tmax_us", "tmax_us", "tmax_ratio", "raw_tmax_us",
                              "raw_tmax_ratio", "imb_tavg_us", "tavg_us", "tavg_ratio", "raw_tavg_us",
                              "raw_tavg_ratio"]] + rows)
print(f"# rows with t_max and t_avg within 10% of IMB: communicator {within['comm']} of {len(rows)}, "
      f"bare MPI call {within['raw']} of {len(rows)}; table: {out}/compare_imb.csv")
EOF
