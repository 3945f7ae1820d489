#!/usr/bin/env bash
# Sweep tests. usage: sweep_test.sh AUTODIST CASE OUT_DIR
#   fixtures   4-rank sweep of configs/sweeps/test_fixtures.yaml; trace.h5 checked by check_trace.py
#   failing    one point's model is broken: recorded as failed, the other point runs, exit 1
#   comm       comm-bench sweep on sub-communicators of 2 and 4 ranks: comm rows checked
#   report     make report on the fixtures sweep's trace: HTML + the expected PNGs
set -euo pipefail
bin=$1; case=$2; out=$3
here=$(cd "$(dirname "$0")" && pwd); repo=$(cd "$here/../.." && pwd)
cd "$repo"
launch=(timeout 300 mpirun -np 4 --oversubscribe)
case $case in
fixtures)
  rm -rf "$out"
  "${launch[@]}" "$bin" sweep --config configs/sweeps/test_fixtures.yaml --output-dir "$out" --chrome-trace
  "$here/py.sh" "$here/check_trace.py" "$out/trace.h5" 20 52
  ls "$out"/trace.*.json | wc -l | grep -qx 20 || { echo "expected 20 chrome traces"; exit 1; }
  ;;
failing)
  rm -rf "$out"; mkdir -p "$out"
  cat >"$out/failing.yaml" <<YAML
name: failing
fixed: {prompt_len: 16, output_len: 4, pp: 2}
grid:
  model: [$out/no-such-model, tests/data/models/qwen3-tiny]
YAML
  set +e
  "${launch[@]}" "$bin" sweep --config "$out/failing.yaml" --output-dir "$out" >"$out/log.txt" 2>&1
  rc=$?
  set -e
  cat "$out/log.txt"
  [ $rc = 1 ] || { echo "expected exit 1 (a point failed), got $rc"; exit 1; }
  "$here/py.sh" - "$out/trace.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1])
runs = [f["runs"][g].attrs for g in sorted(f["runs"])]
st = [(str(a["name"]), str(a["status"]), str(a["reason"])) for a in runs]
print(st)
assert len(st) == 2, st
assert st[0][1] == "failed" and "no-such-model" in st[0][2] and "does not exist" in st[0][2], st[0]
assert st[1][1] == "ok", st[1]
PY
  ;;
comm)
  rm -rf "$out"
  "${launch[@]}" "$bin" sweep --config tests/sweep/comm_small.yaml --output-dir "$out"
  "$here/py.sh" - "$out/trace.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1])
runs = [f["runs"][g] for g in sorted(f["runs"])]
assert len(runs) == 4, len(runs)
for r in runs:
    a = r.attrs
    c = r["comm"][:]
    ops = {o.decode() for o in c["op"]}
    sizes = sorted(set(c["bytes"].tolist()))
    print(a["name"], a["world"], ops, sizes, "busbw max %.3f" % c["busbw"].max())
    assert str(a["status"]) == "ok" and int(a["world"]) in (2, 4)
    assert ops == {str(a["op"]), str(a["op"]) + "/inplace"}, ops  # both placements (docs/trace-format.md)
    assert sizes == [64, 256, 1024, 4096, 16384, 65536], sizes
    assert (c["time_us"] > 0).all() and (c["busbw"] > 0).all() and (c["wrong"] == 0).all()
PY
  ;;
report)
  rm -rf "$out"
  make -s -C "$repo" report DIR="$(dirname "$out")/sweep_fixtures" REPORT_OUT="$out"
  for f in index.html fig_timeline.png fig_decode.png fig_sp_prefill.png; do
    [ -s "$out/$f" ] || { echo "missing $out/$f"; exit 1; }
  done
  for f in "$out"/*.png; do head -c 8 "$f" | od -An -c | grep -q "P   N   G" || { echo "$f is not a PNG"; exit 1; }; done
  grep -q "fig_timeline.png" "$out/index.html" && grep -q "72" "$out/index.html"
  echo "report: $(ls "$out")"
  ;;
*) echo "unknown case $case"; exit 2 ;;
esac
