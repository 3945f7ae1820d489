#!/usr/bin/env bash
# The data channels a run chose (--comm, src/dist/data_channels.h) in its log and its trace, on the cpu:
# tp 2 x pp 2 under --comm auto and --comm mpi take mpi on both groups, the log line and the trace's `comm` and
# `comm_reason` say so and why. usage: data_channels.sh AUTODIST MODEL MPIRUN...
set -euo pipefail
bin=$1; model=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for comm in auto mpi; do
  log=$work/$comm.log
  timeout 120 "$@" -np 4 "$bin" generate --model "$model" --tp 2 --pp 2 --prompt-ids 1,2,3 --max-output-length 2 \
    --comm $comm --output-dir "$work/$comm" --log-level info >"$log" 2>&1 || { cat "$log"; fail "--comm $comm"; }
  if [ $comm = auto ]; then want="tp mpi (ranks 0, 1 on the cpu); pp mpi (ranks 0, 1 on the cpu)"
  else want="tp mpi (--comm mpi); pp mpi (--comm mpi)"; fi
  grep -qF "data channels: $want" "$log" || { cat "$log"; fail "--comm $comm: no log line 'data channels: $want'"; }
  "$here/../sweep/py.sh" - "$work/$comm/trace.h5" "$want" <<'PY' || fail "--comm $comm: trace attributes"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
(g,) = f["runs"].values()
attr = lambda k: g.attrs[k].decode() if isinstance(g.attrs[k], bytes) else str(g.attrs[k])
assert attr("comm") == "mpi", attr("comm")
assert attr("comm_reason") == sys.argv[2], attr("comm_reason")
print("trace: comm", attr("comm"), "|", attr("comm_reason"))
PY
done
echo "data channels ok"
