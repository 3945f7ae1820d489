#!/usr/bin/env bash
# usage: sweep_stall.sh AUTODIST CASE OUT_DIR
# A 2-rank sweep of one generate point at pp 2 whose rank 1 stops itself (AUTODIST_FAULT=1:3:stop), so every rank
# is inside the point:
#   comm_timeout  comm_timeout: 4, timeout_s: 600 -> rank 0's wait times out; the point is recorded as failed with
#                 the message naming rank 0 and the recv it waited in
#   timeout_s     comm_timeout: 600, timeout_s: 5 -> the point's watchdog ends it; recorded as failed with "timeout"
# Either way the sweep ends non-zero, its waiting rank sleeping (tests/scripts/stall_test.sh), and trace.h5 holds the
# failed point.
set -euo pipefail
bin=$1; case=$2; out=$3
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/../.." && pwd)
cd "$repo"
rm -rf "$out"; mkdir -p "$out"
case $case in
  comm_timeout) limits="comm_timeout: 4"; top="timeout_s: 600"; want="rank 0: waited [0-9.]+ s in recv from rank 1 \(pipeline" ;;
  timeout_s) limits="comm_timeout: 600"; top="timeout_s: 5"; want="timeout: point .* did not finish within timeout_s = 5 s" ;;
  *) echo "unknown case $case"; exit 2 ;;
esac
cat >"$out/stall.yaml" <<YAML
name: stall
$top
fixed: {model: tests/data/models/qwen3-tiny, prompt_len: 8, output_len: 16, $limits}
grid:
  pp: [2]
YAML
"$repo/tests/scripts/stall_test.sh" 20 "$want" \
  timeout 90 mpirun -np 2 --oversubscribe -x AUTODIST_FAULT=1:3:stop "$bin" sweep --config "$out/stall.yaml" \
  --output-dir "$out"
WANT="$want" "$repo/tests/sweep/py.sh" - "$out/trace.h5" <<'PY'
import os, re, sys, h5py
f = h5py.File(sys.argv[1])
runs = [f["runs"][g].attrs for g in sorted(f["runs"])]
st = [(str(a["name"]), str(a["status"]), str(a["reason"])) for a in runs]
print(st)
assert len(st) == 1, st
assert st[0][0] == "pp=2" and st[0][1] == "failed", st[0]
assert re.search(os.environ["WANT"], st[0][2]), st[0]
PY
