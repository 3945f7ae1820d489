#!/usr/bin/env bash
# Checks where the ranks of the last run in TRACE ran (its "hosts" attribute, by logical rank):
#   check_trace_hosts.sh TRACE.h5 TP PP HOSTS
# HOSTS distinct hosts; every tensor-parallel group on one host; with as many stages as hosts or more,
# consecutive stages on different hosts (stages go across hosts).
set -euo pipefail
[ $# = 4 ] || { echo "usage: check_trace_hosts.sh TRACE.h5 TP PP HOSTS" >&2; exit 2; }
exec "$(dirname "$0")/../sweep/py.sh" - "$@" <<'PY'
import sys, h5py
path, tp, pp, want = sys.argv[1], *map(int, sys.argv[2:])
f = h5py.File(path, "r")
run = f["runs"][sorted(f["runs"])[-1]]
h = run.attrs["hosts"]
hosts = (h.decode() if isinstance(h, bytes) else str(h)).split(",")
print(f"{path}: ranks on {hosts}")
assert len(hosts) == tp * pp, f"{len(hosts)} hosts recorded for tp {tp} x pp {pp}"
assert len(set(hosts)) == want, f"{len(set(hosts))} distinct hosts, expected {want}: {hosts}"
stage = [hosts[s * tp:(s + 1) * tp] for s in range(pp)]
for s, g in enumerate(stage):
    assert len(set(g)) == 1, f"tensor-parallel group of stage {s} spans hosts {g}"
if pp >= want:
    for s in range(pp - 1):
        assert stage[s][0] != stage[s + 1][0], f"stages {s} and {s + 1} both on {stage[s][0]}"
print(f"ok: {want} hosts, tp groups on one host each, stages across hosts")
PY
