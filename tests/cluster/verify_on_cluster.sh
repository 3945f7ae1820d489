#!/usr/bin/env bash
# verify_parallel.sh on a 2-host namespace cluster, then the hosts of the run in its trace.
#   verify_on_cluster.sh AUTODIST MODEL SINGLE_DUMP TP PP [verify args]
# Run it under with_cluster.sh (MPIRUN_ARGS and AD_CLUSTER_* set). Compares with the single-rank logits only
# (ONLY_SINGLE=1); the trace.h5 of the run must record the ranks on the cluster's hosts (check_trace_hosts.sh).
set -euo pipefail
[ -n "${AD_CLUSTER_DIR:-}" ] || { echo "verify_on_cluster.sh: run it under tests/cluster/with_cluster.sh" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
tp=$4 pp=$5
out=$(mktemp -d /tmp/verify-cluster.XXXXXX)
trap 'rm -rf "$out"' EXIT
nhosts=$(wc -w <<<"$AD_CLUSTER_HOSTS")
t0=$SECONDS
ONLY_SINGLE=1 "$here/../scripts/verify_parallel.sh" "$@" --output-dir "$out"
echo "verify on $nhosts hosts ($AD_CLUSTER_HOSTS, links ${AD_CLUSTER_RATE}): $((SECONDS - t0)) s"
"$here/check_trace_hosts.sh" "$out/trace.h5" "$tp" "$pp" "$nhosts"
