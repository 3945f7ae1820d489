#!/usr/bin/env bash
# A pipeline stage before the last learns the first tokens only when the last stage sends them, so its
# time to first token cannot end before the last stage's step-0 compute does (one host: one steady
# clock). Runs generate at pp 2 with --micro-batches M and checks that order in trace.h5.
#   pp_ttft.sh OUT_DIR MICRO_BATCHES COMMAND...   (COMMAND: mpirun -np 2 autodist generate ... --pp 2)
set -euo pipefail
out=$1 mb=$2
shift 2
rm -rf "$out"
"$@" --micro-batches "$mb" --output-dir "$out" >/dev/null
"$(dirname "$0")/../sweep/py.sh" - "$out/trace.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
run = f["runs"][sorted(f["runs"])[-1]]
ev = run["events"][:]
def ends(rank, phase, step=None):
    return [int(e["t_end_ns"]) for e in ev if e["rank"] == rank and e["phase"].decode() == phase
            and (step is None or e["step"] == step)]
ttft0 = max(ends(0, "prefill"))
last_step0 = max(ends(1, "step", 0))
print(f"rank 0 prefill ends {ttft0}, rank 1 step 0 ends {last_step0}, difference {(ttft0 - last_step0) / 1e3:.1f} us")
assert ttft0 >= last_step0, "rank 0's time to first token ends before the last stage produced the token"
m = run["metrics"][:]
assert all(r["ttft_ms"] > 0 for r in m), m
PY
